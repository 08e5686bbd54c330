package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The page and the OpenAPI document are embedded so the binary is the
// whole deployment: no build step, no files to ship next to it.

//go:embed web/index.html
var pageHTML []byte

//go:embed openapi.json
var openAPIJSON []byte

// OpenAPI returns the OpenAPI 3 document served at /openapi.json.
func OpenAPI() []byte { return openAPIJSON }

func (s *Server) page(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "text/html; charset=utf-8", pageHTML)
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/json", openAPIJSON)
}
