package api

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"time"

	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/web"
)

// Signing keys of the SAML IdP and the OpenID Provider: what partners must
// trust (the active key, the next one published ahead of its use, and keys
// retired within the grace period), and their rotation. Private keys never
// leave the server.

type signingKeyJSON struct {
	ID          string  `json:"id"`
	Purpose     string  `json:"purpose"`
	Algorithm   string  `json:"algorithm"`
	State       string  `json:"state"`
	Certificate string  `json:"certificate"`        // PEM
	Fingerprint string  `json:"fingerprint_sha256"` // AB:CD:..., as SAML consoles show it
	CreatedAt   string  `json:"created_at"`
	ActivatedAt *string `json:"activated_at"`
	RetiredAt   *string `json:"retired_at"`
	NotAfter    string  `json:"not_after"`
}

func signingKeyView(k *keys.SigningKey) (signingKeyJSON, error) {
	cert, err := k.ParseCertificate()
	if err != nil {
		return signingKeyJSON{}, fmt.Errorf("certificate of signing key %s: %w", k.ID, err)
	}
	return signingKeyJSON{ID: string(k.ID), Purpose: k.Purpose, Algorithm: k.Algorithm, State: k.State,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate})),
		Fingerprint: k.Fingerprint(), CreatedAt: k.Created.UTC().Format(time.RFC3339Nano),
		ActivatedAt: timeText(k.Activated), RetiredAt: timeText(k.Retired), NotAfter: cert.NotAfter.UTC().Format(time.RFC3339)}, nil
}

func (a *API) listSigningKeys(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, "purpose", "algorithm"); err != nil {
		return err
	}
	q := r.URL.Query()
	ks, err := a.Keys.Published(r.Context(), scope(r).Tenant, q.Get("purpose"), q.Get("algorithm"))
	if err != nil {
		return err
	}
	views := make([]signingKeyJSON, len(ks))
	for i := range ks {
		if views[i], err = signingKeyView(&ks[i]); err != nil {
			return err
		}
	}
	return writeList(w, r, views, "")
}

func (a *API) rotateSigningKeys(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Purpose   string `json:"purpose"`
		Algorithm string `json:"algorithm"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	rot, err := a.Keys.Rotate(r.Context(), scope(r), in.Purpose, in.Algorithm)
	if err != nil {
		return err
	}
	var out struct {
		Retired signingKeyJSON `json:"retired"`
		Active  signingKeyJSON `json:"active"`
		Next    signingKeyJSON `json:"next"`
	}
	for _, v := range []struct {
		dst *signingKeyJSON
		k   *keys.SigningKey
	}{{&out.Retired, &rot.Retired}, {&out.Active, &rot.Active}, {&out.Next, &rot.Next}} {
		if *v.dst, err = signingKeyView(v.k); err != nil {
			return err
		}
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}
