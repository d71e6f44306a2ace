package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The upstream runs in its own process (this program, started again with
// roleEnv=upstream) so that neither the generator's nor Caddy's garbage
// collector and scheduler share its work.
const (
	roleEnv         = "EDGEAUTH_LOAD_ROLE"
	roleUpstream    = "upstream"
	upstreamReady   = "edgeauth-load upstream listening on "
	probeHeader     = "X-Load-Probe"
	seenAuthHeader  = "X-Load-Seen-Auth"
	seenStsHeader   = "X-Load-Seen-Sts"
	upstreamAnswer  = "ok"
	upstreamTimeout = 10 * time.Second
)

// upstreamHandler answers 200 "ok". For a request carrying probeHeader it
// also says how many X-Auth-* and X-Sts-* headers it received, so the
// enforcement checks can see what edgeauth injected; measured requests
// never carry it, so the upstream costs the same behind both Caddys.
func upstreamHandler(w http.ResponseWriter, r *http.Request) {
	if _, probe := r.Header[probeHeader]; probe {
		auth, sts := 0, 0
		for k := range r.Header {
			switch {
			case hasPrefixFold(k, "X-Auth-"):
				auth++
			case hasPrefixFold(k, "X-Sts-"):
				sts++
			}
		}
		w.Header().Set(seenAuthHeader, strconv.Itoa(auth))
		w.Header().Set(seenStsHeader, strconv.Itoa(sts))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(upstreamAnswer))
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// serveUpstream is the upstream process's main: it listens on a loopback
// port, prints the address and serves until its stdin closes (the parent
// went away) or it is killed.
func serveUpstream() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(upstreamHandler), ReadHeaderTimeout: upstreamTimeout}
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // EOF when the parent exits
		_ = srv.Close()
	}()
	fmt.Printf("%s%s\n", upstreamReady, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// upstreamProc is a running upstream process.
type upstreamProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // kept open: closing it (or our exit) stops the upstream
	addr  string
}

// startUpstream starts this executable again as the upstream and waits for
// its address.
func startUpstream(ctx context.Context) (*upstreamProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the upstream: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleUpstream)
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the upstream process: %w", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), upstreamReady); ok {
				lines <- addr
				return
			}
		}
		close(lines)
	}()
	p := &upstreamProc{cmd: cmd, stdin: stdin}
	select {
	case addr, ok := <-lines:
		if !ok {
			p.stop()
			return nil, errors.New("the upstream process exited before listening")
		}
		p.addr = addr
		return p, nil
	case <-time.After(upstreamTimeout):
		p.stop()
		return nil, errors.New("the upstream process did not start listening within 10s")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop ends the upstream process.
func (p *upstreamProc) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}
