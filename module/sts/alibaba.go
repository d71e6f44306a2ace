package sts

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// AlibabaConfig configures the Alibaba Cloud STS AssumeRoleWithOIDC client.
type AlibabaConfig struct {
	// Endpoint is the STS URL or host ("sts.aliyuncs.com",
	// "https://sts.cn-hangzhou.aliyuncs.com"). http is accepted only for
	// loopback hosts. When empty, Region decides.
	Endpoint string
	// Region gives https://sts.<region>.aliyuncs.com (or sts-vpc.<region> with
	// VPC). When empty too, the central https://sts.aliyuncs.com is used.
	Region string
	// VPC selects the VPC endpoint for Region.
	VPC bool
	// Transport is how requests are sent (its clock also stamps the
	// Timestamp parameter).
	Transport
}

// Alibaba calls STS AssumeRoleWithOIDC the way credentials-go does: an
// anonymous RPC-style POST with Action, Format, Version and Timestamp in the
// query and every business parameter (the token included) in the form body.
type Alibaba struct {
	endpoint *url.URL
	caller
}

// NewAlibaba checks the config and returns a client. It does no network I/O.
func NewAlibaba(cfg AlibabaConfig) (*Alibaba, error) {
	raw := cfg.Endpoint
	field := "sts endpoint"
	if raw == "" {
		raw = AlibabaEndpoint(cfg.Region, cfg.VPC)
		field = "sts region"
	}
	u, err := parseEndpoint(raw, field)
	if err != nil {
		return nil, fmt.Errorf("sts alibaba: %w", err)
	}
	return &Alibaba{endpoint: u, caller: newCaller(cfg.Transport)}, nil
}

// AlibabaEndpoint resolves the STS endpoint for a region as credentials-go
// does: sts[-vpc].<region>.aliyuncs.com, or sts.aliyuncs.com without a region.
func AlibabaEndpoint(region string, vpc bool) string {
	region = strings.TrimSpace(region)
	if region == "" {
		return "https://sts.aliyuncs.com"
	}
	prefix := "sts"
	if vpc {
		prefix = "sts-vpc"
	}
	return "https://" + prefix + "." + region + ".aliyuncs.com"
}

// Endpoint is the resolved STS URL.
func (a *Alibaba) Endpoint() string { return a.endpoint.String() }

// ValidateRole accepts a RAM role ARN (ValidateRoleARN).
func (a *Alibaba) ValidateRole(arn string) error { return ValidateRoleARN(arn) }

// NeedsRole is true: AssumeRoleWithOIDC requires RoleArn.
func (a *Alibaba) NeedsRole() bool { return true }

// Exchange calls AssumeRoleWithOIDC.
func (a *Alibaba) Exchange(ctx context.Context, req Request) (*Credentials, error) {
	if e := checkToken(req.Token); e != nil {
		return nil, e
	}
	if req.RoleARN == "" || req.ProviderARN == "" || req.SessionName == "" {
		return nil, &Error{Kind: Misconfigured, Code: CodeBadRequest,
			Message: "role ARN, OIDC provider ARN and session name are all required for AssumeRoleWithOIDC"}
	}
	form := url.Values{}
	form.Set("RoleArn", req.RoleARN)
	form.Set("OIDCProviderArn", req.ProviderARN)
	form.Set("OIDCToken", req.Token)
	form.Set("RoleSessionName", req.SessionName)
	form.Set("DurationSeconds", durationSeconds(req.Duration))
	if req.Policy != "" {
		form.Set("Policy", req.Policy)
	}
	body := form.Encode()
	return a.run(ctx, func(ctx context.Context) (*Credentials, *Error) {
		u := *a.endpoint
		q := url.Values{}
		q.Set("Action", "AssumeRoleWithOIDC")
		q.Set("Format", "JSON")
		q.Set("Version", "2015-04-01")
		q.Set("Timestamp", a.now().UTC().Format("2006-01-02T15:04:05Z"))
		u.RawQuery = q.Encode()
		resp, e := a.postForm(ctx, u.String(), body, "application/json")
		if e != nil {
			return nil, e
		}
		return parseAlibaba(resp, req.Token, a.now())
	})
}

// checkToken refuses tokens that the STS would refuse anyway, without a call.
func checkToken(tok string) *Error {
	switch {
	case tok == "":
		return &Error{Kind: InvalidToken, Code: CodeBadRequest, Message: "no token to exchange"}
	case len(tok) > MaxTokenSize:
		return &Error{Kind: InvalidToken, Code: CodeBadRequest,
			Message: fmt.Sprintf("the token is longer than %d characters, the STS limit", MaxTokenSize)}
	}
	return nil
}

var _ Exchanger = (*Alibaba)(nil)
