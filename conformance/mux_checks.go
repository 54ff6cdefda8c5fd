package conformance

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/internal/parked"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/nettest"
)

var muxChecks = []check{
	{"OpenAccept", checkOpenAccept},
	{"Echo", checkEcho},
	{"LargeWrite", checkLargeWrite},
	{"ManyStreams", checkManyStreams},
	{"HalfClose", checkHalfClose},
	{"Reset", checkReset},
	{"StalledReader", checkStalledReader},
	{"Deadlines", checkDeadlines},
	{"StreamLimit", checkStreamLimit},
	{"GoAway", checkGoAway},
	{"GracefulClose", checkGracefulClose},
	{"Keepalive", checkKeepalive},
	{"CloseUnblocks", checkCloseUnblocks},
	{"AbruptClose", checkAbruptClose},
	{"TransportHalfClose", checkTransportHalfClose},
	{"NetConn", checkNetConn},
}

// sessions starts a client and a server session over a fresh pair.
func (e *env) sessions(mod ...func(*core.Config)) (client, server *core.Session) {
	c1, c2 := e.pipe()
	return e.sessionsOver(c1, c2, mod...)
}

func (e *env) sessionsOver(c1, c2 io.ReadWriteCloser, mod ...func(*core.Config)) (client, server *core.Session) {
	cfg := e.config()
	for _, m := range mod {
		m(&cfg)
	}
	var err error
	client, err = core.Client(c1, cfg)
	require.NoError(e, err)
	e.track(client)
	server, err = core.Server(c2, cfg)
	require.NoError(e, err)
	e.track(server)
	return client, server
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.timeout)
	e.Cleanup(cancel)
	return ctx
}

// streamPair opens a stream on a and accepts it on b.
func (e *env) streamPair(a, b *core.Session) (*core.Stream, *core.Stream) {
	ctx := e.ctx()
	x, err := a.OpenStream(ctx)
	require.NoError(e, err)
	// Make the SYN visible even to a peer that needs bytes to notice.
	y, err := b.AcceptStream(ctx)
	require.NoError(e, err)
	return x, y
}

// echoStream copies st back to itself, then half-closes.
func echoStream(st *core.Stream) error {
	if _, err := io.Copy(st, st); err != nil {
		return err
	}
	return st.CloseWrite()
}

// roundTrip writes data on st, half-closes, and returns what came back.
func roundTrip(st *core.Stream, data []byte) ([]byte, error) {
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(data)
		if err == nil {
			err = st.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(st)
	return got, errors.Join(err, <-werr)
}

func checkOpenAccept(e *env) {
	client, server := e.sessions()
	for _, d := range []struct {
		from, to *core.Session
		parity   uint32
	}{{client, server, 1}, {server, client, 0}} {
		for range 3 {
			a, b := e.streamPair(d.from, d.to)
			assert.Equal(e, d.parity, a.ID()%2, "stream ID parity")
			assert.Equal(e, a.ID(), b.ID())
			assert.NoError(e, a.Close())
			assert.NoError(e, b.Close())
		}
	}
}

func checkEcho(e *env) {
	client, server := e.sessions()
	for _, d := range [][2]*core.Session{{client, server}, {server, client}} {
		a, b := e.streamPair(d[0], d[1])
		go echoStream(b)
		data := randomBytes(3, e.size(1<<20))
		got, err := roundTrip(a, data)
		require.NoError(e, err)
		assert.Equal(e, sha256.Sum256(data), sha256.Sum256(got), "echo differs")
	}
}

func checkLargeWrite(e *env) {
	client, server := e.sessions()
	a, b := e.streamPair(client, server)
	data := randomBytes(4, e.size(16<<20))
	werr := make(chan error, 1)
	go func() {
		n, err := a.Write(data) // one Write
		if err == nil && n != len(data) {
			err = io.ErrShortWrite
		}
		if err == nil {
			err = a.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(b)
	require.NoError(e, err)
	require.NoError(e, <-werr)
	require.Equal(e, len(data), len(got))
	assert.Equal(e, sha256.Sum256(data), sha256.Sum256(got), "bytes differ or are out of order")
}

func checkManyStreams(e *env) {
	client, server := e.sessions()
	const streams = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for range streams {
			st, err := server.AcceptStream(e.ctx())
			if !assert.NoError(e, err) {
				return
			}
			wg.Go(func() { assert.NoError(e, echoStream(st)) })
		}
	})
	r := rand.New(rand.NewPCG(5, 5))
	for i := range streams {
		n := r.IntN(e.size(1<<20) + 1)
		wg.Go(func() {
			st, err := client.OpenStream(e.ctx())
			if !assert.NoError(e, err) {
				return
			}
			data := randomBytes(uint64(100+i), n)
			got, err := roundTrip(st, data)
			if assert.NoError(e, err, "stream %d", st.ID()) {
				assert.Equal(e, sha256.Sum256(data), sha256.Sum256(got), "stream %d (%d bytes) differs", st.ID(), n)
			}
			st.Close()
		})
	}
	wg.Wait()
}

func checkHalfClose(e *env) {
	client, server := e.sessions()
	for _, d := range [][2]*core.Session{{client, server}, {server, client}} {
		a, b := e.streamPair(d[0], d[1])
		_, err := a.Write([]byte("question"))
		require.NoError(e, err)
		require.NoError(e, a.CloseWrite())
		got, err := io.ReadAll(b) // ends with exactly io.EOF (nil here)
		require.NoError(e, err)
		assert.Equal(e, "question", string(got))
		_, err = b.Write([]byte("answer"))
		require.NoError(e, err, "the other direction still works")
		require.NoError(e, b.Close())
		got, err = io.ReadAll(a)
		require.NoError(e, err)
		assert.Equal(e, "answer", string(got))
		require.NoError(e, a.Close())
	}
}

func checkReset(e *env) {
	client, server := e.sessions()
	a, b := e.streamPair(client, server)
	_, err := a.Write([]byte("x"))
	require.NoError(e, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, a)
		readErr <- err
	}()
	require.NoError(e, b.Reset(0xC0DE))
	var se *core.StreamError
	err = <-readErr
	require.ErrorAs(e, err, &se, "the peer's Read fails with the reset")
	assert.Equal(e, core.ErrorCode(0xC0DE), se.Code)
	assert.True(e, se.Remote)
	require.Eventually(e, func() bool {
		_, err := a.Write([]byte("y"))
		return errors.As(err, &se) && se.Code == 0xC0DE
	}, e.opts.timeout, time.Millisecond, "the peer's Write fails with the reset")
}

func checkStalledReader(e *env) {
	client, server := e.sessions()
	stalled, _ := e.streamPair(client, server) // the accepted end is never read
	stalledSent := make(chan int, 1)
	go func() {
		n, _ := stalled.Write(make([]byte, 8<<20))
		stalledSent <- n
	}()
	a, b := e.streamPair(client, server)
	total := e.size(32 << 20)
	go func() {
		chunk := randomBytes(6, 256<<10)
		for left := total; left > 0; left -= len(chunk) {
			if _, err := a.Write(chunk[:min(left, len(chunk))]); err != nil {
				return
			}
		}
		a.CloseWrite()
	}()
	n, err := io.Copy(io.Discard, b)
	require.NoError(e, err)
	require.Equal(e, int64(total), n, "the moving stream finished")
	stalled.Close() // unblocks the stalled Write
	sent := <-stalledSent
	window := int(e.config().InitialStreamWindow)
	assert.LessOrEqual(e, sent, window, "the stalled stream took more than its window")
}

func checkDeadlines(e *env) {
	client, server := e.sessions()
	a, b := e.streamPair(client, server)
	require.NoError(e, a.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err := a.Read(make([]byte, 1))
	require.ErrorIs(e, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(e, err, &ne)
	assert.True(e, ne.Timeout())
	require.NoError(e, a.SetReadDeadline(time.Time{}))

	require.NoError(e, a.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
	n, err := a.Write(make([]byte, 64<<20)) // far beyond the peer's window
	require.ErrorIs(e, err, os.ErrDeadlineExceeded)
	e.Logf("the timed-out Write sent %d bytes", n)
	require.NoError(e, a.SetWriteDeadline(time.Time{}))

	// The count is exact (the peer gets exactly n bytes), and the stream
	// still works after both timeouts.
	copied := make(chan int64, 1)
	go func() {
		got, _ := io.CopyN(io.Discard, b, int64(n))
		copied <- got
	}()
	require.Equal(e, int64(n), <-copied, "the peer got exactly the bytes the Write reported")
	_, err = b.Write([]byte("still alive"))
	require.NoError(e, err)
	got := make([]byte, len("still alive"))
	_, err = io.ReadFull(a, got)
	require.NoError(e, err)
	assert.Equal(e, "still alive", string(got))
}

func checkStreamLimit(e *env) {
	const limit = 4
	client, server := e.sessions(func(c *core.Config) { c.MaxStreams = limit })
	var opened []*core.Stream
	for range limit {
		st, err := client.OpenStream(e.ctx())
		require.NoError(e, err)
		opened = append(opened, st)
	}
	// At the limit an opener waits (OpenStream, until its context ends)
	// or fails at once (TryOpenStream).
	_, err := client.TryOpenStream()
	require.ErrorIs(e, err, core.ErrStreamLimit)
	short, cancel := context.WithTimeout(e.ctx(), 20*time.Millisecond)
	_, err = client.OpenStream(short)
	cancel()
	require.ErrorIs(e, err, context.DeadlineExceeded)
	for range limit {
		_, err := server.AcceptStream(e.ctx())
		require.NoError(e, err)
	}
	// The server, at its limit, opens no stream of its own.
	_, err = server.TryOpenStream()
	require.ErrorIs(e, err, core.ErrStreamLimit)
	assert.LessOrEqual(e, server.NumStreams(), limit)
	for _, st := range opened {
		st.Reset(core.CodeCancel)
	}
}

func checkGoAway(e *env) {
	client, server := e.sessions()
	a, b := e.streamPair(client, server)
	shut := make(chan error, 1)
	go func() { shut <- server.Shutdown(e.ctx()) }()
	require.Eventually(e, func() bool {
		st, err := client.OpenStream(e.ctx())
		if err == nil {
			st.Close()
		}
		return errors.Is(err, core.ErrGoAway)
	}, e.opts.timeout, time.Millisecond, "new opens fail with ErrGoAway")
	// The open stream finishes both ways.
	go echoStream(b)
	got, err := roundTrip(a, []byte("finishing"))
	require.NoError(e, err)
	assert.Equal(e, "finishing", string(got))
	require.NoError(e, b.Close())
	require.NoError(e, a.Close())
	require.NoError(e, <-shut, "Shutdown returns once the streams are done")
}

func checkGracefulClose(e *env) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for i := range rounds {
		client, server := e.sessions()
		a, b := e.streamPair(client, server)
		data := randomBytes(uint64(7+i), e.size(1<<20))
		closed := make(chan error, 1)
		go func() {
			_, err := a.Write(data)
			if err == nil {
				err = a.Close()
			}
			if err == nil {
				err = client.Close() // at once: no waiting for the peer to read
			}
			closed <- err
		}()
		got, err := io.ReadAll(b)
		require.NoError(e, <-closed)
		require.NoError(e, err, "round %d", i)
		require.Equal(e, len(data), len(got), "round %d: bytes lost at close", i)
		require.Equal(e, sha256.Sum256(data), sha256.Sum256(got), "round %d", i)
		<-server.Done()
		require.ErrorIs(e, server.Err(), core.ErrSessionClosed)
		server.Close()
	}
}

func checkKeepalive(e *env) {
	c1, c2 := e.pipe()
	stall := Faulty(c2, Faults{})
	e.track(stall)
	cfg := e.config()
	cfg.KeepAliveInterval = 0 // only the client watches
	// The server's Close at the end gets no answer from the dead client
	// on carriers without a FIN (KCP): keep it short.
	cfg.CloseTimeout = 200 * time.Millisecond
	server, err := core.Server(stall, cfg)
	require.NoError(e, err)
	e.track(server)
	cfg.KeepAliveInterval = 50 * time.Millisecond
	cfg.KeepAliveTimeout = 300 * time.Millisecond
	cfg.CloseTimeout = 200 * time.Millisecond
	client, err := core.Client(c1, cfg)
	require.NoError(e, err)
	e.track(client)
	_, err = client.Ping(e.ctx())
	require.NoError(e, err, "healthy before the stall")
	stall.Stall() // the server side goes silent; nothing closes
	start := time.Now()
	select {
	case <-client.Done():
	case <-time.After(e.opts.timeout):
		e.Fatal("keepalive never ended the session")
	}
	require.ErrorIs(e, client.Err(), core.ErrKeepaliveTimeout)
	e.Logf("keepalive ended the session %v after the stall", time.Since(start))
	stall.Resume()
	server.Close()
}

// checkCloseUnblocks: session Close wakes a pending Read, Write,
// AcceptStream and Ping. The server side of the carrier is stalled first
// (nothing closes), so none of them can end any other way, and each is
// seen parked in the runtime's stack dump before Close.
func checkCloseUnblocks(e *env) {
	c1, c2 := e.pipe()
	stall := Faulty(c2, Faults{})
	e.track(stall)
	client, server := e.sessionsOver(c1, stall, func(c *core.Config) {
		c.KeepAliveInterval = 0
		c.CloseTimeout = 500 * time.Millisecond // the stalled peer answers no GoAway
	})
	a, _ := e.streamPair(client, server)
	_, err := client.Ping(e.ctx())
	require.NoError(e, err, "healthy before the stall")
	stall.Stall()

	calls := map[string]func() error{
		"(*Stream).Read":          func() error { _, err := a.Read(make([]byte, 1)); return err },
		"(*Stream).Write":         func() error { _, err := a.Write(make([]byte, 8<<20)); return err },
		"(*Session).AcceptStream": func() error { _, err := client.AcceptStream(context.Background()); return err },
		"(*Session).Ping":         func() error { _, err := client.Ping(context.Background()); return err },
	}
	type result struct {
		name string
		err  error
	}
	var fns []string
	returned := make(chan result, len(calls))
	for name, call := range calls {
		fns = append(fns, "github.com/netmux/netmux/core."+name)
		go func() { returned <- result{name, call()} }()
	}
	require.NoError(e, parked.Wait(e.opts.timeout/4, fns...), "every call must be blocked before Close")
	select {
	case r := <-returned:
		e.Fatalf("%s returned before Close: %v", r.name, r.err)
	default:
	}

	require.NoError(e, client.Close())
	timeout := time.After(e.opts.timeout / 4)
	for range len(fns) {
		select {
		case r := <-returned:
			delete(calls, r.name)
			assert.ErrorIs(e, r.err, core.ErrSessionClosed, r.name)
		case <-timeout:
			var blocked []string
			for name := range calls {
				blocked = append(blocked, name)
			}
			e.Fatalf("Close left calls blocked: %v", blocked)
		}
	}
}

// checkAbruptClose cuts the connection in the middle of a frame: both
// sessions end with an error and every pending call returns promptly.
func checkAbruptClose(e *env) {
	c1, c2 := e.pipe()
	cut := Faulty(c1, Faults{})
	e.track(cut)
	// Keepalive ends the sessions on carriers whose close never reaches
	// the peer (no FIN): keep it short so the check stays quick.
	client, server := e.sessionsOver(cut, c2, func(c *core.Config) {
		c.KeepAliveInterval = 100 * time.Millisecond
		c.KeepAliveTimeout = time.Second
	})
	a, b := e.streamPair(client, server)
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(io.Discard, b) })
	wg.Go(func() { _, err := b.Read(make([]byte, 1)); _ = err })
	wg.Go(func() {
		_, err := server.AcceptStream(context.Background())
		assert.Error(e, err)
	})
	cut.CutAfter(int64(e.size(100<<10) + 5)) // mid-frame: not on a 12-byte header boundary
	// Larger than the window, whatever the scale, so that the Write is
	// still waiting for credit when the cut ends the session.
	_, err := a.Write(make([]byte, max(e.size(4<<20), 4*int(e.config().InitialStreamWindow))))
	assert.Error(e, err, "the write crossing the cut fails")
	<-client.Done()
	<-server.Done()
	assert.Error(e, client.Err())
	assert.ErrorIs(e, server.Err(), core.ErrSessionClosed)
	assert.NotErrorIs(e, server.Err(), core.ErrGoAway, "a cut is not a clean close")
	wg.Wait()
}

// checkTransportHalfClose half-closes the carrier under a running session
// (the peer's process shut down its write side): both sessions end with
// errors and pending calls return promptly.
func checkTransportHalfClose(e *env) {
	c1, c2 := e.pipe()
	hc, ok := c2.(interface{ CloseWrite() error })
	if !ok {
		e.Skip("the transport's connections have no CloseWrite")
	}
	client, server := e.sessionsOver(c1, c2, func(c *core.Config) {
		c.KeepAliveInterval = 100 * time.Millisecond
		c.KeepAliveTimeout = time.Second
	})
	a, _ := e.streamPair(client, server)
	pending := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		pending <- err
	}()
	require.NoError(e, hc.CloseWrite())
	<-client.Done()
	assert.ErrorIs(e, client.Err(), core.ErrSessionClosed)
	assert.NotErrorIs(e, client.Err(), core.ErrGoAway, "an EOF without GoAway is not a clean close")
	assert.Error(e, <-pending)
	server.Close()
}

func checkNetConn(e *env) {
	e.Run("OpenerFirst", func(t *testing.T) { netConn(e, t, false) })
	e.Run("AcceptorFirst", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: the opener-first run covers the stream; the full run swaps the ends")
		}
		netConn(e, t, true)
	})
}

func netConn(e *env, t *testing.T, reverse bool) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		client, server := e.sessions()
		a, b := e.streamPair(client, server)
		stop = func() {
			a.Close()
			b.Close()
			client.Close()
			server.Close()
		}
		if reverse {
			return b, a, stop, nil
		}
		return a, b, stop, nil
	})
}
