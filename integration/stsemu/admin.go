package stsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// commaList accepts a JSON list of strings or one comma-separated string
// (RAM's API passes ClientIds and Fingerprints comma-separated).
type commaList []string

func (l *commaList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = nil
		for _, p := range strings.Split(one, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*l = append(*l, p)
			}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("expected a list of strings or a comma-separated string")
	}
	*l = many
	return nil
}

type createBody struct {
	Name              string    `json:"OIDCProviderName"`
	IssuerURL         string    `json:"IssuerUrl"`
	ClientIDs         commaList `json:"ClientIds"`
	Fingerprints      commaList `json:"Fingerprints"`
	IssuanceLimitTime int       `json:"IssuanceLimitTime"`
	Description       string    `json:"Description"`
}

type updateBody struct {
	AddClientIDs       commaList `json:"AddClientIds"`
	RemoveClientIDs    commaList `json:"RemoveClientIds"`
	AddFingerprints    commaList `json:"AddFingerprints"`
	RemoveFingerprints commaList `json:"RemoveFingerprints"`
	IssuanceLimitTime  int       `json:"IssuanceLimitTime"`
	Description        *string   `json:"Description"`
}

// adminProviders serves GET (list) and POST (create) /admin/oidc-providers.
func (s *Server) adminProviders(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"RequestId": newRequestID(), "OIDCProviders": s.ListProviders()})
	case http.MethodPost:
		var b createBody
		if e := decodeAdmin(r, &b); e != nil {
			s.writeError(w, r, e)
			return
		}
		p, err := s.CreateProvider(Provider{Name: b.Name, IssuerURL: b.IssuerURL, ClientIDs: b.ClientIDs,
			Fingerprints: b.Fingerprints, IssuanceLimitTime: b.IssuanceLimitTime, Description: b.Description})
		s.adminReply(w, r, http.StatusCreated, p, err)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

// adminProvider serves GET, PATCH and DELETE /admin/oidc-providers/{name}.
func (s *Server) adminProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch r.Method {
	case http.MethodGet:
		p, err := s.GetProvider(name)
		s.adminReply(w, r, http.StatusOK, p, err)
	case http.MethodPatch:
		var b updateBody
		if e := decodeAdmin(r, &b); e != nil {
			s.writeError(w, r, e)
			return
		}
		p, err := s.UpdateProvider(name, ProviderUpdate{AddClientIDs: b.AddClientIDs, RemoveClientIDs: b.RemoveClientIDs,
			AddFingerprints: b.AddFingerprints, RemoveFingerprints: b.RemoveFingerprints,
			IssuanceLimitTime: b.IssuanceLimitTime, Description: b.Description})
		s.adminReply(w, r, http.StatusOK, p, err)
	case http.MethodDelete:
		if err := s.DeleteProvider(name); err != nil {
			s.adminReply(w, r, 0, Provider{}, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"RequestId": newRequestID()})
	default:
		methodNotAllowed(w, "GET, PATCH, DELETE")
	}
}

func (s *Server) adminReply(w http.ResponseWriter, r *http.Request, status int, p Provider, err error) {
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = apiErr(http.StatusInternalServerError, "InternalError", "%v", err)
		}
		s.writeError(w, r, ae)
		return
	}
	writeJSON(w, status, map[string]any{"RequestId": newRequestID(), "OIDCProvider": p})
}

func decodeAdmin(r *http.Request, v any) *APIError {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// INVENTED code for the JSON admin API.
		return apiErr(http.StatusBadRequest, "InvalidParameter.Body", "The request body is not valid JSON for this action: %v.", err)
	}
	return nil
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{RequestID: newRequestID(), Code: "UnsupportedHTTPMethod",
		Message: fmt.Sprintf("This action supports %s only.", allow)})
}
