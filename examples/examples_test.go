// Package examples_test builds the four example programs and runs them
// with no flags, on the loopback ports the seed names, checking that they
// behave as it describes: "The server echoes each line received over a
// fresh multiplexed stream; the client reads stdin, opens one stream per
// line, and prints the reply", and the reverse tunnel (forward_server on
// 127.0.0.1:7777 for clients and 127.0.0.1:8001 for the public,
// forward_client forwarding to 127.0.0.1:8000).
//
// The ports are fixed, because the defaults are what is under test: when
// one is taken the test is skipped, saying which.
package examples_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	transportAddr = "127.0.0.1:7777" // tcp_server, tcp_client, forward_server, forward_client
	publicAddr    = "127.0.0.1:8001" // forward_server's public port
	serviceAddr   = "127.0.0.1:8000" // forward_client's target
	wait          = 30 * time.Second // generous: other tests share the machine
)

// A line longer than the two stream windows (2 × 256 KiB): a client that
// wrote it all before reading the echo would deadlock.
var longLine = strings.Repeat("0123456789abcdef", 40<<10) + "\n"

func TestEcho(t *testing.T) {
	bins := build(t)
	requireFree(t, transportAddr)

	t.Run("ServerAndClient", func(t *testing.T) {
		server := start(t, bins, "tcp_server", "")
		server.waitLog(t, "echo server listening on "+transportAddr, 1)
		input := "hello\nworld\n\n" + longLine + "no newline at the end"
		client := start(t, bins, "tcp_client", input)
		require.Equal(t, 0, client.exit(t), "tcp_client failed")
		assert.Equal(t, input, client.stdout.String(), "each line echoed, in order")
		server.waitLog(t, "closed by the client", 1) // the client closed gracefully
		assert.Equal(t, 0, server.signal(t, syscall.SIGTERM), "tcp_server ends cleanly on SIGTERM")
	})

	// The client alone, against a server of the test's own: one fresh
	// stream per line, carrying exactly that line.
	t.Run("ClientStreamPerLine", func(t *testing.T) {
		ln, err := tcp.Listen(transportAddr)
		skipIfTaken(t, err)
		sl, err := transport.NewListener(ln, core.DefaultConfig())
		require.NoError(t, err)
		defer sl.Close()
		lines := []string{"one\n", "two\n", longLine, "three"}
		got := make(chan []string, 1)
		go func() {
			var seen []string
			defer func() { got <- seen }()
			sess, err := sl.Accept()
			if !assert.NoError(t, err) {
				return
			}
			defer sess.Close()
			for {
				st, err := sess.AcceptStream(context.Background())
				if err != nil {
					assert.ErrorIs(t, err, core.ErrGoAway, "the client closes gracefully")
					return
				}
				b, err := io.ReadAll(st)
				assert.NoError(t, err)
				seen = append(seen, string(b))
				_, err = st.Write(bytes.ToUpper(b))
				assert.NoError(t, err)
				st.Close()
			}
		}()
		client := start(t, bins, "tcp_client", strings.Join(lines, ""))
		require.Equal(t, 0, client.exit(t), "tcp_client failed")
		seen := <-got
		require.Len(t, seen, len(lines), "one stream per line")
		for i := range lines {
			assert.Equal(t, lines[i], seen[i], "stream %d carries line %d", i, i)
		}
		assert.Equal(t, strings.ToUpper(strings.Join(lines, "")), client.stdout.String(), "the replies, in order")
	})
}

func TestReverseTunnel(t *testing.T) {
	bins := build(t)
	requireFree(t, transportAddr, publicAddr)
	svc, err := net.Listen("tcp", serviceAddr)
	skipIfTaken(t, err)
	defer svc.Close()
	accepted := make(chan struct{}, 100)
	go serveService(svc, accepted)

	server := start(t, bins, "forward_server", "")
	server.waitLog(t, "tunnel clients connect to "+transportAddr+"; public port "+publicAddr, 1)

	// Clients connected so far, as the server counts them.
	clients := 0
	connect := func() *proc {
		t.Helper()
		client := start(t, bins, "forward_client", "")
		clients++
		server.waitLog(t, " connected", clients)
		client.waitLog(t, "connected to "+transportAddr+"; forwarding to "+serviceAddr, 1)
		return client
	}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			client := connect()
			for _, msg := range []string{"ping", strings.Repeat("x", 1<<20)} {
				assert.Equal(t, "service: "+msg, request(t, msg), "through the tunnel")
				<-accepted
			}

			// A public connection open when the signal arrives finishes.
			c, err := net.DialTimeout("tcp", publicAddr, wait)
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write([]byte("half a request"))
			require.NoError(t, err)
			<-accepted // the client has accepted the stream and reached the service
			require.NoError(t, client.cmd.Process.Signal(sig))
			client.waitLog(t, "shutting down", 1)
			_, err = c.Write([]byte(", the rest"))
			require.NoError(t, err)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			c.SetReadDeadline(time.Now().Add(wait))
			reply, err := io.ReadAll(c)
			require.NoError(t, err, "the open connection drains")
			assert.Equal(t, "service: half a request, the rest", string(reply))

			assert.Equal(t, 0, client.exit(t), "forward_client exits 0 on %v", sig)
			server.waitLog(t, "disconnected", clients)
			assert.Equal(t, 0, server.count("lost"), "the server saw a GoAway, not a lost transport:\n%s", server.log())
			assert.Equal(t, 0, server.count("without GoAway"))
		})
	}
	// After those clients left, a new one serves the public port again:
	// nothing was left broken by their exit.
	client := connect()
	assert.Equal(t, "service: again", request(t, "again"))
	<-accepted
	assert.Equal(t, 0, client.signal(t, syscall.SIGTERM))
	assert.Equal(t, 0, server.count("no tunnel client"))
}

// serveService is the service behind the tunnel: it reads a connection to
// its end and answers "service: " and what it read. It signals accepted
// for each connection.
func serveService(ln net.Listener, accepted chan<- struct{}) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- struct{}{}
		go func() {
			defer c.Close()
			b, err := io.ReadAll(c)
			if err != nil {
				return
			}
			c.Write(append([]byte("service: "), b...))
		}()
	}
}

// request sends msg to the public port, half-closes and returns the reply.
// It writes and reads at once, so msg may exceed every buffer on the way.
func request(t *testing.T, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", publicAddr, wait)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(msg))
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	reply, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, <-werr)
	return string(reply)
}

// build compiles the four examples (without -race: they are the programs
// under test, not the test) into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "build", "-o", dir+string(filepath.Separator),
		"./tcp_server", "./tcp_client", "./forward_server", "./forward_client")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return dir
}

// requireFree skips the test if one of addrs cannot be bound now.
func requireFree(t *testing.T, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		skipIfTaken(t, err)
		ln.Close()
	}
}

func skipIfTaken(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, syscall.EADDRINUSE) {
		t.Skipf("the examples' fixed port is taken (%v): stop whatever listens there to run this test", err)
	}
	require.NoError(t, err)
}

// proc is a running example program.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer // read only after exit
	stderr *logLines
	done   chan struct{}
	err    error // from Wait, once done is closed
}

func start(t *testing.T, dir, name, stdin string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(filepath.Join(dir, name)), stderr: newLogLines(), done: make(chan struct{})}
	p.cmd.Stdin = strings.NewReader(stdin)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s's log:\n%s", name, p.log())
		}
	})
	return p
}

// exit waits for the program to end and returns its exit code. A program
// that could not bind its fixed port skips the test.
func (p *proc) exit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(wait):
		t.Fatalf("%s still running after %v:\n%s", p.name, wait, p.log())
	}
	if strings.Contains(p.log(), "address already in use") {
		t.Skipf("%s: the examples' fixed port was taken:\n%s", p.name, p.log())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		t.Logf("%s exited with %v:\n%s", p.name, p.err, p.log())
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// signal sends sig and returns the exit code.
func (p *proc) signal(t *testing.T, sig os.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	return p.exit(t)
}

func (p *proc) log() string        { return p.stderr.String() }
func (p *proc) count(s string) int { return p.stderr.count(s) }

// waitLog waits until n lines of the program's log contain s. It fails if
// the program exits first (skipping if it could not bind its port).
func (p *proc) waitLog(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.After(wait)
	for {
		changed := p.stderr.changed()
		if p.stderr.count(s) >= n {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			if p.stderr.count(s) >= n {
				return
			}
			p.exit(t)
			t.Fatalf("%s exited before logging %q %d times:\n%s", p.name, s, n, p.log())
		case <-deadline:
			t.Fatalf("%s did not log %q %d times in %v:\n%s", p.name, s, n, wait, p.log())
		}
	}
}

// logLines collects a program's log and signals each write.
type logLines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	wake chan struct{} // closed and replaced on every write
}

func newLogLines() *logLines { return &logLines{wake: make(chan struct{})} }

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	close(l.wake)
	l.wake = make(chan struct{})
	return len(b), nil
}

func (l *logLines) changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wake
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// count is the number of complete lines that contain s.
func (l *logLines) count(s string) int {
	n := 0
	for line := range strings.Lines(l.String()) {
		if strings.HasSuffix(line, "\n") && strings.Contains(line, s) {
			n++
		}
	}
	return n
}
