package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// redisStartTimeout bounds how long redis-server may take to answer PING.
const redisStartTimeout = 10 * time.Second

// redisProc is a redis-server child process on a loopback port, without
// persistence, for scenario 6.
type redisProc struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	exited  chan struct{}
}

// startRedis starts redis-server on a free loopback port with its working
// directory under dir and waits until it answers PING.
func startRedis(ctx context.Context, dir string) (*redisProc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("scenario 6 needs redis-server on PATH (Debian: apt-get install -y redis-server); " +
			"or leave scenario 6 out with -scenarios 1,2,3,4,5")
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "redis.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", rdir, "--daemonize", "no", "--loglevel", "warning")
	cmd.Dir = rdir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server (%s): %w", bin, err)
	}
	p := &redisProc{cmd: cmd, addr: addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(redisStartTimeout)
	for {
		reply, err := redisCommand(p.addr, "PING")
		if err == nil && reply == "+PONG" {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("redis-server exited at start; its log is %s", logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within %s (last: %v); its log is %s", addr, redisStartTimeout, err, logPath)
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// keys returns how many keys Redis holds (DBSIZE).
func (p *redisProc) keys() (int, error) {
	reply, err := redisCommand(p.addr, "DBSIZE")
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(reply, ":")
	if !ok {
		return 0, fmt.Errorf("redis: unexpected reply %q to DBSIZE", reply)
	}
	return strconv.Atoi(n)
}

// cpuTime returns the CPU time redis-server has used: its own getrusage
// figures from INFO cpu (microseconds; /proc's clock ticks of 10ms are
// too coarse for a microsecond or two per request), else /proc, else 0.
func (p *redisProc) cpuTime() time.Duration {
	if info, err := redisBulk(p.addr, "INFO cpu"); err == nil {
		if d, ok := parseRedisCPU(info); ok {
			return d
		}
	}
	return processCPU(p.cmd.Process.Pid)
}

// parseRedisCPU adds used_cpu_sys and used_cpu_user (seconds) of INFO cpu.
func parseRedisCPU(info string) (time.Duration, bool) {
	var sum float64
	found := 0
	for _, line := range strings.Split(info, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "used_cpu_sys" && name != "used_cpu_user") {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return 0, false
		}
		sum += f
		found++
	}
	return time.Duration(sum * float64(time.Second)), found == 2
}

// alive reports an error when redis-server has exited.
func (p *redisProc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("redis-server exited during the run; its log is %s", p.logPath)
	default:
		return nil
	}
}

// stop kills redis-server (it persists nothing) and waits for it.
func (p *redisProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// redisCommand sends one inline command without arguments and returns the
// first line of the reply (e.g. "+PONG" or ":3").
func redisCommand(addr, command string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(command + "\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// commandCalls returns how many commands redis-server has run since it
// started (INFO commandstats, every command's calls), leaving out the INFO
// calls themselves, which only this tool sends.
func (p *redisProc) commandCalls() (int64, error) {
	info, err := redisBulk(p.addr, "INFO commandstats")
	if err != nil {
		return 0, err
	}
	return sumCalls(info), nil
}

// sumCalls adds the calls= fields of INFO commandstats lines, except INFO's.
func sumCalls(info string) int64 {
	var total int64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || name == "cmdstat_info" {
			continue
		}
		n, err := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		if err == nil {
			total += n
		}
	}
	return total
}

// redisBulk sends one inline command whose reply is a bulk string (RESP2
// $<len>) and returns that string.
func redisBulk(addr, command string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(command + "\r\n")); err != nil {
		return "", err
	}
	rd := bufio.NewReader(c)
	head, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimRight(head, "\r\n"), "$"))
	if err != nil || !strings.HasPrefix(head, "$") || n < 0 || n > 1<<20 {
		return "", fmt.Errorf("redis: unexpected reply %q to %s", strings.TrimSpace(head), command)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}
