package core_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Streams under everyday load (issue 13): the patterns ordinary programs
// produce, over loopback TCP with DefaultConfig.

// tcpConns returns the two ends of a loopback TCP connection.
func tcpConns(t testing.TB) (dialed, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		got <- c
	}()
	dialed, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	accepted = <-got
	require.NotNil(t, accepted)
	return dialed, accepted
}

// opaque hides the connection's type, as a TLS or WebSocket conn hides
// its socket from the session.
type opaque struct{ net.Conn }

// tcpPair starts a client and a server session over loopback TCP, the
// carriers wrapped by wrap when it is set.
func tcpPair(t testing.TB, wrap bool, mod ...func(*core.Config)) (client, server *core.Session) {
	t.Helper()
	cfg := core.DefaultConfig()
	for _, m := range mod {
		m(&cfg)
	}
	a, b := tcpConns(t)
	var ca, cb io.ReadWriteCloser = a, b
	if wrap {
		ca, cb = opaque{a}, opaque{b}
	}
	client, err := core.Client(ca, cfg)
	require.NoError(t, err)
	server, err = core.Server(cb, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// The load patterns every transport runs (conformance.RunLoad: a burst of
// 1000 concurrent openers, 10,000 opens in a loop against a server that
// does not read EOF, 5 x 10,000 open/CloseWrite/read EOF, Writes and
// opens on a stalled carrier, http.Server.Shutdown over Listener), here
// over loopback TCP, bare (direct socket I/O) and behind a wrapper the
// session cannot see through.
func TestLoadChecks(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "wrapped"}[wrap], func(t *testing.T) {
			conformance.RunLoad(t, func(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
				a, b := tcpConns(t)
				t.Cleanup(func() {
					a.Close()
					b.Close()
				})
				if wrap {
					return opaque{a}, opaque{b}
				}
				return a, b
			})
		})
	}
}

// stuckPair returns a client session whose peer has stopped reading its
// socket: a server session that read the preface, then a carrier that
// never reads again. Writes fill the socket buffers and then block.
func stuckPair(t *testing.T, wrap bool, mod ...func(*core.Config)) *core.Session {
	t.Helper()
	cfg := core.DefaultConfig()
	cfg.WriteTimeout = 0 // nothing but the deadline may end a Write
	cfg.KeepAliveInterval = 0
	cfg.CloseTimeout = 200 * time.Millisecond
	for _, m := range mod {
		m(&cfg)
	}
	a, b := tcpConns(t)
	var ca io.ReadWriteCloser = a
	if wrap {
		ca = opaque{a}
	}
	client, err := core.Client(ca, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	t.Cleanup(func() { b.Close() }) // first: the session's close then fails fast
	return client
}

// waitStuck waits until s has sent something and then nothing more for
// 20 ms: the carrier takes no more. (There is no event for "the kernel's
// buffers are full"; a quiet interval is the observable.)
func waitStuck(t *testing.T, s *core.Session) {
	t.Helper()
	require.Eventually(t, func() bool {
		before := s.Stats().BytesSent
		time.Sleep(20 * time.Millisecond)
		return before > 0 && s.Stats().BytesSent == before
	}, testTimeout, time.Millisecond, "the carrier never stuck")
}

// Pattern 3: 64 streams each blocked in a 4 MiB Write on a carrier that
// takes nothing more; SetWriteDeadline(now) from another goroutine
// returns every Write at once with a timeout, over a bare TCP carrier and
// a wrapper alike.
func TestWriteDeadlineWhileCarrierStuck(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "wrapped"}[wrap], func(t *testing.T) {
			client := stuckPair(t, wrap)
			const streams = 64
			p := make([]byte, 4<<20)
			sts := make([]*core.Stream, streams)
			done := make(chan error, streams)
			var started sync.WaitGroup
			for i := range sts {
				st, err := client.OpenStream(ctxT(t))
				require.NoError(t, err)
				sts[i] = st
				started.Add(1)
				go func() {
					started.Done()
					n, err := st.Write(p)
					if err == nil || n >= len(p) {
						err = errors.New("a 4 MiB Write to a stuck carrier completed")
					}
					done <- err
				}()
			}
			started.Wait()
			waitStuck(t, client)
			start := time.Now()
			for _, st := range sts {
				require.NoError(t, st.SetWriteDeadline(time.Now()))
			}
			for range streams {
				select {
				case err := <-done:
					require.ErrorIs(t, err, errDeadlineExceeded)
				case <-time.After(5 * time.Second):
					t.Fatal("a Write outlived its deadline by 5 s")
				}
			}
			t.Logf("all %d Writes returned %v after their deadline", streams, time.Since(start))
		})
	}
}

// Pattern 4: with the carrier stuck and the control queue full of frames
// this side originates, OpenStream honours its context, and NumStreams
// and Close return: nothing waits on the carrier under the session's
// lock. (CloseTimeout, which also bounds how long a full control queue
// may stay full, is long here, so a wait for room would show.)
func TestOpenWhileCarrierStuck(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "wrapped"}[wrap], func(t *testing.T) {
			client := stuckPair(t, wrap, func(c *core.Config) {
				c.MaxControlFrames = 16
				c.CloseTimeout = 2 * time.Second
			})
			// Stick the carrier: 64 streams' initial credit (16 MiB) is
			// more than the sockets hold.
			p := make([]byte, 256<<10)
			for range 64 {
				st, err := client.OpenStream(ctxT(t))
				require.NoError(t, err)
				go st.Write(p)
			}
			waitStuck(t, client)
			for i := range 100 { // 100 SYNs queue behind the stuck carrier
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				start := time.Now()
				client.OpenStream(ctx)
				cancel()
				require.Less(t, time.Since(start), time.Second, "OpenStream %d waited on the carrier", i)
				start = time.Now()
				client.NumStreams()
				require.Less(t, time.Since(start), time.Second, "NumStreams waited")
			}
			require.NoError(t, client.Err(), "frames this side originates do not end the session")
			closed := make(chan struct{})
			go func() {
				client.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close waited on a stuck carrier past CloseTimeout")
			}
		})
	}
}

// Timer callbacks never wait: on a stuck carrier with a small control
// queue, the open timeouts of 64 streams (no peer session ever ACKs)
// reset them all at once, and the session stays up. They used to wait
// for room to queue their RST, each on a goroutine of its own, until the
// session ended for a control-frame flood.
func TestTimerCallbacksNeverWait(t *testing.T) {
	client := stuckPair(t, false, func(c *core.Config) {
		c.MaxControlFrames = 16
		c.OpenTimeout = 100 * time.Millisecond
		c.CloseTimeout = 3 * time.Second
	})
	p := make([]byte, 256<<10)
	for range 64 { // 16 MiB of initial credit: more than the sockets hold
		st, err := client.OpenStream(ctxT(t))
		require.NoError(t, err)
		go st.Write(p)
	}
	require.Eventually(t, func() bool { return client.NumStreams() == 0 },
		2*time.Second, time.Millisecond, "open timeouts waited to reset their streams")
	require.NoError(t, client.Err())
}

// A second Close, use after Close and Reset on a dead session fail as a
// net.Conn's methods do.
func TestStreamErrorsAfterClose(t *testing.T) {
	client, server := pair(t)
	a, _ := streamPair(t, client, server)
	require.NoError(t, a.Close())
	for name, err := range map[string]error{
		"Close":            a.Close(),
		"CloseWrite":       a.CloseWrite(),
		"CloseRead":        a.CloseRead(),
		"SetDeadline":      a.SetDeadline(time.Now()),
		"SetReadDeadline":  a.SetReadDeadline(time.Now()),
		"SetWriteDeadline": a.SetWriteDeadline(time.Now()),
	} {
		assert.ErrorIs(t, err, core.ErrStreamClosed, name)
		assert.ErrorIs(t, err, net.ErrClosed, name)
	}
	_, err := a.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = a.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed)

	b, _ := streamPair(t, client, server)
	require.NoError(t, client.Close())
	assert.ErrorIs(t, b.Reset(core.CodeCancel), core.ErrSessionClosed)
	assert.ErrorIs(t, b.CloseWrite(), core.ErrSessionClosed)
	assert.ErrorIs(t, b.SetDeadline(time.Time{}), core.ErrSessionClosed)
}

// Validate works on a value, and its errors match ErrInvalidConfig and
// name the field.
func TestValidateErrors(t *testing.T) {
	require.NoError(t, core.DefaultConfig().Validate())
	cfg := core.DefaultConfig()
	cfg.MaxStreams = 0
	err := cfg.Validate()
	require.ErrorIs(t, err, core.ErrInvalidConfig)
	var ce *core.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "MaxStreams", ce.Field)
	_, err = core.Client(opaque{}, cfg)
	require.ErrorIs(t, err, core.ErrInvalidConfig)
}

// When a session ends every timer it started stops: nothing keeps the
// Session reachable, though its streams had close and deadline timers
// armed for minutes.
func TestEndedSessionIsCollected(t *testing.T) {
	cfg := core.DefaultConfig()
	cfg.StreamCloseTimeout = time.Hour
	ref := func() weak.Pointer[core.Session] {
		// Not tcpPair: its cleanup would keep the client reachable.
		c1, c2 := tcpConns(t)
		client, err := core.Client(c1, cfg)
		require.NoError(t, err)
		server, err := core.Server(c2, cfg)
		require.NoError(t, err)
		defer server.Close()
		a, _ := streamPair(t, client, server)
		b, _ := streamPair(t, client, server)
		require.NoError(t, a.Close()) // the peer never closes: the close timer is armed
		require.NoError(t, b.SetDeadline(time.Now().Add(time.Hour)))
		require.NoError(t, client.Close())
		return weak.Make(client)
	}()
	require.Eventually(t, func() bool {
		runtime.GC()
		return ref.Value() == nil
	}, testTimeout, 10*time.Millisecond, "an ended session stays reachable")
}
