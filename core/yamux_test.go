package core_test

// Interop tests against the real github.com/hashicorp/yamux library. The
// core session runs with Config.ProtocolVersion = 0 and is paired, over a
// buffered in-memory pipe, with a yamux session in both roles:
//
//	CoreClient-YamuxServer: core.Client  <-> yamux.Server
//	YamuxClient-CoreServer: yamux.Client <-> core.Server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/internal/parked"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// yamuxEchoTimeout bounds the bulk echo test (hundreds of MiB through the
// race detector on a small machine); hitting it is a failure.
const yamuxEchoTimeout = 2 * time.Minute

// yamuxConfig is yamux's default configuration, quiet. Keepalive is off: it
// would only add a goroutine that outlives Close for a moment, and nothing
// here runs for yamux's 30 s interval.
func yamuxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cfg.EnableKeepAlive = false
	return cfg
}

// coreYamuxConfig is core's default configuration speaking yamux's protocol.
func coreYamuxConfig() core.Config {
	cfg := core.DefaultConfig()
	cfg.ProtocolVersion = 0
	return cfg
}

// yamuxMuxSide opens and accepts streams on one end of the connection, as
// net.Conns, whichever library is behind it.
type yamuxMuxSide struct {
	name   string
	open   func(ctx context.Context) (net.Conn, error)
	accept func(ctx context.Context) (net.Conn, error)
}

// yamuxHarness is a core session and a yamux session talking to each other.
type yamuxHarness struct {
	cs *core.Session
	ys *yamux.Session

	coreSide, yamuxSide yamuxMuxSide

	// wg holds goroutines a test starts. They are joined at cleanup after
	// both sessions are closed, which unblocks any of them still waiting.
	wg sync.WaitGroup
}

// newYamuxHarness connects a core session (ProtocolVersion 0) to a yamux
// session over a mem pipe. With coreIsClient the core session dials
// (core.Client <-> yamux.Server), otherwise yamux does (yamux.Client <->
// core.Server). Cleanup closes both sessions, joins the test's goroutines
// and waits until every goroutine yamux started has exited.
func newYamuxHarness(t *testing.T, coreIsClient bool, mod ...func(*core.Config)) *yamuxHarness {
	t.Helper()
	h := &yamuxHarness{}
	cfg := coreYamuxConfig()
	for _, m := range mod {
		m(&cfg)
	}
	// Cleanups run last-registered first: close the sessions, then join
	// the test's goroutines, then wait for yamux's own goroutines.
	t.Cleanup(func() { awaitYamuxGoroutinesGone(t) })
	t.Cleanup(func() { yamuxWaitGroup(t, &h.wg, testTimeout, "test goroutines after the sessions closed") })

	c1, c2 := mem.Pipe()
	var err error
	if coreIsClient {
		h.cs, err = core.Client(c1, cfg)
		if err != nil {
			c2.Close()
		}
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, h.cs.Close()) })
		h.ys, err = yamux.Server(c2, yamuxConfig())
		require.NoError(t, err)
	} else {
		h.ys, err = yamux.Client(c1, yamuxConfig())
		if err != nil {
			c2.Close()
		}
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, h.ys.Close()) })
		h.cs, err = core.Server(c2, cfg)
		require.NoError(t, err)
	}
	// Registered last, so it runs first: the accepting (server) session
	// closes first, then the dialing one.
	if coreIsClient {
		t.Cleanup(func() { assert.NoError(t, h.ys.Close()) })
	} else {
		t.Cleanup(func() { assert.NoError(t, h.cs.Close()) })
	}

	h.coreSide = yamuxMuxSide{
		name: "core",
		open: func(ctx context.Context) (net.Conn, error) {
			st, err := h.cs.OpenStream(ctx)
			if err != nil {
				return nil, err
			}
			return st, nil
		},
		accept: func(ctx context.Context) (net.Conn, error) {
			st, err := h.cs.AcceptStream(ctx)
			if err != nil {
				return nil, err
			}
			return st, nil
		},
	}
	h.yamuxSide = yamuxMuxSide{
		name: "yamux",
		open: func(context.Context) (net.Conn, error) {
			st, err := h.ys.OpenStream()
			if err != nil {
				return nil, err
			}
			return st, nil
		},
		accept: func(ctx context.Context) (net.Conn, error) {
			st, err := h.ys.AcceptStreamWithContext(ctx)
			if err != nil {
				return nil, err
			}
			return st, nil
		},
	}
	return h
}

// side returns the yamuxMuxSide by name ("core" or "yamux") and the other one.
func (h *yamuxHarness) side(name string) (this, other yamuxMuxSide) {
	if name == "core" {
		return h.coreSide, h.yamuxSide
	}
	return h.yamuxSide, h.coreSide
}

// streamPair opens a stream on the named side and accepts it on the other.
// It returns once the acceptor has accepted, so the acceptor's ACK is on
// its way (yamux sends it from AcceptStream, core queues it there).
func (h *yamuxHarness) streamPair(t *testing.T, opener string) (opened, accepted net.Conn) {
	t.Helper()
	o, a := h.side(opener)
	ctx := ctxT(t)
	opened, err := o.open(ctx)
	require.NoError(t, err, "%s opens", o.name)
	accepted, err = a.accept(ctx)
	require.NoError(t, err, "%s accepts", a.name)
	return opened, accepted
}

// forEachYamuxDirection runs f in a subtest for each pairing, each with a
// fresh harness; mod adjusts the core session's configuration.
func forEachYamuxDirection(t *testing.T, f func(t *testing.T, h *yamuxHarness), mod ...func(*core.Config)) {
	for _, d := range []struct {
		name         string
		coreIsClient bool
	}{
		{"CoreClient-YamuxServer", true},
		{"YamuxClient-CoreServer", false},
	} {
		t.Run(d.name, func(t *testing.T) { f(t, newYamuxHarness(t, d.coreIsClient, mod...)) })
	}
}

// yamuxCloseWrite half-closes c: CloseWrite on a core stream; yamux's
// Stream.Close only closes the write half (it sends FIN and keeps reading).
func yamuxCloseWrite(c net.Conn) error {
	switch c := c.(type) {
	case *core.Stream:
		return c.CloseWrite()
	case *yamux.Stream:
		return c.Close()
	}
	panic(fmt.Sprintf("yamuxCloseWrite: unexpected %T", c))
}

// yamuxWriteClosedErr is the error a Write after yamuxCloseWrite must match.
func yamuxWriteClosedErr(c net.Conn) error {
	if _, ok := c.(*core.Stream); ok {
		return core.ErrWriteClosed
	}
	return yamux.ErrStreamClosed
}

// yamuxNumStreams is the stream count of the session c belongs to.
func yamuxNumStreams(c net.Conn) int {
	switch c := c.(type) {
	case *core.Stream:
		return c.Session().NumStreams()
	case *yamux.Stream:
		return c.Session().NumStreams()
	}
	panic(fmt.Sprintf("yamuxNumStreams: unexpected %T", c))
}

// yamuxSeededReader is an endless stream of pseudo-random bytes determined by
// (seed, tag).
func yamuxSeededReader(seed uint64, tag byte) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	key[8] = tag
	return rand.NewChaCha8(key)
}

// yamuxEchoBack is the acceptor's side of the echo: it copies everything
// it reads back, then half-closes, and finally releases the stream.
func yamuxEchoBack(c net.Conn) error {
	defer c.Close()
	if _, err := io.CopyBuffer(c, c, make([]byte, 64<<10)); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if err := yamuxCloseWrite(c); err != nil {
		return fmt.Errorf("echo: half-close: %w", err)
	}
	return nil
}

// yamuxEchoRoundTrip is the opener's side of the echo: it writes size bytes of
// seeded random data and half-closes while reading the echo to EOF, then
// compares the two by length and SHA-256.
func yamuxEchoRoundTrip(c net.Conn, seed uint64, tag byte, size int64) error {
	defer c.Close()
	type sent struct {
		n   int64
		sum []byte
		err error
	}
	sentc := make(chan sent, 1)
	go func() { // joined below: the result is always received
		h := sha256.New()
		src := io.TeeReader(io.LimitReader(yamuxSeededReader(seed, tag), size), h)
		n, err := io.CopyBuffer(c, src, make([]byte, 256<<10))
		if err == nil {
			err = yamuxCloseWrite(c)
		}
		sentc <- sent{n, h.Sum(nil), err}
	}()
	h := sha256.New()
	got, rerr := io.CopyBuffer(h, c, make([]byte, 64<<10))
	if rerr != nil {
		// Unblock a writer stuck on credit before waiting for it.
		c.Close()
	}
	s := <-sentc
	switch {
	case s.err != nil:
		return fmt.Errorf("write after %d bytes: %w", s.n, s.err)
	case rerr != nil:
		return fmt.Errorf("read after %d bytes: %w", got, rerr)
	case s.n != size:
		return fmt.Errorf("wrote %d bytes, want %d", s.n, size)
	case got != size:
		return fmt.Errorf("echo has %d bytes, want %d", got, size)
	case string(h.Sum(nil)) != string(s.sum):
		return fmt.Errorf("echo checksum %x, sent %x", h.Sum(nil), s.sum)
	}
	return nil
}

// TestYamuxEcho opens 16 streams from each side at once; the acceptor
// echoes, the opener writes 8 MiB of seeded random data, half-closes,
// reads the echo to EOF and checks it.
func TestYamuxEcho(t *testing.T) {
	const (
		streamsPerSide = 16
		size           = 8 << 20
	)
	forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
		ctx, cancel := context.WithTimeout(context.Background(), yamuxEchoTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for tag, pair := range [][2]yamuxMuxSide{{h.coreSide, h.yamuxSide}, {h.yamuxSide, h.coreSide}} {
			opener, acceptor := pair[0], pair[1]
			wg.Go(func() {
				for i := range streamsPerSide {
					c, err := acceptor.accept(ctx)
					if !assert.NoError(t, err, "%s accepts stream %d of %d", acceptor.name, i+1, streamsPerSide) {
						return
					}
					wg.Go(func() {
						assert.NoError(t, yamuxEchoBack(c), "%s echoes stream %d", acceptor.name, i)
					})
				}
			})
			for i := range streamsPerSide {
				wg.Go(func() {
					c, err := opener.open(ctx)
					if !assert.NoError(t, err, "%s opens stream %d", opener.name, i) {
						return
					}
					assert.NoError(t, yamuxEchoRoundTrip(c, uint64(i), byte(tag), size),
						"stream %d opened by %s", i, opener.name)
				})
			}
		}
		// Run everything under h.wg so a failure here still joins it
		// after the sessions close at cleanup.
		done := make(chan struct{})
		h.wg.Go(func() { wg.Wait(); close(done) })
		select {
		case <-done:
		case <-ctx.Done():
			require.FailNow(t, "echo did not finish", "within %v", yamuxEchoTimeout)
		}
		require.NoError(t, h.cs.Err(), "core session still up")
		require.False(t, h.ys.IsClosed(), "yamux session still up")
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.Zero(c, h.cs.NumStreams(), "core streams left")
			assert.Zero(c, h.ys.NumStreams(), "yamux streams left")
		}, testTimeout, time.Millisecond, "both sides forget every stream")
		st := h.cs.Stats()
		assert.Equal(t, uint64(streamsPerSide), st.StreamsOpened)
		assert.Equal(t, uint64(streamsPerSide), st.StreamsAccepted)
		assert.Zero(t, st.StreamsReset)
		assert.Equal(t, uint64(2*streamsPerSide*size), st.BytesReceived)
		assert.Equal(t, uint64(2*streamsPerSide*size), st.BytesSent)
	})
}

// TestYamuxHalfClose: one side half-closes, the other reads EOF and can
// still write back; then the other half closes too and both sessions
// forget the stream. Every combination of opener and closer, plus the
// opener half-closing before the peer has even accepted the stream.
func TestYamuxHalfClose(t *testing.T) {
	forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
		for _, opener := range []string{"core", "yamux"} {
			for _, closer := range []string{"core", "yamux"} {
				t.Run("open-"+opener+"/halfclose-"+closer, func(t *testing.T) {
					opened, accepted := h.streamPair(t, opener)
					hc, peer := opened, accepted // hc half-closes first
					if opener != closer {
						hc, peer = accepted, opened
					}
					_, err := hc.Write([]byte("request"))
					require.NoError(t, err)
					require.NoError(t, yamuxCloseWrite(hc))
					yamuxHalfCloseFlow(t, hc, peer)
				})
			}
			t.Run("open-"+opener+"/halfclose-"+opener+"-before-accept", func(t *testing.T) {
				o, a := h.side(opener)
				ctx := ctxT(t)
				hc, err := o.open(ctx)
				require.NoError(t, err)
				_, err = hc.Write([]byte("request"))
				require.NoError(t, err)
				require.NoError(t, yamuxCloseWrite(hc))
				h.awaitFinSeen(t, opener)
				peer, err := a.accept(ctx)
				require.NoError(t, err)
				yamuxHalfCloseFlow(t, hc, peer)
			})
		}
		assert.NoError(t, h.cs.Err())
		assert.Zero(t, h.cs.Stats().StreamsReset)
	})
}

// awaitFinSeen returns once the peer has handled the FIN the named side
// just sent, so that a stream the peer has not accepted yet is accepted
// after its FIN. Pings are answered in order with the frames before them.
func (h *yamuxHarness) awaitFinSeen(t *testing.T, sender string) {
	t.Helper()
	if sender == "yamux" {
		// yamux's Close returns once its FIN is written, and core answers
		// the ping after handling what came before it.
		_, err := h.ys.Ping()
		require.NoError(t, err)
		return
	}
	// core writes queued control frames ahead of stream frames, so the
	// first ping can overtake the FIN. The second, queued once the first
	// has been answered, is written after it; yamux handles frames in order.
	for range 2 {
		_, err := h.cs.Ping(ctxT(t))
		require.NoError(t, err)
	}
}

// yamuxHalfCloseFlow continues a half-close test after hc wrote "request"
// and half-closed: peer reads it and EOF, writes back, hc reads that, then
// peer half-closes too and both sessions forget the stream.
func yamuxHalfCloseFlow(t *testing.T, hc, peer net.Conn) {
	t.Helper()
	got, err := io.ReadAll(peer)
	require.NoError(t, err, "%T reads to EOF", peer)
	require.Equal(t, "request", string(got))
	n, err := peer.Read(make([]byte, 8))
	require.Equal(t, 0, n)
	require.Equal(t, io.EOF, err, "exactly io.EOF again after the FIN")

	// The half that is still open works.
	_, err = peer.Write([]byte("response"))
	require.NoError(t, err, "writing back after EOF")
	buf := make([]byte, len("response"))
	_, err = io.ReadFull(hc, buf)
	require.NoError(t, err)
	require.Equal(t, "response", string(buf))

	_, err = hc.Write([]byte("x"))
	require.ErrorIs(t, err, yamuxWriteClosedErr(hc), "write after half-close")

	require.NoError(t, yamuxCloseWrite(peer))
	n, err = hc.Read(buf)
	require.Equal(t, 0, n)
	require.Equal(t, io.EOF, err, "EOF once the peer half-closes too")

	require.NoError(t, hc.Close())
	require.NoError(t, peer.Close())
	require.Eventually(t, func() bool { return yamuxNumStreams(hc) == 0 && yamuxNumStreams(peer) == 0 },
		testTimeout, time.Millisecond, "both sides forget the stream after FIN both ways")
}

// TestYamuxEarlyFinOutlivesOpenTimeout: core opens a stream, writes a
// request and half-closes it before yamux accepts (the usual RPC pattern).
// yamux never ACKs such a stream: its AcceptStream sends the ACK only from
// state SYNReceived, and the FIN has already moved the stream on to
// RemoteClose; later frames carry no ACK either. yamux still uses the
// stream normally, so core must not reset it when Config.OpenTimeout
// passes without an ACK.
func TestYamuxEarlyFinOutlivesOpenTimeout(t *testing.T) {
	const openTimeout = 100 * time.Millisecond
	forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
		ctx := ctxT(t)
		cst, err := h.cs.OpenStream(ctx)
		require.NoError(t, err)
		_, err = cst.Write([]byte("request"))
		require.NoError(t, err)
		require.NoError(t, cst.CloseWrite())
		h.awaitFinSeen(t, "core")
		yst, err := h.ys.AcceptStreamWithContext(ctx)
		require.NoError(t, err)
		got, err := io.ReadAll(yst)
		require.NoError(t, err)
		require.Equal(t, "request", string(got))

		// A slow server: let the open timeout pass. This wait is what is
		// under test, not a synchronisation.
		<-time.After(3 * openTimeout)

		_, err = yst.Write([]byte("response"))
		require.NoError(t, err, "yamux writes the response")
		require.NoError(t, yst.Close())
		got, err = io.ReadAll(cst)
		require.NoError(t, err, "core reads the response (stream %d)", cst.ID())
		require.Equal(t, "response", string(got))
		assert.Zero(t, h.cs.Stats().StreamsReset)
	}, func(c *core.Config) { c.OpenTimeout = openTimeout })
}

// TestYamuxPing pings both ways.
func TestYamuxPing(t *testing.T) {
	forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
		for range 3 {
			rtt, err := h.cs.Ping(ctxT(t))
			require.NoError(t, err, "core pings yamux")
			assert.Greater(t, rtt, time.Duration(0))

			rtt, err = h.ys.Ping()
			require.NoError(t, err, "yamux pings core")
			assert.Greater(t, rtt, time.Duration(0))
		}
		assert.Greater(t, h.cs.Stats().RTT, time.Duration(0))
	})
}

// yamuxExchange writes msg on a and reads it on b.
func yamuxExchange(t *testing.T, a, b net.Conn, msg string) {
	t.Helper()
	_, err := a.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

// TestYamuxGoAway: after one side's GoAway the other cannot open streams,
// while the streams already open and the other direction keep working.
func TestYamuxGoAway(t *testing.T) {
	t.Run("FromCore", func(t *testing.T) {
		forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
			ctx := ctxT(t)
			yOld, cOld := h.streamPair(t, "yamux")

			require.NoError(t, h.cs.GoAway())
			// The ping is queued behind the GoAway, and yamux handles
			// frames in order: once the reply is here, yamux has seen it.
			_, err := h.cs.Ping(ctx)
			require.NoError(t, err)

			_, err = h.ys.OpenStream()
			require.ErrorIs(t, err, yamux.ErrRemoteGoAway)
			_, err = h.ys.Open()
			require.ErrorIs(t, err, yamux.ErrRemoteGoAway)

			// Open streams carry on, both ways.
			yamuxExchange(t, yOld, cOld, "old stream, yamux to core")
			yamuxExchange(t, cOld, yOld, "old stream, core to yamux")
			// GoAway refuses the peer's streams, not ours.
			cNew, yNew := h.streamPair(t, "core")
			yamuxExchange(t, cNew, yNew, "new stream from core")
			yamuxExchange(t, yNew, cNew, "new stream from core, answered")

			assert.NoError(t, h.cs.Err())
			assert.False(t, h.ys.IsClosed())
		})
	})
	t.Run("FromYamux", func(t *testing.T) {
		forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
			ctx := ctxT(t)
			cOld, yOld := h.streamPair(t, "core")

			require.NoError(t, h.ys.GoAway())
			// GoAway has been written; the ping reply proves core read it.
			_, err := h.ys.Ping()
			require.NoError(t, err)

			_, err = h.cs.OpenStream(ctx)
			require.ErrorIs(t, err, core.ErrGoAway)
			var ga *core.GoAwayError
			require.ErrorAs(t, err, &ga)
			assert.True(t, ga.Remote)
			assert.Equal(t, core.CodeNoError, ga.Code)
			_, err = h.cs.Open()
			require.ErrorIs(t, err, core.ErrGoAway)

			yamuxExchange(t, cOld, yOld, "old stream, core to yamux")
			yamuxExchange(t, yOld, cOld, "old stream, yamux to core")
			yNew, cNew := h.streamPair(t, "yamux")
			yamuxExchange(t, yNew, cNew, "new stream from yamux")
			yamuxExchange(t, cNew, yNew, "new stream from yamux, answered")

			assert.NoError(t, h.cs.Err(), "a normal GoAway does not end the session")
			assert.False(t, h.ys.IsClosed())
		})
	})
}

// yamuxWaitClosed waits for c to be closed, failing after testTimeout.
func yamuxWaitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(testTimeout):
		require.FailNow(t, what+" did not close", "within %v", testTimeout)
	}
}

// TestYamuxSessionClose: closing either session ends the other.
func TestYamuxSessionClose(t *testing.T) {
	t.Run("CoreCloses", func(t *testing.T) {
		forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
			// yamux drops what it has not read yet when one of its own
			// writes fails, and every write to a closed peer fails. Its
			// only unsolicited write is the reply to core's preface ping
			// (sent from a goroutine of its own), so wait for that reply
			// to arrive: from then on yamux has nothing left to send.
			require.Eventually(t, func() bool { return h.cs.Stats().RTT > 0 },
				testTimeout, time.Millisecond, "the preface ping is answered")
			cst, yst := h.streamPair(t, "core")
			// Written, not read yet: Close delivers it before the end.
			msg := randBytes(11, 100<<10)
			_, err := cst.Write(msg)
			require.NoError(t, err)

			acceptErr := make(chan error, 1)
			h.wg.Go(func() {
				_, err := h.ys.AcceptStream()
				acceptErr <- err
			})

			require.NoError(t, h.cs.Close())
			yamuxWaitClosed(t, h.cs.Done(), "core Done")
			require.ErrorIs(t, h.cs.Err(), core.ErrSessionClosed)
			_, err = h.cs.OpenStream(ctxT(t))
			require.ErrorIs(t, err, core.ErrSessionClosed)
			_, err = cst.Write([]byte("late"))
			require.ErrorIs(t, err, core.ErrSessionClosed)

			yamuxWaitClosed(t, h.ys.CloseChan(), "yamux CloseChan")
			require.True(t, h.ys.IsClosed())
			select {
			case err := <-acceptErr:
				require.Error(t, err, "yamux AcceptStream fails once the session ends")
			case <-time.After(testTimeout):
				require.FailNow(t, "yamux AcceptStream still blocked")
			}
			_, err = h.ys.OpenStream()
			require.ErrorIs(t, err, yamux.ErrSessionShutdown)

			got, err := io.ReadAll(yst)
			require.NoError(t, err)
			requireEqualBytes(t, msg, got)
		})
	})
	t.Run("YamuxCloses", func(t *testing.T) {
		forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
			_, cst := h.streamPair(t, "yamux")

			readErr := make(chan error, 1)
			h.wg.Go(func() {
				_, err := cst.Read(make([]byte, 1))
				readErr <- err
			})
			acceptErr := make(chan error, 1)
			h.wg.Go(func() {
				_, err := h.cs.AcceptStream(context.Background())
				acceptErr <- err
			})

			require.NoError(t, h.ys.Close())
			require.True(t, h.ys.IsClosed())

			yamuxWaitClosed(t, h.cs.Done(), "core Done")
			err := h.cs.Err()
			require.ErrorIs(t, err, core.ErrSessionClosed)
			require.ErrorIs(t, err, net.ErrClosed)
			for name, c := range map[string]chan error{"stream Read": readErr, "AcceptStream": acceptErr} {
				select {
				case err := <-c:
					require.ErrorIs(t, err, core.ErrSessionClosed, "pending core %s", name)
				case <-time.After(testTimeout):
					require.FailNow(t, "pending core "+name+" still blocked")
				}
			}
			_, err = h.cs.OpenStream(ctxT(t))
			require.ErrorIs(t, err, core.ErrSessionClosed)
			_, err = cst.Write([]byte("late"))
			require.ErrorIs(t, err, core.ErrSessionClosed)
		})
	})
}

// yamuxWaitGroup waits for wg, failing (without blocking forever) after d.
func yamuxWaitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Errorf("%s still running after %v", what, d)
	}
}

// yamuxGoroutines returns the stacks of goroutines running yamux code.
func yamuxGoroutines() []string {
	var out []string
	for _, g := range parked.Stacks() {
		if strings.Contains(g, "github.com/hashicorp/yamux.") {
			out = append(out, g)
		}
	}
	return out
}

// awaitYamuxGoroutinesGone waits until no goroutine runs yamux code.
// yamux's Session.Close joins its read and write loops but not the tail of
// the goroutine that ran the read loop (it calls Close itself), nor ping
// replies and stream-open timers, which exit on their own once the session
// is shut down.
func awaitYamuxGoroutinesGone(t *testing.T) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Empty(c, yamuxGoroutines(), "yamux goroutines still running")
	}, testTimeout, time.Millisecond)
}

// TestYamuxConcurrentOpen opens yamux streams from many goroutines at once.
// yamux allocates stream IDs atomically but queues each SYN afterwards,
// outside any lock, so its SYNs regularly reach core out of ID order; core
// must accept them all (protocol.md §12) and stay up.
func TestYamuxConcurrentOpen(t *testing.T) {
	const (
		rounds     = 8
		concurrent = 32
	)
	forEachYamuxDirection(t, func(t *testing.T, h *yamuxHarness) {
		ctx := ctxT(t)
		for round := range rounds {
			start := make(chan struct{})
			var wg sync.WaitGroup // this round's openers, also in h.wg
			wg.Add(concurrent)
			for i := range concurrent {
				h.wg.Go(func() {
					defer wg.Done()
					<-start
					st, err := h.ys.OpenStream()
					if !assert.NoError(t, err, "round %d: yamux opens stream %d", round, i) {
						return
					}
					defer st.Close()
					_, err = st.Write([]byte{byte(i)})
					assert.NoError(t, err)
				})
			}
			close(start)
			for i := range concurrent {
				st, err := h.cs.AcceptStream(ctx)
				require.NoError(t, err, "round %d: core accepts stream %d of %d", round, i+1, concurrent)
				b := make([]byte, 1)
				_, err = io.ReadFull(st, b)
				require.NoError(t, err)
				require.NoError(t, st.Close())
			}
			wg.Wait()
			require.NoError(t, h.cs.Err(), "round %d", round)
		}
		assert.Equal(t, uint64(rounds*concurrent), h.cs.Stats().StreamsAccepted)
		assert.Zero(t, h.cs.Stats().StreamsReset)
	})
}
