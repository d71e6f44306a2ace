package stsemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// APIError is an error as the emulator answers it: an Alibaba-style code,
// message and HTTP status. The Go methods return it too.
type APIError struct {
	// HTTPStatus is the status the HTTP API answers with.
	HTTPStatus int
	// Code is the Alibaba error code, e.g. InvalidParameter.ClientIds.
	Code string
	// Message is the human-readable text.
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.HTTPStatus)
}

func apiErr(status int, code, format string, args ...any) *APIError {
	return &APIError{HTTPStatus: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the common Alibaba error body (docs/PROTOCOL.md §2.5).
type errorBody struct {
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	Recommend string `json:"Recommend"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *APIError) {
	writeJSON(w, e.HTTPStatus, errorBody{
		RequestID: newRequestID(),
		HostID:    hostID(r),
		Code:      e.Code,
		Message:   e.Message,
		Recommend: "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code) + "&product=Sts",
	})
}

func hostID(r *http.Request) string {
	if r == nil || r.Host == "" {
		return "sts.aliyuncs.com"
	}
	return r.Host
}

// newRequestID returns an Alibaba-looking request ID (8-4-4-4-12 upper hex).
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := strings.ToUpper(hex.EncodeToString(b))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
