package sts

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
)

// AWSConfig configures the AWS STS AssumeRoleWithWebIdentity client.
type AWSConfig struct {
	// Endpoint is the STS URL or host. http is accepted only for loopback
	// hosts. When empty, Region gives https://sts.<region>.amazonaws.com, and
	// without a region the global https://sts.amazonaws.com is used.
	Endpoint string
	// Region selects the regional endpoint.
	Region string
	// Transport is how requests are sent.
	Transport
}

// AWS calls AssumeRoleWithWebIdentity: an unsigned form POST answered in XML.
type AWS struct {
	endpoint *url.URL
	caller
}

// NewAWS checks the config and returns a client. It does no network I/O.
func NewAWS(cfg AWSConfig) (*AWS, error) {
	raw := cfg.Endpoint
	field := "sts endpoint"
	if raw == "" {
		raw = "https://sts.amazonaws.com"
		if r := strings.TrimSpace(cfg.Region); r != "" {
			raw = "https://sts." + r + ".amazonaws.com"
			field = "sts region"
		}
	}
	u, err := parseEndpoint(raw, field)
	if err != nil {
		return nil, fmt.Errorf("sts aws: %w", err)
	}
	return &AWS{endpoint: u, caller: newCaller(cfg.Transport)}, nil
}

// Endpoint is the resolved STS URL.
func (a *AWS) Endpoint() string { return a.endpoint.String() }

// ValidateRole accepts an IAM role ARN (ValidateAWSRoleARN).
func (a *AWS) ValidateRole(arn string) error { return ValidateAWSRoleARN(arn) }

// NeedsRole is true: AssumeRoleWithWebIdentity requires RoleArn.
func (a *AWS) NeedsRole() bool { return true }

// Exchange calls AssumeRoleWithWebIdentity.
func (a *AWS) Exchange(ctx context.Context, req Request) (*Credentials, error) {
	if e := checkToken(req.Token); e != nil {
		return nil, e
	}
	if req.RoleARN == "" || req.SessionName == "" {
		return nil, &Error{Kind: Misconfigured, Code: CodeBadRequest,
			Message: "role ARN and session name are required for AssumeRoleWithWebIdentity"}
	}
	form := url.Values{}
	form.Set("Action", "AssumeRoleWithWebIdentity")
	form.Set("Version", "2011-06-15")
	form.Set("RoleArn", req.RoleARN)
	form.Set("RoleSessionName", req.SessionName)
	form.Set("WebIdentityToken", req.Token)
	form.Set("DurationSeconds", durationSeconds(req.Duration))
	if req.Policy != "" {
		form.Set("Policy", req.Policy)
	}
	body := form.Encode()
	return a.run(ctx, func(ctx context.Context) (*Credentials, *Error) {
		resp, e := a.postForm(ctx, a.endpoint.String(), body, "text/xml")
		if e != nil {
			return nil, e
		}
		return parseAWS(resp, req.Token, a.now())
	})
}

// awsSuccess is the AssumeRoleWithWebIdentity answer (docs/PROTOCOL.md §5).
type awsSuccess struct {
	Result struct {
		Subject         string `xml:"SubjectFromWebIdentityToken"`
		Audience        string `xml:"Audience"`
		Provider        string `xml:"Provider"`
		SourceIdentity  string `xml:"SourceIdentity"`
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
	} `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// awsError is `<ErrorResponse><Error>…</Error><RequestId/></ErrorResponse>`.
type awsError struct {
	Error struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func parseAWS(resp *response, token string, now time.Time) (*Credentials, *Error) {
	if resp.status == http.StatusOK {
		var s awsSuccess
		err := xml.Unmarshal(resp.body, &s)
		cr := s.Result.Credentials
		if err != nil || cr.AccessKeyID == "" || cr.SecretAccessKey == "" || cr.SessionToken == "" {
			return nil, &Error{Kind: Unavailable, Code: CodeBadResponse, HTTPStatus: resp.status, RequestID: logsafe.Message(s.RequestID, token),
				Message: "the STS answered 200 without usable credentials"}
		}
		exp, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(cr.Expiration))
		if err != nil {
			return nil, &Error{Kind: Unavailable, Code: CodeBadResponse, HTTPStatus: resp.status, RequestID: logsafe.Message(s.RequestID, token),
				Message: fmt.Sprintf("the STS answered an unreadable Expiration %q", cr.Expiration)}
		}
		return &Credentials{
			AccessKeyID:     cr.AccessKeyID,
			AccessKeySecret: cr.SecretAccessKey,
			SecurityToken:   cr.SessionToken,
			Expiration:      exp,
			AssumedRoleARN:  s.Result.AssumedRoleUser.Arn,
			AssumedRoleID:   s.Result.AssumedRoleUser.AssumedRoleID,
			RequestID:       s.RequestID,
			Subject:         s.Result.Subject,
			Issuer:          s.Result.Provider,
			SourceIdentity:  s.Result.SourceIdentity,
		}, nil
	}
	var ae awsError
	parsed := xml.Unmarshal(resp.body, &ae) == nil && ae.Error.Code != ""
	e := &Error{HTTPStatus: resp.status, Code: logsafe.Message(ae.Error.Code, token), RequestID: logsafe.Message(ae.RequestID, token),
		Message: logsafe.Message(ae.Error.Message, token)}
	if !parsed {
		e.Code = CodeBadResponse
		e.Message = fmt.Sprintf("the STS answered HTTP %d with an unreadable error body", resp.status)
	}
	e.Kind = awsKind(e.Code, resp.status)
	if e.Kind == Unavailable {
		e.RetryAfter = parseRetryAfter(resp.header, now)
	}
	return nil, e
}

// awsKind maps an AWS STS error code to the gateway's answer.
func awsKind(code string, status int) ErrorKind {
	switch code {
	case "InvalidIdentityToken", "ExpiredTokenException", "IDPRejectedClaim":
		return InvalidToken
	case "AccessDenied", "AccessDeniedException":
		return Forbidden
	case "IDPCommunicationError", "Throttling", "ThrottlingException", "RequestLimitExceeded",
		"ServiceUnavailable", "InternalFailure", "InternalError":
		return Unavailable
	case "MalformedPolicyDocument", "PackedPolicyTooLarge", "RegionDisabledException",
		"ValidationError", "InvalidParameterValue", "MissingParameter", "InvalidAction":
		return Misconfigured
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		return Unavailable
	}
	return Misconfigured
}

var _ Exchanger = (*AWS)(nil)
