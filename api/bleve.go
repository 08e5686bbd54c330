package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/labstack/echo/v4"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/assign"
)

// The Bleve-compatible routes follow bleve's HTTP handlers (bleve-explorer):
// same paths, same request and answer bodies, so a Bleve HTTP client works
// unchanged. Differences: errors are JSON ({"error":{...}}), documents are
// neo catalog items (validated by index.ParseItem), and _bulk is added.

// CodeSearchFailed is a _search that parsed but failed to execute (500).
const CodeSearchFailed = "search_failed"

// checkIndex answers 404 for any index name but the catalog's.
func (s *Server) checkIndex(c echo.Context) error {
	if name := c.Param("index"); name != s.cfg.IndexName {
		return errf(http.StatusNotFound, CodeIndexNotFound, "no such index %q (this server serves %q)", clip(name), s.cfg.IndexName)
	}
	return nil
}

type statusOK struct {
	Status string `json:"status"`
}

func (s *Server) listIndexes(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "indexes": []string{s.cfg.IndexName}})
}

func (s *Server) indexInfo(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "name": s.cfg.IndexName, "mapping": s.cfg.Catalog.Bleve().Mapping()})
}

func (s *Server) count(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	n, err := s.cfg.Catalog.Bleve().DocCount()
	if err != nil {
		return fmt.Errorf("counting documents: %w", err)
	}
	return c.JSON(http.StatusOK, struct {
		Status string `json:"status"`
		Count  uint64 `json:"count"`
	}{"ok", n})
}

func (s *Server) fields(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	f, err := s.cfg.Catalog.Bleve().Fields()
	if err != nil {
		return fmt.Errorf("listing fields: %w", err)
	}
	if f == nil {
		f = []string{}
	}
	return c.JSON(http.StatusOK, map[string][]string{"fields": f})
}

func (s *Server) bleveSearch(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	body, err := s.body(c, s.cfg.Limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	sr, err := s.dec.searchRequest(body)
	if err != nil {
		return err
	}
	res, err := s.cfg.Catalog.Bleve().SearchInContext(c.Request().Context(), sr)
	if err != nil {
		// Engine sentinels and deadlines keep their status; anything else
		// is an execution failure that, like Bleve, we describe.
		if ae := toAPIError(err); ae.Status != http.StatusInternalServerError {
			return ae
		}
		return &apiError{Status: http.StatusInternalServerError, Code: CodeSearchFailed, Message: "error executing query: " + err.Error(), Err: err}
	}
	if ctxErr := c.Request().Context().Err(); ctxErr != nil {
		return ctxErr
	}
	// Hits name the index by its API name, not its directory on disk.
	for _, h := range res.Hits {
		h.Index = s.cfg.IndexName
	}
	return c.JSON(http.StatusOK, res)
}

// docID returns the :docID path parameter, decoded once: echo matches on
// the raw path when it holds an escaped slash ("a%2Fb"), and then hands
// the parameter over still escaped; otherwise it is already decoded. An id
// must be valid UTF-8.
func docID(c echo.Context) (string, error) {
	id := c.Param("docID")
	if c.Request().URL.RawPath != "" {
		u, err := url.PathUnescape(id)
		if err != nil {
			return "", badRequest(CodeInvalidArgument, "document id %q: %v", clip(id), err)
		}
		id = u
	}
	if strings.TrimSpace(id) == "" {
		return "", badRequest(CodeMissingField, "document id cannot be empty")
	}
	if !utf8.ValidString(id) {
		return "", badRequest(CodeInvalidArgument, "document id is not valid UTF-8")
	}
	return id, nil
}

// Doc is the answer of GET /api/{index}/{docID}: Bleve's {id, fields}
// (stored fields by name, as Bleve's handler answers) plus the catalog
// item itself, in the form PUT takes.
type Doc struct {
	ID     string         `json:"id"`
	Fields map[string]any `json:"fields"`
	Item   index.Item     `json:"item"`
}

func (s *Server) docGet(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	id, err := docID(c)
	if err != nil {
		return err
	}
	it, ok, err := s.cfg.Catalog.Get(id)
	if err != nil {
		return fmt.Errorf("reading document %q: %w", id, err)
	}
	if !ok {
		return errf(http.StatusNotFound, CodeDocNotFound, "no such document %q", clip(id))
	}
	// A doc-id search with fields ["*"] gives the stored fields decoded
	// the way Bleve's own handler decodes them.
	sr := bleve.NewSearchRequest(query.NewDocIDQuery([]string{id}))
	sr.Fields = []string{"*"}
	fields := map[string]any{}
	if res, err := s.cfg.Catalog.Bleve().SearchInContext(c.Request().Context(), sr); err == nil && len(res.Hits) > 0 && res.Hits[0].Fields != nil {
		fields = res.Hits[0].Fields
		delete(fields, index.FieldSource) // the item below is the same, decoded
	}
	it.Embedding = nil // bulky and not useful over HTTP
	return c.JSON(http.StatusOK, Doc{ID: id, Fields: fields, Item: it})
}

// docPut indexes one catalog item. The id may be left out of the body
// (the URL names it); if present it must match.
func (s *Server) docPut(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	id, err := docID(c)
	if err != nil {
		return err
	}
	body, err := s.body(c, s.cfg.Limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	it, hasSID, err := parseDoc(id, body)
	if err != nil {
		return err
	}
	code, err := s.putItem(it, hasSID)
	if err != nil {
		return err
	}
	s.m.writes.WithLabelValues("put").Inc()
	ans := map[string]string{"status": "ok", "id": id}
	if code != "" && !hasSID {
		ans["sid"] = code
	}
	return c.JSON(http.StatusOK, ans)
}

// putItem writes it, the one write path of PUT and _bulk. A record without
// "sid" (hasSID false) keeps the item's SID (the GET → edit → PUT of a
// Bleve client must not take the item out of generation); "sid": ""
// clears it. A new type cannot keep an SID of the old one. An item left
// without an SID gets one from the Coder when there is one. It returns the
// SID the item was written with ("" for none). The caller answers only
// after putItem returned: an acknowledged write is in the catalog.
func (s *Server) putItem(it index.Item, hasSID bool) (string, error) {
	if err := s.checkSID(it, hasSID); err != nil {
		return "", err
	}
	it = s.settleSID(it, hasSID)
	if it.SID == "" && !hasSID && s.cfg.Coder != nil {
		code, err := s.cfg.Coder.Put(it)
		if err == nil {
			return code, nil
		}
		if !errors.Is(err, assign.ErrCannotCode) {
			return "", err
		}
		s.log.Warn("item written without an SID", "id", it.ID, "reason", err)
	}
	if err := s.cfg.Catalog.Put(it); err != nil {
		return "", err
	}
	return it.SID, nil
}

// checkSID refuses an SID that the write names and the loaded model
// cannot write (no model: nothing to check against).
func (s *Server) checkSID(it index.Item, hasSID bool) error {
	if c, ok := s.cfg.Generator.(SIDChecker); ok && hasSID && it.SID != "" {
		return c.CheckSID(it.SID)
	}
	return nil
}

// settleSID gives a record without "sid" the SID its item has now (same
// type), as putItem does before it codes what is left; an SID the loaded
// model cannot write (one written by neo import, say) is not kept, so the
// coder gives the item one it can.
func (s *Server) settleSID(it index.Item, hasSID bool) index.Item {
	if !hasSID {
		if old, ok, err := s.cfg.Catalog.Get(it.ID); err == nil && ok && old.SID != "" && old.Type == it.Type &&
			s.checkSID(old, true) == nil {
			it.SID = old.SID
		}
	}
	return it
}

// bulkBatch is the most put lines of a _bulk written as one batch.
const bulkBatch = 500

// parseDoc checks a PUT body against the URL id and parses it strictly;
// hasSID says whether the body has a "sid" field.
func parseDoc(id string, body []byte) (_ index.Item, hasSID bool, _ error) {
	var m map[string]json.RawMessage
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return index.Item{}, false, badRequest(CodeEmptyBody, "request body is empty; want a catalog item (JSON object)")
	}
	if b[0] != '{' {
		return index.Item{}, false, badRequest(CodeBadJSON, "want a catalog item (JSON object)")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return index.Item{}, false, badRequest(CodeBadJSON, "%s", jsonMessage(err))
	}
	if raw, ok := m["id"]; ok && string(bytes.TrimSpace(raw)) != "null" {
		var bodyID string
		if err := json.Unmarshal(raw, &bodyID); err != nil {
			return index.Item{}, false, badRequest(CodeInvalidItem, "field \"id\": want a string")
		}
		if bodyID != id {
			return index.Item{}, false, badRequest(CodeIDMismatch, "body id %q differs from the URL's %q", clip(bodyID), clip(id))
		}
	}
	idJSON, _ := json.Marshal(id)
	m["id"] = idJSON
	full, err := json.Marshal(m)
	if err != nil {
		return index.Item{}, false, badRequest(CodeBadJSON, "%s", jsonMessage(err))
	}
	it, err := index.ParseItem(full)
	if err != nil {
		return index.Item{}, false, badRequest(CodeInvalidItem, "%v", err)
	}
	_, hasSID = m[index.FieldSID]
	return it, hasSID, nil
}

func (s *Server) docDelete(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	id, err := docID(c)
	if err != nil {
		return err
	}
	// Catalog.Delete answers index.ErrNotFound for a missing id (→ 404).
	if err := s.cfg.Catalog.Delete(id); err != nil {
		return err
	}
	s.m.writes.WithLabelValues("delete").Inc()
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "id": id})
}

// bulkOp is one _bulk line: an item to index, or {"delete": "id"}.
type bulkOp struct {
	Delete string
	Item   index.Item
	HasSID bool // the item line has a "sid" field
}

// decodeBulkLine parses one NDJSON line of a _bulk body.
func decodeBulkLine(line []byte) (bulkOp, error) {
	line = bytes.TrimSpace(line)
	var m map[string]json.RawMessage
	if len(line) > 0 && line[0] == '{' {
		var del struct {
			Delete *string `json:"delete"`
		}
		if json.Unmarshal(line, &m) == nil && len(m) == 1 && m["delete"] != nil {
			if err := json.Unmarshal(line, &del); err != nil || del.Delete == nil || strings.TrimSpace(*del.Delete) == "" {
				return bulkOp{}, badRequest(CodeInvalidArgument, "a delete line is {\"delete\": \"<item id>\"}")
			}
			return bulkOp{Delete: *del.Delete}, nil
		}
	}
	it, err := index.ParseItem(line)
	if err != nil {
		return bulkOp{}, badRequest(CodeInvalidItem, "%v", err)
	}
	_, hasSID := m["sid"]
	return bulkOp{Item: it, HasSID: hasSID}, nil
}

// BulkResult is one line's outcome in a _bulk answer.
type BulkResult struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Op     string `json:"op,omitempty"` // put or delete
	Status string `json:"status"`       // ok or error
	// SID is the SID a put line without one was given (assign.Coder).
	SID   string       `json:"sid,omitempty"`
	Error *errorDetail `json:"error,omitempty"`
}

// BulkAnswer is the answer of POST /api/{index}/_bulk.
type BulkAnswer struct {
	Status  string       `json:"status"` // ok, partial or failed
	Lines   int          `json:"lines"`
	OK      int          `json:"ok"`
	Failed  int          `json:"failed"`
	TookMS  float64      `json:"took_ms"`
	Results []BulkResult `json:"results"`
}

// bulk applies NDJSON lines in order, each acknowledged in the answer only
// after its catalog call returned. A bad line fails alone; when the
// request's deadline passes, the rest are reported as not done.
func (s *Server) bulk(c echo.Context) error {
	if err := s.checkIndex(c); err != nil {
		return err
	}
	body, err := s.body(c, s.cfg.Limits.MaxBulkBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest(CodeEmptyBody, "request body is empty; want NDJSON catalog items, one per line")
	}
	ctx := c.Request().Context()
	start := time.Now()
	ans := BulkAnswer{Results: []BulkResult{}}
	fail := func(r *BulkResult, err error) {
		ae := toAPIError(err)
		r.Status, r.Error = "error", &errorDetail{Code: ae.Code, Message: ae.Message}
		ans.Failed++
		if ae.Code == CodeInternal {
			s.log.Error("bulk line failed", "line", r.Line, "id", r.ID, "err", err)
		}
	}
	ok := func(r *BulkResult, op string) {
		r.Status = "ok"
		ans.OK++
		s.m.writes.WithLabelValues(op).Inc()
	}
	// Consecutive puts whose SID is settled go to the catalog as one batch
	// (one durable write); a delete, a put the coder must give an SID, or
	// the end writes the batch first, so lines take effect in order.
	var batch []index.Item
	var batchAt []int           // their results
	inBatch := map[string]int{} // id → its latest line in batch
	flush := func() {
		if len(batch) == 0 {
			return
		}
		for k, err := range s.cfg.Catalog.PutMany(batch) {
			r := &ans.Results[batchAt[k]]
			if err != nil {
				fail(r, err)
			} else {
				ok(r, "put")
			}
		}
		batch, batchAt = batch[:0], batchAt[:0]
		clear(inBatch)
	}
	for i, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ans.Lines++
		ans.Results = append(ans.Results, BulkResult{Line: i + 1})
		at := len(ans.Results) - 1
		r := &ans.Results[at]
		if err := ctx.Err(); err != nil {
			fail(r, err)
			continue
		}
		op, err := decodeBulkLine(line)
		switch {
		case err != nil:
			fail(r, err)
		case op.Delete != "":
			flush()
			r = &ans.Results[at]
			r.ID, r.Op = op.Delete, "delete"
			if err := s.cfg.Catalog.Delete(op.Delete); err != nil {
				fail(r, err)
			} else {
				ok(r, "delete")
			}
		default:
			r.ID, r.Op = op.Item.ID, "put"
			if err := s.checkSID(op.Item, op.HasSID); err != nil {
				fail(r, err)
				continue
			}
			if _, pending := inBatch[op.Item.ID]; pending && !op.HasSID {
				flush() // the SID to keep is the one an unwritten line gives
				r = &ans.Results[at]
			}
			it := s.settleSID(op.Item, op.HasSID)
			if it.SID == "" && !op.HasSID && s.cfg.Coder != nil {
				flush() // the coder writes at once; earlier lines first
				r = &ans.Results[at]
				if code, err := s.putItem(op.Item, op.HasSID); err != nil {
					fail(r, err)
				} else {
					r.SID = code
					ok(r, "put")
				}
				continue
			}
			if !op.HasSID {
				r.SID = it.SID
			}
			inBatch[it.ID] = len(batch)
			batch, batchAt = append(batch, it), append(batchAt, at)
			if len(batch) >= bulkBatch {
				flush()
			}
		}
	}
	flush()
	switch {
	case ans.Failed == 0:
		ans.Status = "ok"
	case ans.OK == 0:
		ans.Status = "failed"
	default:
		ans.Status = "partial"
	}
	ans.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return c.JSON(http.StatusOK, ans)
}
