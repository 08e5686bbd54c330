package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin"
)

// Error codes. Every error answer is {"error":{"code":CODE,"message":...}};
// the code is stable and meant for programs, the message for people.
const (
	CodeBadJSON         = "bad_json"         // 400: body is not the JSON the endpoint takes
	CodeMissingField    = "missing_field"    // 400: a required field is absent or empty
	CodeInvalidArgument = "invalid_argument" // 400: a field has a value out of its domain
	CodeKOutOfRange     = "k_out_of_range"   // 400: k < 1 or above --max-k
	CodeMaxTokens       = "max_tokens_out_of_range"
	CodeHistoryTooLong  = "history_too_long" // 400: more history items than --max-history
	CodeBadFilter       = "bad_filter"       // 400: filter is neither a query string nor a Bleve JSON query
	CodeBadQuery        = "bad_query"        // 400: _search query does not parse or validate
	CodeBadTimeout      = "bad_timeout"      // 400: ?timeout= is not a duration
	CodeInvalidItem     = "invalid_item"     // 400: a catalog item fails index.ParseItem
	CodeIDMismatch      = "id_mismatch"      // 400: body id differs from the URL id
	CodeEmptyBody       = "empty_body"       // 400
	CodeUnauthorized    = "unauthorized"     // 401: missing or wrong bearer key
	CodeWritesDisabled  = "writes_disabled"  // 403: no API key configured
	CodeNotFound        = "not_found"        // 404: no such route
	CodeIndexNotFound   = "index_not_found"  // 404: index name is not the catalog's
	CodeDocNotFound     = "document_not_found"
	CodeMethod          = "method_not_allowed" // 405
	CodeConflict        = "conflict"           // 409: the item's SID belongs to another item
	CodeBodyTimeout     = "body_timeout"       // 408: the body did not arrive within --body-timeout
	CodeBodyTooLarge    = "body_too_large"     // 413
	CodeOverloaded      = "overloaded"         // 429 queue full / 503 queue wait ran out
	CodeNotReady        = "not_ready"          // 503: no model loaded
	CodeTimeout         = "timeout"            // 504: the request's deadline passed
	CodeCanceled        = "canceled"           // 499: the client went away
	CodeInternal        = "internal"           // 500
)

// retryAfter is what overload answers tell clients to wait, in seconds.
const retryAfter = 1

// apiError is an error with its HTTP status and code.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int // seconds; 0 = no Retry-After header
	Err        error
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }
func (e *apiError) Unwrap() error { return e.Err }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(code, format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, code, format, args...)
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// toAPIError maps any error a handler returns to its answer: engine and
// catalog errors by their sentinels, context errors to timeout/canceled,
// echo's own errors (404, 405, 413) to ours; anything else is a 500.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		switch he.Code {
		case http.StatusNotFound:
			return errf(he.Code, CodeNotFound, "no such route")
		case http.StatusMethodNotAllowed:
			return errf(he.Code, CodeMethod, "method not allowed on this route")
		case http.StatusRequestEntityTooLarge:
			return errf(he.Code, CodeBodyTooLarge, "%s", msg)
		case http.StatusUnauthorized:
			return errf(he.Code, CodeUnauthorized, "%s", msg)
		}
		if he.Code >= 400 && he.Code < 500 {
			return errf(he.Code, CodeInvalidArgument, "%s", msg)
		}
		return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, plugin.ErrBadRequest):
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidArgument, Message: err.Error(), Err: err}
	case errors.Is(err, index.ErrInvalidItem):
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidItem, Message: err.Error(), Err: err}
	case errors.Is(err, index.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: CodeDocNotFound, Message: err.Error(), Err: err}
	case errors.Is(err, index.ErrDuplicateSID):
		return &apiError{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error(), Err: err}
	case errors.Is(err, plugin.ErrOverloaded):
		return &apiError{Status: http.StatusTooManyRequests, Code: CodeOverloaded, Message: "the decoder queue is full; retry later", RetryAfter: retryAfter, Err: err}
	case errors.Is(err, plugin.ErrNotReady):
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodeNotReady, Message: err.Error(), RetryAfter: 5, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Code: CodeTimeout, Message: "the request did not finish within its timeout", Err: err}
	case errors.Is(err, context.Canceled):
		// 499 (nginx's "client closed request"): nobody reads it, but the
		// logs and metrics tell cancellations apart from failures.
		return &apiError{Status: 499, Code: CodeCanceled, Message: "request canceled", Err: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// writeError sends err as the JSON error body, unless an answer has
// already started (then there is nothing left to say over HTTP).
func writeError(c echo.Context, err error) {
	if c.Response().Committed {
		return
	}
	ae := toAPIError(err)
	h := c.Response().Header()
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	if ae.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="neo"`)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	_ = c.JSON(ae.Status, errorBody{Error: errorDetail{Code: ae.Code, Message: ae.Message}})
}
