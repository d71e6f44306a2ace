package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// caddyStartTimeout bounds how long a Caddy process may take to listen.
const caddyStartTimeout = 20 * time.Second

// caddyProc is a running Caddy process serving one site on a loopback port.
type caddyProc struct {
	name    string
	cmd     *exec.Cmd
	addr    string // site host:port
	admin   string // admin host:port
	logPath string
	exited  chan struct{}
	waitErr error
}

// URL returns the site's base URL.
func (c *caddyProc) URL() string { return "http://" + c.addr }

// startCaddy writes caddyfile into dir and runs bin on it with its own XDG
// directories, then waits until the site port accepts connections. addr
// and admin are the site and admin addresses the Caddyfile uses.
func startCaddy(ctx context.Context, bin, dir, name, caddyfile, addr, admin string) (*caddyProc, error) {
	cfgPath := filepath.Join(dir, name+".Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(caddyfile), 0o600); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, name+"-home")
	for _, d := range []string{"config", "data"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting Caddy (%s): %w", bin, err)
	}
	c := &caddyProc{name: name, cmd: cmd, addr: addr, admin: admin, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitListening(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// waitListening polls the site port until it accepts a connection.
func (c *caddyProc) waitListening(ctx context.Context) error {
	deadline := time.Now().Add(caddyStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("Caddy (%s) exited at start (%v): %s", c.name, c.waitErr, c.logSummary())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if conn, err := net.DialTimeout("tcp", c.addr, 200*time.Millisecond); err == nil {
			conn.Close()
			return nil
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return fmt.Errorf("Caddy (%s) did not listen on %s within %s; its log is %s", c.name, c.addr, caddyStartTimeout, c.logPath)
}

// logSummary returns the most telling line of the process log: the last
// error Caddy printed, else the last line.
func (c *caddyProc) logSummary() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	line := lines[len(lines)-1]
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "Error:") || strings.Contains(lines[i], "error") {
			line = lines[i]
			break
		}
	}
	var entry struct {
		Msg string `json:"msg"`
	}
	if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg != "" {
		line = entry.Msg
	}
	return strings.TrimSpace(line)
}

// stop asks Caddy to exit and kills it if it takes more than 5 s.
func (c *caddyProc) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// alive reports an error when the process has exited.
func (c *caddyProc) alive() error {
	select {
	case <-c.exited:
		return fmt.Errorf("Caddy (%s) exited (%v): %s", c.name, c.waitErr, c.logSummary())
	default:
		return nil
	}
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// cpuTime returns the CPU time (user + system) the process has used, or 0
// when /proc cannot tell.
func (c *caddyProc) cpuTime() time.Duration { return processCPU(c.cmd.Process.Pid) }

// processCPU returns the CPU time (user + system) process pid has used, or
// 0 when /proc cannot tell.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// peakRSS returns the process's peak resident memory (VmHWM), or 0.
func (c *caddyProc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// buildCaddy builds ./cmd/caddy of the module at root into dir.
func buildCaddy(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "caddy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory of this repository's go.mod, starting at
// the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/edgeauth/caddy-edgeauth\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run edgeauth-load inside the caddy-edgeauth repository (or pass -caddy with a built Caddy)")
		}
		dir = parent
	}
}
