package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
)

// backend is a TCP service that echoes what it reads and, once the
// client has half-closed, writes "bye" and closes: a reply that only
// arrives if half-close is carried end to end in both directions.
func backend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if _, err := io.Copy(c, c); err == nil {
					c.Write([]byte("bye"))
				}
			})
		}
	})
	return ln.Addr().String()
}

// roundTrip sends msg through addr, half-closes and returns the reply.
func roundTrip(addr string, msg []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	reply, err := io.ReadAll(c)
	return reply, errors.Join(err, <-werr)
}

func checkRoundTrips(t *testing.T, addr string, n, size int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msg := make([]byte, size+i)
			rand.NewChaCha8([32]byte{byte(i)}).Read(msg)
			reply, err := roundTrip(addr, msg)
			if assert.NoError(t, err, "connection %d via %s", i, addr) {
				assert.True(t, bytes.Equal(append(msg, "bye"...), reply), "connection %d: %d bytes back", i, len(reply))
			}
		})
	}
	wg.Wait()
}

func TestForwardInProcess(t *testing.T) {
	target := backend(t)
	srv := startCommand(t, "", "forward", "server", "--listen", "tcp://127.0.0.1:0",
		"--public", "web=127.0.0.1:0,nobody=127.0.0.1:0", "--allow", target)
	url := waitMatch(t, srv.stderr, listeningRE, 1, 10*time.Second)[1]
	web := waitMatch(t, srv.stderr, publicRE, 1, 10*time.Second)[2]
	nobody := waitMatch(t, srv.stderr, publicRE, 2, 10*time.Second)[2]

	cli := startCommand(t, "", "forward", "client", "--connect", url, "--target", "web="+target,
		"--map", "127.0.0.1:0="+target, "--map", "127.0.0.1:0=127.0.0.1:1", // the second is not allowed
		"--retry-min", "20ms", "--retry-max", "200ms", "-v")
	local := waitMatch(t, cli.stderr, localRE, 1, 10*time.Second)[1]
	refused := waitMatch(t, cli.stderr, localRE, 2, 10*time.Second)[1]
	waitMatch(t, cli.stderr, readyRE, 1, 10*time.Second)

	t.Run("reverse", func(t *testing.T) { checkRoundTrips(t, web, 20, 100<<10) })
	t.Run("local", func(t *testing.T) { checkRoundTrips(t, local, 20, 100<<10) })
	t.Run("large", func(t *testing.T) {
		checkRoundTrips(t, web, 2, 4<<20)
		checkRoundTrips(t, local, 2, 4<<20)
	})
	t.Run("refused", func(t *testing.T) {
		// A target outside --allow, and a mapping no client serves, reset
		// the connection at once.
		for _, addr := range []string{refused, nobody} {
			_, err := roundTrip(addr, []byte("hello"))
			assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE),
				"%s: want a reset, got %v", addr, err)
		}
		assert.Contains(t, srv.stderr.String(), "target not in --allow")
		assert.Contains(t, srv.stderr.String(), "no client serves this mapping")
	})

	t.Run("reconnect", func(t *testing.T) {
		// The server goes away gracefully; the client keeps retrying with
		// backoff and comes back when a server listens again.
		require.Equal(t, exitOK, srv.stop(t), srv.stderr.String())
		waitMatch(t, cli.stderr, endedRE, 1, 10*time.Second)
		waitMatch(t, cli.stderr, regexpQuote(`msg="connect failed"`), 1, 10*time.Second)
		srv2 := startCommand(t, "", "forward", "server", "--listen", url, "--public", "web="+web, "--allow", target)
		waitMatch(t, cli.stderr, readyRE, 2, 10*time.Second)
		checkRoundTrips(t, web, 4, 10<<10)
		checkRoundTrips(t, local, 4, 10<<10)
		require.Equal(t, exitOK, cli.stop(t), cli.stderr.String())
		assert.Regexp(t, stoppedRE, cli.stderr.String())
		assert.Equal(t, exitOK, srv2.stop(t))
	})
}

// While the session is being replaced, local connections wait for the
// next session instead of failing.
func TestSessionHolder(t *testing.T) {
	var h sessionHolder
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.Nil(t, h.wait(ctx, nil), "no session: wait ends with ctx")

	c1, c2 := memSessions(t)
	got := make(chan *core.Session, 1)
	go func() { got <- h.wait(context.Background(), nil) }()
	h.set(c1)
	assert.Same(t, c1, <-got)

	go func() { got <- h.wait(context.Background(), c1) }() // skip c1
	h.set(c2)
	assert.Same(t, c2, <-got)
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for i := range 8 {
		d := b.next()
		want := min(100*time.Millisecond<<i, time.Second) // doubles up to the cap
		assert.Equal(t, want, b.cur, "attempt %d", i)
		assert.InDelta(t, float64(want), float64(d), float64(want)/5+1, "attempt %d: ±20%% jitter", i)
	}
	b.reset()
	assert.InDelta(t, float64(100*time.Millisecond), float64(b.next()), float64(20*time.Millisecond))
}

func memSessions(t *testing.T) (*core.Session, *core.Session) {
	t.Helper()
	var out []*core.Session
	for range 2 {
		a, b := mem.Pipe()
		s1, err := core.Client(a, core.DefaultConfig())
		require.NoError(t, err)
		s2, err := core.Server(b, core.DefaultConfig())
		require.NoError(t, err)
		t.Cleanup(func() { s1.Close(); s2.Close() })
		out = append(out, s1)
	}
	return out[0], out[1]
}

func regexpQuote(s string) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(s)) }

// A client that closes its session normally is logged as a graceful
// end, not as an error; a carrier that dies is not.
func TestGracefulEnd(t *testing.T) {
	for _, abrupt := range []bool{false, true} {
		a, b := mem.Pipe()
		client, err := core.Client(a, core.DefaultConfig())
		require.NoError(t, err)
		server, err := core.Server(b, core.DefaultConfig())
		require.NoError(t, err)
		if abrupt {
			a.Close()
		}
		client.Close()
		_, err = server.AcceptStream(context.Background())
		require.Error(t, err)
		assert.Equal(t, !abrupt, gracefulEnd(err), "abrupt=%v: %v", abrupt, err)
		server.Close()
		_, err = server.AcceptStream(context.Background())
		assert.Equal(t, !abrupt, gracefulEnd(err), "after a local Close, abrupt=%v: %v", abrupt, err)
	}
	assert.True(t, gracefulEnd(core.ErrSessionClosed))
	assert.False(t, gracefulEnd(core.ErrKeepaliveTimeout))
}
