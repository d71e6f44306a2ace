//go:build tools

// This file pins modules that the project's packages use, so that parallel work
// never needs to edit go.mod. It is compiled only with the "tools" tag.
package caddyedgeauth

import (
	_ "github.com/aliyun/credentials-go/credentials"
	_ "github.com/chromedp/chromedp"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/patrickmn/go-cache"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/zitadel/oidc/v3/example/server/exampleop"
	_ "github.com/zitadel/oidc/v3/pkg/op"
	_ "go.uber.org/zap"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/sync/singleflight"
)
