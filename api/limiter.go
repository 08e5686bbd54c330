package api

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// limiter bounds concurrent work: at most cap(slots) requests execute,
// at most maxQueue wait for a slot, and a waiter gives up after
// queueWait. Everything past that is answered at once (429), so an
// overloaded server sheds load instead of piling up goroutines and
// timing out everybody.
type limiter struct {
	slots     chan struct{}
	maxQueue  int64
	queueWait time.Duration
	queued    atomic.Int64
	m         *MetricSet
}

func newLimiter(inflight, queue int, wait time.Duration, m *MetricSet) *limiter {
	return &limiter{slots: make(chan struct{}, inflight), maxQueue: int64(queue), queueWait: wait, m: m}
}

// acquire takes a slot or fails with an overload error; release must be
// called once when it succeeds.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	release = func() {
		<-l.slots
		l.m.inflight.Dec()
	}
	select {
	case l.slots <- struct{}{}:
		l.m.inflight.Inc()
		return release, nil
	default:
	}
	if l.queued.Add(1) > l.maxQueue {
		l.queued.Add(-1)
		l.m.rejected.WithLabelValues("queue_full").Inc()
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: CodeOverloaded,
			Message: "server is at capacity (all execution slots busy and the queue full); retry later", RetryAfter: retryAfter}
	}
	l.m.queue.Inc()
	defer func() {
		l.queued.Add(-1)
		l.m.queue.Dec()
	}()
	t := time.NewTimer(l.queueWait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		l.m.inflight.Inc()
		return release, nil
	case <-t.C:
		l.m.rejected.WithLabelValues("queue_timeout").Inc()
		return nil, &apiError{Status: http.StatusServiceUnavailable, Code: CodeOverloaded,
			Message: "server is at capacity: no execution slot freed up in " + l.queueWait.String() + "; retry later", RetryAfter: retryAfter}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
