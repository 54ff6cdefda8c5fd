package core_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/internal/parked"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenAcceptEchoBothWays(t *testing.T) {
	client, server := pair(t)
	for _, dir := range []struct {
		name       string
		open, acpt *core.Session
	}{{"client-opens", client, server}, {"server-opens", server, client}} {
		t.Run(dir.name, func(t *testing.T) {
			a, b := streamPair(t, dir.open, dir.acpt)
			if dir.open == client {
				assert.Equal(t, uint32(1), a.ID()%2, "client IDs are odd")
			} else {
				assert.Equal(t, uint32(0), a.ID()%2, "server IDs are even")
			}
			assert.Equal(t, a.ID(), b.ID())
			errc := make(chan error, 1)
			go func() { errc <- echo(b) }()
			msg := randBytes(1, 100_000)
			go func() {
				a.Write(msg)
				a.CloseWrite()
			}()
			got, err := io.ReadAll(a)
			require.NoError(t, err)
			requireEqualBytes(t, msg, got)
			require.NoError(t, <-errc)
			require.NoError(t, a.Close())
			require.NoError(t, b.Close())
		})
	}
}

func TestWriteBeforeAccept(t *testing.T) {
	client, server := pair(t)
	ctx := ctxT(t)
	st, err := client.OpenStream(ctx)
	require.NoError(t, err)
	// The opener writes at once, without waiting for the peer: up to the
	// protocol's initial credit goes out before any ACK.
	msg := randBytes(2, 200<<10)
	n, err := st.Write(msg)
	require.NoError(t, err)
	require.Equal(t, len(msg), n)
	require.NoError(t, st.CloseWrite())

	acc, err := server.AcceptStream(ctx)
	require.NoError(t, err)
	got, err := io.ReadAll(acc)
	require.NoError(t, err)
	requireEqualBytes(t, msg, got)
}

func TestLargeSingleWrite(t *testing.T) {
	client, server := pair(t)
	a, b := streamPair(t, client, server)
	msg := randBytes(3, 16<<20)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Write(msg)
		if err == nil {
			err = a.CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	requireEqualBytes(t, msg, got)
	st := client.Stats()
	assert.GreaterOrEqual(t, st.FramesSent, uint64(16<<20/(64<<10)), "writes are fragmented into max-size frames")
}

func TestManyConcurrentStreams(t *testing.T) {
	client, server := pair(t)
	const n = 100
	var wg sync.WaitGroup
	wg.Go(func() {
		for range n {
			st, err := server.AcceptStream(ctxT(t))
			if !assert.NoError(t, err) {
				return
			}
			wg.Go(func() { assert.NoError(t, echo(st)) })
		}
	})
	for i := range n {
		wg.Go(func() {
			st, err := client.OpenStream(ctxT(t))
			if !assert.NoError(t, err) {
				return
			}
			msg := randBytes(uint64(i), i*1000)
			go func() {
				st.Write(msg)
				st.CloseWrite()
			}()
			got, err := io.ReadAll(st)
			assert.NoError(t, err)
			assert.Equal(t, sum(msg), sum(got))
			st.Close()
		})
	}
	wg.Wait()
}

func TestHalfClose(t *testing.T) {
	client, server := pair(t)
	a, b := streamPair(t, client, server)
	require.NoError(t, a.CloseWrite())
	buf := make([]byte, 10)
	n, err := b.Read(buf)
	require.Equal(t, 0, n)
	require.Equal(t, io.EOF, err, "exactly io.EOF after the peer's FIN")
	// The other direction still works.
	_, err = b.Write([]byte("reply"))
	require.NoError(t, err)
	n, err = io.ReadFull(a, buf[:5])
	require.NoError(t, err)
	require.Equal(t, "reply", string(buf[:n]))
	_, err = a.Write([]byte("x"))
	require.ErrorIs(t, err, core.ErrWriteClosed)
	require.ErrorIs(t, err, net.ErrClosed)
	require.NoError(t, b.Close())
	_, err = a.Read(buf)
	require.Equal(t, io.EOF, err)
	require.NoError(t, a.Close())
	require.Eventually(t, func() bool { return client.NumStreams() == 0 && server.NumStreams() == 0 },
		testTimeout, time.Millisecond, "both sides forget the stream after FIN both ways")
}

func TestResetCarriesCode(t *testing.T) {
	client, server := pair(t)
	a, b := streamPair(t, client, server)
	readErr := make(chan error, 1)
	go func() {
		_, err := b.Read(make([]byte, 1))
		readErr <- err
	}()
	require.NoError(t, a.Reset(0x1234))
	var se *core.StreamError
	err := <-readErr
	require.ErrorAs(t, err, &se)
	assert.Equal(t, core.ErrorCode(0x1234), se.Code)
	assert.True(t, se.Remote)
	assert.Equal(t, a.ID(), se.StreamID)
	_, err = b.Write([]byte("x"))
	require.ErrorAs(t, err, &se)
	// The local side sees its own reset.
	_, err = a.Read(make([]byte, 1))
	require.ErrorAs(t, err, &se)
	assert.False(t, se.Remote)
}

func TestPing(t *testing.T) {
	client, server := pair(t)
	for _, s := range []*core.Session{client, server} {
		rtt, err := s.Ping(ctxT(t))
		require.NoError(t, err)
		assert.Greater(t, rtt, time.Duration(0))
		assert.Greater(t, s.Stats().RTT, time.Duration(0))
	}
}

func TestDeadlines(t *testing.T) {
	client, server := pair(t)
	a, _ := streamPair(t, client, server)
	require.NoError(t, a.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := a.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())

	// A write blocked on credit times out with a partial count.
	require.NoError(t, a.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	n, err := a.Write(make([]byte, 1<<20))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Equal(t, 256<<10, n, "exactly the initial window was taken")
}

func TestCloseDeliversEverything(t *testing.T) {
	client, server := pair(t)
	a, b := streamPair(t, client, server)
	msg := randBytes(4, 200<<10)
	_, err := a.Write(msg)
	require.NoError(t, err)
	require.NoError(t, a.CloseWrite())
	require.NoError(t, client.Close())
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	requireEqualBytes(t, msg, got)
	<-server.Done()
	require.ErrorIs(t, server.Err(), core.ErrSessionClosed)
	require.ErrorIs(t, server.Err(), core.ErrGoAway)
	require.ErrorIs(t, client.Err(), core.ErrSessionClosed)
}

// Close wakes every call parked in the session: a Read with no data, a
// Write with no credit, an AcceptStream and a Ping that nobody answers.
// The peer end is only drained, so nothing but Close can end them, and
// each is seen parked (in the runtime's stack dump) before Close.
func TestCloseUnblocksEverything(t *testing.T) {
	c1, c2 := mem.Pipe()
	go io.Copy(io.Discard, c2) // a peer that reads and never answers
	defer c2.Close()
	client, err := core.Client(c1, func() core.Config {
		cfg := core.DefaultConfig()
		cfg.KeepAliveInterval = 0
		cfg.CloseTimeout = 200 * time.Millisecond // no GoAway will answer ours
		return cfg
	}())
	require.NoError(t, err)
	defer client.Close()
	a, err := client.OpenStream(ctxT(t))
	require.NoError(t, err)

	calls := map[string]func() error{
		"(*Stream).Read":          func() error { _, err := a.Read(make([]byte, 1)); return err },
		"(*Stream).Write":         func() error { _, err := a.Write(make([]byte, 1<<20)); return err },
		"(*Session).AcceptStream": func() error { _, err := client.AcceptStream(context.Background()); return err },
		"(*Session).Ping":         func() error { _, err := client.Ping(context.Background()); return err },
	}
	var fns []string
	returned := make(chan string, len(calls))
	errs := make(chan error, len(calls))
	for name, call := range calls {
		fns = append(fns, "github.com/netmux/netmux/core."+name)
		go func() {
			errs <- call()
			returned <- name
		}()
	}
	require.NoError(t, parked.Wait(testTimeout, fns...), "every call must be blocked before Close")
	select {
	case name := <-returned:
		t.Fatalf("%s returned before Close: %v", name, <-errs)
	default:
	}

	require.NoError(t, client.Close())
	timeout := time.After(testTimeout)
	for range len(fns) {
		select {
		case name := <-returned:
			delete(calls, name)
		case <-timeout:
			var blocked []string
			for name := range calls {
				blocked = append(blocked, name)
			}
			t.Fatalf("Close left calls blocked: %v", blocked)
		}
	}
	close(errs)
	for err := range errs {
		assert.ErrorIs(t, err, core.ErrSessionClosed)
	}
	_, err = client.OpenStream(context.Background())
	require.ErrorIs(t, err, core.ErrSessionClosed)
}

// At MaxStreams an opener waits, and gets its stream as soon as one of
// the open ones is finished on both sides.
func TestStreamLimitWaits(t *testing.T) {
	client, server := pair(t, func(c *core.Config) { c.MaxStreams = 3 })
	var open []*core.Stream
	for range 3 {
		st, err := client.OpenStream(ctxT(t))
		require.NoError(t, err)
		open = append(open, st)
	}
	_, err := client.TryOpenStream()
	require.ErrorIs(t, err, core.ErrStreamLimit)
	got := make(chan error, 1)
	go func() {
		st, err := client.OpenStream(ctxT(t))
		if err == nil {
			st.Close()
		}
		got <- err
	}()
	require.Never(t, func() bool { return len(got) > 0 }, 50*time.Millisecond, time.Millisecond,
		"OpenStream returned while MaxStreams streams were open")
	require.Equal(t, 3, client.NumStreams())
	// Finish one stream on both sides: the waiting opener proceeds.
	require.NoError(t, open[0].Close())
	peer, err := server.AcceptStream(ctxT(t))
	require.NoError(t, err)
	require.NoError(t, peer.Close())
	require.NoError(t, <-got)
}

func TestShutdownRefusesNewStreams(t *testing.T) {
	client, server := pair(t)
	a, b := streamPair(t, client, server)
	done := make(chan error, 1)
	ctx := ctxT(t)
	go func() { done <- server.Shutdown(ctx) }()
	require.Eventually(t, func() bool {
		_, err := client.OpenStream(ctx)
		return errors.Is(err, core.ErrGoAway)
	}, testTimeout, time.Millisecond)
	// The open stream still works both ways.
	_, err := a.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	require.NoError(t, <-done)
}

// A session that ends with streams open holds none of them afterwards,
// while the application's Stream values keep failing.
func TestDeadSessionHoldsNoStreams(t *testing.T) {
	c1, c2 := mem.Pipe()
	client, err := core.Client(c1, core.DefaultConfig())
	require.NoError(t, err)
	server, err := core.Server(c2, core.DefaultConfig())
	require.NoError(t, err)
	a, b := streamPair(t, client, server)
	_, err = client.OpenStream(ctxT(t)) // left in the server's accept queue
	require.NoError(t, err)
	require.Eventually(t, func() bool { return server.Stats().AcceptQueue == 1 }, testTimeout, time.Millisecond)
	require.Equal(t, 2, client.NumStreams())
	require.Equal(t, 2, server.NumStreams())

	require.NoError(t, c1.Close()) // the carrier fails under both sessions
	for _, s := range []*core.Session{client, server} {
		<-s.Done()
		require.Error(t, s.Err())
		assert.Equal(t, 0, s.NumStreams())
		st := s.Stats()
		assert.Equal(t, 0, st.StreamsActive)
		assert.Equal(t, 0, st.AcceptQueue)
	}
	_, err = a.Write([]byte("x"))
	require.ErrorIs(t, err, core.ErrSessionClosed)
	_, err = b.Read(make([]byte, 1))
	require.ErrorIs(t, err, core.ErrSessionClosed)
	require.NoError(t, client.Close())
	require.NoError(t, server.Close())
}
