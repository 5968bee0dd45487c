package api

import (
	_ "embed"
	"fmt"
	"net/http"

	"github.com/tessera-iam/tessera/internal/errkind"
)

//go:embed openapi.json
var openapiJSON []byte

var errNoRoute = fmt.Errorf("no such API route: %w", errkind.NotFound)

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openapiJSON)
	return err
}
