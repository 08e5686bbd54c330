package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/labstack/echo/v4"
)

// bleve-explorer's mapping editor asks for the analyzers and date-time
// parsers it may offer: the registry's built-in ones plus those an index
// mapping in the body defines (an empty body: none). The answers have the
// explorer's shape, {"status": "ok", "analyzers": [...]}.

func (s *Server) analyzerNames(c echo.Context) error {
	m, err := s.bodyMapping(c)
	if err != nil {
		return err
	}
	_, names := registry.AnalyzerTypesAndInstances()
	for n := range m.CustomAnalysis.Analyzers {
		names = append(names, n)
	}
	sort.Strings(names)
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "analyzers": names})
}

func (s *Server) datetimeParserNames(c echo.Context) error {
	m, err := s.bodyMapping(c)
	if err != nil {
		return err
	}
	_, names := registry.DateTimeParserTypesAndInstances()
	for n := range m.CustomAnalysis.DateTimeParsers {
		names = append(names, n)
	}
	sort.Strings(names)
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "datetime_parsers": names})
}

// bodyMapping reads an optional index mapping from the request body.
func (s *Server) bodyMapping(c echo.Context) (*mapping.IndexMappingImpl, error) {
	body, err := s.body(c, s.cfg.Limits.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	m := mapping.NewIndexMapping()
	if b := bytes.TrimSpace(body); len(b) > 0 {
		if err := json.Unmarshal(b, m); err != nil {
			return nil, badRequest(CodeBadJSON, "want an index mapping (JSON object) or an empty body: %s", jsonMessage(err))
		}
	}
	return m, nil
}
