package console

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/keys"
)

// The signing keys partners trust, per purpose: the active key, the next
// one published ahead of its use, and keys retired within the grace
// period. Read-only here; rotation stays with the REST API. Both protocols
// sign with RS256 today, so those are the keys shown.

type keyGroup struct {
	Purpose string
	Keys    []keyView
}

type keyView struct {
	certView
	ID        string
	Algorithm string
	Created   string
	Activated string
	Retired   string
}

func (h *Handler) listSigningKeys(q *req) error {
	var groups []keyGroup
	for _, purpose := range keys.Purposes {
		ks, err := h.Keys.Published(q.ctx(), q.tenant.ID, purpose, keys.RS256)
		if err != nil {
			return err
		}
		g := keyGroup{Purpose: purpose}
		for _, k := range ks {
			cv, err := certOf(&k)
			if err != nil {
				return err
			}
			v := keyView{certView: cv, ID: string(k.ID), Algorithm: k.Algorithm, Created: when(k.Created)}
			if !k.Activated.IsZero() {
				v.Activated = when(k.Activated)
			}
			if !k.Retired.IsZero() {
				v.Retired = when(k.Retired)
			}
			g.Keys = append(g.Keys, v)
		}
		groups = append(groups, g)
	}
	h.render(q, http.StatusOK, "signing_keys", pageData{Title: "Signing keys", Data: groups})
	return nil
}
