package conformance

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Checks of the patterns ordinary programs produce: bursts of opens,
// churn, deadlines and contexts while the carrier is stuck, and an HTTP
// server shutting down over a session's Listener view.
var loadChecks = []check{
	{"BurstOfOpens", checkBurstOfOpens},
	{"Churn", checkChurn},
	{"CloseWriteChurn", checkCloseWriteChurn},
	{"DeadlineWhileStuck", checkDeadlineWhileStuck},
	{"OpenWhileStuck", checkOpenWhileStuck},
	{"ListenerShutdown", checkListenerShutdown},
}

// RunLoad runs only the load checks.
func RunLoad(t *testing.T, mp MakePipe, opts ...Option) { runChecks(t, mp, loadChecks, opts) }

// serveEach accepts streams on s until it ends, each handled on a
// goroutine of its own; the end of the check closes s and joins them.
func (e *env) serveEach(s *core.Session, handle func(*core.Stream)) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			st, err := s.AcceptStream(context.Background())
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(st)
			}()
		}
	}()
	e.Cleanup(func() {
		s.Close()
		wg.Wait()
	})
}

// atLeast is n scaled down for a slow transport (WithScale, -short), but
// never below floor.
func (e *env) atLeast(n, floor int) int { return max(e.size(n), floor) }

// Pattern 1: concurrent openers, each echoing 10 x 2 KiB, against a
// server that accepts in a loop: nothing is refused or reset.
func checkBurstOfOpens(e *env) {
	client, server := e.sessions()
	e.serveEach(server, func(st *core.Stream) {
		io.Copy(st, st)
		st.Close()
	})
	n := e.atLeast(1000, 200)
	errs := make(chan error, n)
	for range n {
		go func() { errs <- echoRounds(e.ctx(), client, 10, 2<<10) }()
	}
	for range n {
		require.NoError(e, <-errs)
	}
	assert.Zero(e, server.Stats().StreamsRefused, "streams refused")
	assert.Zero(e, client.Stats().StreamsReset, "streams reset")
}

func echoRounds(ctx context.Context, s *core.Session, rounds, size int) error {
	st, err := s.OpenStream(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	out, in := randomBytes(uint64(st.ID()), size), make([]byte, size)
	for range rounds {
		if _, err := st.Write(out); err != nil {
			return err
		}
		if _, err := io.ReadFull(st, in); err != nil {
			return err
		}
		if string(in) != string(out) {
			return errors.New("echo differs")
		}
	}
	return nil
}

// Pattern 2: open, write a byte, Close, in a loop, against a server that
// reads one byte and closes without reading EOF: OpenStream never fails,
// and every stream is forgotten on both sides.
func checkChurn(e *env) {
	client, server := e.sessions()
	e.serveEach(server, func(st *core.Stream) {
		var b [1]byte
		io.ReadFull(st, b[:])
		st.Close()
	})
	ctx := e.ctx()
	for i := range e.atLeast(10000, 1000) {
		st, err := client.OpenStream(ctx)
		require.NoError(e, err, "open %d", i)
		_, err = st.Write([]byte{1})
		require.NoError(e, err)
		require.NoError(e, st.Close())
	}
	require.Eventually(e, func() bool { return client.NumStreams() == 0 && server.NumStreams() == 0 },
		e.opts.timeout/2, time.Millisecond, "streams are forgotten on both sides")
	assert.Zero(e, server.Stats().StreamsRefused, "streams refused")
}

// Five goroutines open, CloseWrite and read EOF in a loop.
func checkCloseWriteChurn(e *env) {
	client, server := e.sessions()
	e.serveEach(server, func(st *core.Stream) {
		io.Copy(io.Discard, st)
		st.Close()
	})
	per := e.atLeast(10000, 200)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			for range per {
				st, err := client.OpenStream(e.ctx())
				if err == nil {
					err = st.CloseWrite()
				}
				if err == nil {
					_, err = io.Copy(io.Discard, st)
				}
				if err != nil {
					errs <- err
					return
				}
				st.Close()
			}
			errs <- nil
		}()
	}
	for range 5 {
		require.NoError(e, <-errs)
	}
	require.Eventually(e, func() bool { return client.NumStreams() == 0 },
		e.opts.timeout/2, time.Millisecond, "streams are forgotten")
}

// stuckSessions returns a client session whose carrier takes no more
// writes: its end is stalled once streams is open, after it sent all it
// could.
func (e *env) stuckSessions(mod func(*core.Config)) (client *core.Session, stall func()) {
	c1, c2 := e.pipe()
	fc := Faulty(c1, Faults{})
	client, _ = e.sessionsOver(fc, c2, func(c *core.Config) {
		c.WriteTimeout = 0 // only the deadline may end a Write
		c.KeepAliveInterval = 0
		c.CloseTimeout = 200 * time.Millisecond
		if mod != nil {
			mod(c)
		}
	})
	return client, fc.Stall
}

// waitStuck waits until the session's writer has sent nothing for a
// while: the carrier takes no more.
func (e *env) waitStuck(s *core.Session) {
	require.Eventually(e, func() bool {
		before := s.Stats().BytesSent
		time.Sleep(20 * time.Millisecond)
		return s.Stats().BytesSent == before
	}, e.opts.timeout/2, time.Millisecond, "the carrier never stuck")
}

// Pattern 3: streams blocked in large Writes on a stuck carrier; a write
// deadline set from another goroutine returns every Write at once.
func checkDeadlineWhileStuck(e *env) {
	client, stall := e.stuckSessions(nil)
	const streams = 64
	p := make([]byte, 4<<20)
	sts := make([]*core.Stream, streams)
	done := make(chan error, streams)
	for i := range sts {
		st, err := client.OpenStream(e.ctx())
		require.NoError(e, err)
		sts[i] = st
	}
	stall()
	for _, st := range sts {
		go func() {
			n, err := st.Write(p)
			if err == nil || n >= len(p) {
				err = errors.New("a 4 MiB Write to a stuck carrier completed")
			}
			done <- err
		}()
	}
	e.waitStuck(client)
	for _, st := range sts {
		require.NoError(e, st.SetWriteDeadline(time.Now()))
	}
	for range streams {
		select {
		case err := <-done:
			require.ErrorIs(e, err, os.ErrDeadlineExceeded)
		case <-time.After(5 * time.Second):
			require.Fail(e, "a Write outlived its deadline by 5 s")
		}
	}
}

// Pattern 4: on a stuck carrier, with the control queue full of frames
// this side originates, OpenStream honours its context, and NumStreams
// and Close return: nothing waits on the carrier under a lock.
func checkOpenWhileStuck(e *env) {
	client, stall := e.stuckSessions(func(c *core.Config) { c.MaxControlFrames = 16 })
	stall()
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for range 100 { // 100 SYNs queue behind the stuck carrier
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			client.OpenStream(ctx)
			cancel()
		}
		client.NumStreams()
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		require.Fail(e, "OpenStream waited on a stuck carrier")
	}
	closed := make(chan struct{})
	go func() {
		client.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		require.Fail(e, "Close waited on a stuck carrier past CloseTimeout")
	}
}

// Pattern 5: an http.Server over the session's Listener view: Shutdown
// stops accepting and the request in flight completes.
func checkListenerShutdown(e *env) {
	client, server := e.sessions()
	inHandler, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
		io.WriteString(w, "drained")
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(server.Listener()) }()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return client.OpenStream(ctx) },
	}
	defer tr.CloseIdleConnections()
	type reply struct {
		body string
		err  error
	}
	got := make(chan reply, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("http://netmux/")
		if err != nil {
			got <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- reply{string(b), err}
	}()
	<-inHandler
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(e.ctx()) }()
	require.ErrorIs(e, <-served, http.ErrServerClosed)
	require.Eventually(e, func() bool {
		_, err := client.TryOpenStream()
		return errors.Is(err, core.ErrGoAway)
	}, e.opts.timeout/2, time.Millisecond, "the peer is told to open no more streams")
	close(release)
	r := <-got
	require.NoError(e, r.err)
	assert.Equal(e, "drained", r.body)
	require.NoError(e, <-shut)
	require.NoError(e, server.Err(), "the session outlives its listener")
}
