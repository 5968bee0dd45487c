package api

import (
	"encoding/csv"
	"mime"
	"net/http"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// wantsCSV reports whether the caller asked for CSV, by format=csv or by an
// Accept header that prefers text/csv.
func wantsCSV(r *http.Request) (bool, error) {
	switch r.URL.Query().Get("format") {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, errkind.Field("format", "must be json or csv")
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true, nil
		}
	}
	return false, nil
}

// writeCSV writes a header row and rows as RFC 4180 CSV. Cells that a
// spreadsheet would run as a formula are prefixed with a quote (CSV
// injection, OWASP).
func writeCSV(w http.ResponseWriter, r *http.Request, name string, header []string, rows [][]string, next string) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	if next != "" {
		q := r.URL.Query()
		q.Set("cursor", next)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for _, row := range rows {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				row[i] = "'" + cell
			}
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}
