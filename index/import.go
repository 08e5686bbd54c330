package index

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"

	bdoc "github.com/blevesearch/bleve/v2/document"
	"github.com/schollz/progressbar/v3"
)

// MaxLineBytes bounds one NDJSON line (items may carry long embeddings).
const MaxLineBytes = 64 << 20

// ImportOptions tunes Import.
type ImportOptions struct {
	// BatchSize is the number of items written per Bleve batch (default 500).
	BatchSize int
	// Progress receives a progress bar; nil means silent.
	Progress io.Writer
	// GCPercent, when > 0 and the GOGC environment variable is not set,
	// is the garbage collector's target (debug.SetGCPercent) while the
	// import runs and the live heap is under gcLiveMax; the previous
	// setting comes back after. Bleve allocates about 70 KB per item
	// indexed, mostly short-lived, so a higher target trades memory for
	// less collector work (neo import uses 400).
	GCPercent int
}

// gcLiveMax is the live heap above which an import's GCPercent gives way
// to the previous setting, so that the heap of a large import stays
// bounded (at most about (GCPercent/100+1)·gcLiveMax under it).
const gcLiveMax = 1 << 30

// gcTuner applies and withdraws ImportOptions.GCPercent.
type gcTuner struct {
	old    int
	on     bool
	sample []metrics.Sample
}

func newGCTuner(pct int) *gcTuner {
	g := &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	if pct > 0 && os.Getenv("GOGC") == "" {
		g.old, g.on = debug.SetGCPercent(pct), true
	}
	return g
}

// check withdraws the setting once the live heap passes gcLiveMax.
func (g *gcTuner) check() {
	if !g.on {
		return
	}
	metrics.Read(g.sample)
	if s := g.sample[0].Value; s.Kind() == metrics.KindUint64 && s.Uint64() > gcLiveMax {
		g.stop()
	}
}

func (g *gcTuner) stop() {
	if g.on {
		debug.SetGCPercent(g.old)
		g.on = false
	}
}

// ImportReport says what an import did.
type ImportReport struct {
	Lines    int         `json:"lines"`    // non-blank lines read
	Imported int         `json:"imported"` // items written
	Bad      []LineError `json:"bad"`      // lines left out, in line order
}

// LineError is one bad NDJSON line. Line counts from 1, blank lines
// included; ID is the record's id when it had a readable one.
type LineError struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

func (e *LineError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("line %d: item %q: %s", e.Line, e.ID, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Import reads items.ndjson records from r and writes them in batches,
// inserting new items and replacing existing ones. Bad lines (invalid JSON,
// a missing id or type, a field of the wrong kind, an id seen earlier in
// the input, an SID that another item keeps) are reported and skipped while
// the good ones go in; blank lines are ignored. An SID may move between
// items within one input (SIDs reassigned and re-imported): the check is
// against the catalog as it is after the import. Each batch is durable
// when written (see the package documentation); the SID snapshot catches up
// when the import ends.
//
// The error is non-nil only when the import could not go on (a read or
// index failure, a line over MaxLineBytes, ctx cancelled); the report then
// covers what was done.
func (c *Catalog) Import(ctx context.Context, r io.Reader, opt ImportOptions) (ImportReport, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	im := &importer{
		c:       c,
		opt:     opt,
		state:   map[string]*importLine{},
		sidLine: map[string]*importLine{},
	}
	im.gc = newGCTuner(opt.GCPercent)
	defer im.gc.stop()
	cr := &countingReader{r: r}
	im.bar = newBar(opt.Progress, r)
	err := im.run(ctx, cr)
	if im.bar != nil {
		_ = im.bar.Set64(cr.n)
		_ = im.bar.Finish()
		fmt.Fprintln(opt.Progress)
	}
	slices.SortFunc(im.rep.Bad, func(a, b LineError) int { return a.Line - b.Line })
	if im.rep.Imported > 0 && c.snap.Load() != nil {
		err = errors.Join(err, c.Rebuild())
	}
	return im.rep, err
}

// ImportInto opens the on-disk catalog in dir (creating it, as Open
// does), imports r into it and closes it.
func ImportInto(ctx context.Context, dir string, r io.Reader, opt ImportOptions) (ImportReport, error) {
	c, err := Open(dir)
	if err != nil {
		return ImportReport{}, err
	}
	rep, err := c.Import(ctx, r, opt)
	return rep, errors.Join(err, c.Close())
}

// newBar returns a byte progress bar sized to r when r is a file, nil when
// w is nil.
func newBar(w io.Writer, r io.Reader) *progressbar.ProgressBar {
	if w == nil {
		return nil
	}
	size := int64(-1)
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("import"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
	)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// importLine is a good line of the input, remembered for the id and SID
// checks.
type importLine struct {
	line   int
	item   Item
	doc    *bdoc.Document // made by the reader; nil once written
	docErr error
	status lineStatus
	// owner is the item that holds this line's SID in the index, when the
	// line waits for that item's own line to move it off the SID.
	owner string
}

type lineStatus int

const (
	queued  lineStatus = iota // read, not yet checked
	written                   // in the index (or in the batch being written)
	pending                   // waits for owner
	rejected
)

type importer struct {
	c     *Catalog
	gc    *gcTuner
	opt   ImportOptions
	bar   *progressbar.ProgressBar
	rep   ImportReport
	batch []*importLine
	// state has every id of the input by its first good line; sidLine the
	// line that claims each SID.
	state   map[string]*importLine
	sidLine map[string]*importLine
	pending []*importLine
}

// readChunk is what the reader goroutine hands to the importer: up to
// readChunkSize good or bad non-blank lines, the input bytes read so far,
// and, on the last chunk, the error that ended the input (nil at EOF).
type readChunk struct {
	recs []readRec
	read int64
	err  error
	last bool
}

// readRec is one non-blank line: the item, or why it is bad, and the Bleve
// document of a good item (or why it could not be made).
type readRec struct {
	line   int
	item   Item
	err    error
	doc    *bdoc.Document
	docErr error
}

const readChunkSize = 256

// run reads the input in a goroutine of its own, which scans, parses and
// maps each line to its Bleve document while the importer checks and
// writes the lines before it; the checks and writes stay in input order.
func (im *importer) run(ctx context.Context, cr *countingReader) error {
	rctx, cancel := context.WithCancel(ctx)
	ch := make(chan readChunk, 4)
	go im.read(rctx, cr, ch)
	defer func() {
		cancel()
		for range ch { // wait for the reader to stop
		}
	}()
	for chunk := range ch {
		for i := range chunk.recs {
			if err := im.take(ctx, &chunk.recs[i]); err != nil {
				return err
			}
		}
		if im.bar != nil {
			_ = im.bar.Set64(chunk.read)
		}
		if chunk.err != nil {
			return chunk.err
		}
		if chunk.last {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := im.flush(); err != nil {
		return err
	}
	return im.resolvePending()
}

// take checks one line and adds it to the batch, writing the batch when
// it is full.
func (im *importer) take(ctx context.Context, rec *readRec) error {
	im.rep.Lines++
	it := rec.item
	if rec.err != nil {
		im.bad(rec.line, it.ID, rec.err.Error())
		return nil
	}
	if first, ok := im.state[it.ID]; ok {
		im.bad(rec.line, it.ID, "duplicate id (first on line "+strconv.Itoa(first.line)+")")
		return nil
	}
	if it.SID != "" {
		if other, ok := im.sidLine[it.SID]; ok {
			im.bad(rec.line, it.ID, fmt.Sprintf("duplicate sid %s (item %q on line %d has it)", it.SID, other.item.ID, other.line))
			return nil
		}
	}
	l := &importLine{line: rec.line, item: it, doc: rec.doc, docErr: rec.docErr}
	im.state[it.ID] = l
	if it.SID != "" {
		im.sidLine[it.SID] = l
	}
	im.batch = append(im.batch, l)
	if len(im.batch) >= im.opt.BatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		return im.flush()
	}
	return nil
}

// read scans cr into chunks of parsed lines until the input ends or ctx
// is done, then closes ch.
func (im *importer) read(ctx context.Context, cr *countingReader, ch chan<- readChunk) {
	defer close(ch)
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	n := 0
	var recs []readRec
	send := func(c readChunk) bool {
		c.recs, c.read = recs, cr.n
		recs = make([]readRec, 0, readChunkSize)
		select {
		case ch <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 BOM
		}
		if len(line) == 0 {
			continue
		}
		rec := readRec{line: n}
		rec.item, rec.err = parseItem(line)
		if rec.err == nil {
			rec.doc, rec.docErr = im.c.bleveDocument(&rec.item)
		}
		recs = append(recs, rec)
		if len(recs) == readChunkSize && !send(readChunk{}) {
			return
		}
	}
	var err error
	if err = sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("index: import: line %d is longer than %d bytes", n+1, MaxLineBytes)
		} else {
			err = fmt.Errorf("index: import: %w", err)
		}
	}
	send(readChunk{err: err, last: true})
}

// bleveDocument maps an item to the document Bleve indexes, as
// Batch.Index would.
func (c *Catalog) bleveDocument(it *Item) (*bdoc.Document, error) {
	data, err := document(it)
	if err != nil {
		return nil, err
	}
	doc := bdoc.NewDocument(it.ID)
	if err := c.idx.Mapping().MapDocument(doc, data); err != nil {
		return nil, err
	}
	return doc, nil
}

func (im *importer) bad(line int, id, reason string) {
	im.rep.Bad = append(im.rep.Bad, LineError{Line: line, ID: id, Reason: reason})
}

// flush writes the batch's lines whose SIDs are free. A line whose SID
// another item holds in the index waits (pending) when that item may still
// move off it: its line comes later, or is itself pending.
func (im *importer) flush() error {
	if len(im.batch) == 0 {
		return nil
	}
	c := im.c
	c.mu.Lock()
	defer c.mu.Unlock()
	owners, err := c.sidOwners(im.sids(im.batch))
	if err != nil {
		return fmt.Errorf("index: import: %w", err)
	}
	var ready []*importLine
	for _, l := range im.batch {
		if err := c.admitAttributes(&l.item); err != nil {
			l.status, l.doc = rejected, nil
			if l.item.SID != "" {
				delete(im.sidLine, l.item.SID)
			}
			im.bad(l.line, l.item.ID, strings.TrimPrefix(err.Error(), "index: "))
			continue
		}
		switch im.check(l, owners[l.item.SID]) {
		case written:
			ready = append(ready, l)
		case pending:
			im.pending = append(im.pending, l)
		}
	}
	im.batch = im.batch[:0]
	im.gc.check()
	return im.write(ready)
}

// check decides a line's status given the item holding its SID in the
// index ("" when none), marking it rejected when the SID stays taken.
func (im *importer) check(l *importLine, owner string) lineStatus {
	if owner == "" || owner == l.item.ID {
		l.status = written
		return written
	}
	switch o, ok := im.state[owner]; {
	case ok && o.status == rejected:
		im.reject(l, owner, " keeps it: its line was rejected")
	case !ok || o.status == pending || o.status == queued:
		// The owner's line may come later, or wait itself.
		l.status, l.owner = pending, owner
	default: // the owner's line was written, with another SID
		l.status = written
	}
	return l.status
}

// resolvePending decides the waiting lines once the whole input is read:
// a line goes in when the item holding its SID moved off it. What is left
// after the chains settle are cycles of items swapping SIDs, which all go
// in.
func (im *importer) resolvePending() error {
	for changed := true; changed; {
		changed = false
		for _, l := range im.pending {
			if l.status != pending {
				continue
			}
			switch o, ok := im.state[l.owner]; {
			case !ok:
				im.reject(l, l.owner, " has it")
				changed = true
			case o.status == rejected:
				im.reject(l, l.owner, " keeps it: its line was rejected")
				changed = true
			case o.status == written:
				l.status, changed = written, true
			}
		}
	}
	var todo []*importLine
	for _, l := range im.pending {
		if l.status != rejected {
			todo = append(todo, l)
		}
	}
	im.pending = nil
	if len(todo) == 0 {
		return nil
	}
	// Writers outside the import may have taken an SID meanwhile: check
	// again, now against owners that are not moving within the input.
	c := im.c
	c.mu.Lock()
	defer c.mu.Unlock()
	owners, err := c.sidOwners(im.sids(todo))
	if err != nil {
		return fmt.Errorf("index: import: %w", err)
	}
	var ready []*importLine
	for _, l := range todo {
		o := owners[l.item.SID]
		if s, ok := im.state[o]; o == "" || o == l.item.ID || ok && s.status != rejected && s.item.SID != l.item.SID {
			l.status = written
			ready = append(ready, l)
			continue
		}
		im.reject(l, o, " has it")
	}
	for len(ready) > 0 {
		n := min(len(ready), im.opt.BatchSize)
		if err := im.write(ready[:n]); err != nil {
			return err
		}
		ready = ready[n:]
	}
	return nil
}

// reject marks a line bad because owner keeps its SID.
func (im *importer) reject(l *importLine, owner, why string) {
	l.status, l.doc = rejected, nil
	delete(im.sidLine, l.item.SID)
	im.bad(l.line, l.item.ID, fmt.Sprintf("duplicate sid %s (item %q%s)", l.item.SID, owner, why))
}

func (im *importer) sids(lines []*importLine) []string {
	var out []string
	for _, l := range lines {
		if l.item.SID != "" {
			out = append(out, l.item.SID)
		}
	}
	return out
}

// write indexes lines as one batch. c.mu must be held.
func (im *importer) write(lines []*importLine) error {
	if len(lines) == 0 {
		return nil
	}
	c := im.c
	b := c.idx.NewBatch()
	for _, l := range lines {
		if l.doc == nil && l.docErr == nil {
			l.doc, l.docErr = c.bleveDocument(&l.item)
		}
		if l.docErr != nil {
			return fmt.Errorf("index: import: line %d: %w", l.line, l.docErr)
		}
		if err := b.IndexAdvanced(l.doc); err != nil {
			return fmt.Errorf("index: import: line %d: %w", l.line, err)
		}
	}
	if err := c.idx.Batch(b); err != nil {
		return fmt.Errorf("index: import: %w", err)
	}
	for _, l := range lines {
		if c.touched != nil {
			c.touched[l.item.ID] = struct{}{}
		}
		// Keep only what the SID checks need.
		l.item, l.doc = Item{ID: l.item.ID, SID: l.item.SID}, nil
	}
	im.rep.Imported += len(lines)
	return nil
}
