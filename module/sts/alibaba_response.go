package sts

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
)

// alibabaTimeLayout is the layout of Credentials.Expiration (UTC).
const alibabaTimeLayout = "2006-01-02T15:04:05Z"

// alibabaSuccess is the AssumeRoleWithOIDC answer (docs/PROTOCOL.md §2.4). JSON
// field matching is case-insensitive, so lowercase keys parse too.
type alibabaSuccess struct {
	RequestID       string `json:"RequestId"`
	AssumedRoleUser *struct {
		Arn           string `json:"Arn"`
		AssumedRoleID string `json:"AssumedRoleId"`
	} `json:"AssumedRoleUser"`
	Credentials *struct {
		AccessKeyID     string `json:"AccessKeyId"`
		AccessKeySecret string `json:"AccessKeySecret"`
		SecurityToken   string `json:"SecurityToken"`
		Expiration      string `json:"Expiration"`
	} `json:"Credentials"`
	OIDCTokenInfo *struct {
		Subject string `json:"Subject"`
		Issuer  string `json:"Issuer"`
	} `json:"OIDCTokenInfo"`
	SourceIdentity string `json:"SourceIdentity"`
}

// alibabaError is the common error body (§2.5), in JSON or XML.
type alibabaError struct {
	XMLName   xml.Name `json:"-" xml:"Error"`
	RequestID string   `json:"RequestId" xml:"RequestId"`
	HostID    string   `json:"HostId" xml:"HostId"`
	Code      string   `json:"Code" xml:"Code"`
	Message   string   `json:"Message" xml:"Message"`
}

func parseAlibaba(resp *response, token string, now time.Time) (*Credentials, *Error) {
	if resp.status == http.StatusOK {
		var s alibabaSuccess
		if err := json.Unmarshal(resp.body, &s); err != nil || s.Credentials == nil ||
			s.Credentials.AccessKeyID == "" || s.Credentials.AccessKeySecret == "" || s.Credentials.SecurityToken == "" {
			return nil, &Error{Kind: Unavailable, Code: CodeBadResponse, HTTPStatus: resp.status, RequestID: logsafe.Message(s.RequestID, token),
				Message: "the STS answered 200 without usable credentials"}
		}
		exp, err := parseExpiration(s.Credentials.Expiration)
		if err != nil {
			return nil, &Error{Kind: Unavailable, Code: CodeBadResponse, HTTPStatus: resp.status, RequestID: logsafe.Message(s.RequestID, token),
				Message: fmt.Sprintf("the STS answered an unreadable Expiration %q", s.Credentials.Expiration)}
		}
		c := &Credentials{
			AccessKeyID:     s.Credentials.AccessKeyID,
			AccessKeySecret: s.Credentials.AccessKeySecret,
			SecurityToken:   s.Credentials.SecurityToken,
			Expiration:      exp,
			RequestID:       s.RequestID,
			SourceIdentity:  s.SourceIdentity,
		}
		if s.AssumedRoleUser != nil {
			c.AssumedRoleARN = s.AssumedRoleUser.Arn
			c.AssumedRoleID = s.AssumedRoleUser.AssumedRoleID
		}
		if s.OIDCTokenInfo != nil {
			c.Subject = s.OIDCTokenInfo.Subject
			c.Issuer = s.OIDCTokenInfo.Issuer
		}
		return c, nil
	}

	var ae alibabaError
	parsed := false
	trimmed := strings.TrimSpace(string(resp.body))
	if strings.HasPrefix(trimmed, "<") {
		parsed = xml.Unmarshal(resp.body, &ae) == nil && ae.Code != ""
	} else {
		parsed = json.Unmarshal(resp.body, &ae) == nil && ae.Code != ""
	}
	e := &Error{HTTPStatus: resp.status, Code: logsafe.Message(ae.Code, token), RequestID: logsafe.Message(ae.RequestID, token),
		Message: logsafe.Message(ae.Message, token)}
	if !parsed {
		e.Code = CodeBadResponse
		e.Message = fmt.Sprintf("the STS answered HTTP %d with an unreadable error body", resp.status)
	}
	e.Kind = alibabaKind(e.Code, resp.status)
	if e.Kind == Unavailable {
		e.RetryAfter = parseRetryAfter(resp.header, now)
	}
	return nil, e
}

// alibabaKind maps an STS error code to the gateway's answer (docs/CONTRACT.md,
// "What a caller sees"; docs/PROTOCOL.md §2.5).
func alibabaKind(code string, status int) ErrorKind {
	switch {
	case strings.HasPrefix(code, "Throttling"):
		return Unavailable
	case code == "AuthenticationFail.NoPermission":
		return Forbidden
	case strings.HasPrefix(code, "AuthenticationFail.OIDCToken"),
		// Other AuthenticationFail.* codes concern the presented token too.
		strings.HasPrefix(code, "AuthenticationFail"):
		return InvalidToken
	case strings.HasPrefix(code, "EntityNotExist."),
		strings.HasPrefix(code, "InvalidParameter"),
		strings.HasPrefix(code, "MissingParameter"):
		return Misconfigured
	case status >= 500 || status == http.StatusTooManyRequests:
		return Unavailable
	default:
		// Any other 4xx (InvalidAction.NotFound, InvalidVersion, an
		// unreadable body …) says the gateway calls the STS wrongly.
		return Misconfigured
	}
}

// parseExpiration reads the STS Expiration: `2006-01-02T15:04:05Z`, or any
// RFC 3339 time.
func parseExpiration(s string) (time.Time, error) {
	if t, err := time.Parse(alibabaTimeLayout, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
