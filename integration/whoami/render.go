package whoami

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

func writeJSON(w http.ResponseWriter, e Echo) {
	b, err := json.MarshalIndent(e, "", "  ") // map keys come out sorted
	if err != nil {
		http.Error(w, "whoami: encoding: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

type row struct {
	Name, Value string
	Identity    bool
}

var page = template.Must(template.New("whoami").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>whoami · edgeauth demo</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2330;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.05rem;margin-top:1.6rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #e3e5ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
td{font-family:ui-monospace,monospace;word-break:break-all}tr.id{background:#fff4e5}.muted{color:#667}.verified{color:#11632b}.unverified{color:#9b1c1c}</style></head>
<body><h1>whoami</h1>
<p id="request"><code>{{.Method}} {{.Path}}{{if .RawQuery}}?{{.RawQuery}}{{end}}</code> · host <code>{{.Host}}</code></p>
<h2>Identity</h2>
{{with .Assertion}}<p id="assertion" class="{{if .Verified}}verified{{else}}unverified{{end}}">{{.Status}}{{if .Verified}}: subject <code id="assertion-subject">{{.Subject}}</code>{{if .Provider}} via <code>{{.Provider}}</code>{{end}}{{end}}</p>
{{end}}{{if .Logout}}<p id="signout"><a id="logout" href="{{.Logout}}">Sign out</a></p>
{{end}}{{if .Identity}}<table id="identity"><tr><th>header</th><th>value</th></tr>
{{range .Identity}}<tr class="id"><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>{{else}}<p class="muted" id="no-identity">No X-Auth-* or X-Sts-* headers: this request carried no identity.</p>{{end}}
{{if .Query}}<h2>Query</h2><table id="query">{{range .Query}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>{{end}}
<h2>Request headers</h2>
<table id="headers"><tr><th>header</th><th>value</th></tr>
{{range .Headers}}<tr{{if .Identity}} class="id"{{end}}><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<p class="muted">The edgeauth demo upstream. Secrets are masked on this page; ask for JSON to see raw values.</p>
</body></html>`))

func writeHTML(w http.ResponseWriter, e Echo, logout, assertionHeader string) {
	shown := func(name, v string) string {
		if maskedHeaders[name] || name == assertionHeader {
			return mask(v)
		}
		return v
	}
	var identity, headers, query []row
	for _, name := range sortedNames(e.Identity) {
		identity = append(identity, row{name, shown(name, e.Identity[name]), true})
	}
	for _, name := range sortedNames(e.Headers) {
		for _, v := range e.Headers[name] {
			headers = append(headers, row{name, shown(http.CanonicalHeaderKey(name), v), isIdentity(name)})
		}
	}
	for _, name := range sortedNames(e.Query) {
		query = append(query, row{name, strings.Join(e.Query[name], ", "), false})
	}
	var buf bytes.Buffer
	err := page.Execute(&buf, map[string]any{
		"Method": e.Method, "Path": e.Path, "RawQuery": e.RawQuery, "Host": e.Host,
		"Identity": identity, "Headers": headers, "Query": query, "Logout": logout,
		"Assertion": e.Assertion,
	})
	if err != nil {
		http.Error(w, "whoami: rendering: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}

// prefersHTML reports whether Accept ranks text/html above application/json
// (RFC 9110 §12.5.1: the most specific matching range gives the q-value). A
// tie, a missing header or */* gives JSON.
func prefersHTML(accept string) bool {
	return quality(accept, "text", "html") > quality(accept, "application", "json")
}

func quality(accept, typ, sub string) float64 {
	best, bestSpec := 0.0, -1
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		t, s, ok := strings.Cut(mt, "/")
		if !ok {
			continue
		}
		spec := -1
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		}
		if spec < 0 || spec < bestSpec {
			continue
		}
		q := 1.0
		for _, p := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		if spec > bestSpec || q > best {
			best, bestSpec = q, spec
		}
	}
	return best
}
