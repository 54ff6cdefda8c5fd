package core

import (
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Session.woken counts Reads the reader woke that have not run since; it
// must come back to zero, or every later small Write would wait for the
// writer goroutine.
func TestWokenSettles(t *testing.T) {
	c, sc := mem.Pipe()
	cli, srv := sessionPair(t, c, sc, DefaultConfig())
	const streams, rounds = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, 2*streams)
	for range streams {
		st, err := cli.OpenStream(t.Context())
		require.NoError(t, err)
		peer, err := srv.AcceptStream(t.Context())
		require.NoError(t, err)
		wg.Add(2)
		go func() { // echo
			defer wg.Done()
			_, err := io.Copy(peer, peer)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			defer st.Close()
			msg, back := make([]byte, 64), make([]byte, 64)
			for i := range rounds {
				msg[0] = byte(i)
				if _, err := st.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(st, back); err != nil {
					errs <- err
					return
				}
				if back[0] != byte(i) {
					errs <- io.ErrUnexpectedEOF
					return
				}
			}
			errs <- st.CloseWrite()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Zero(t, cli.woken.Load(), "client")
	assert.Zero(t, srv.woken.Load(), "server")
}

// A small Write that leaves its frame to be shared is written even when
// the goroutines it waits for never write: the writer goroutine yields
// once, not until they have run.
func TestSharedWriteIsWritten(t *testing.T) {
	c, sc := mem.Pipe()
	cli, srv := sessionPair(t, c, sc, DefaultConfig())
	st, err := cli.OpenStream(t.Context())
	require.NoError(t, err)
	peer, err := srv.AcceptStream(t.Context())
	require.NoError(t, err)

	cli.woken.Add(1) // a woken Read that never runs
	defer cli.woken.Add(-1)
	_, err = st.Write([]byte("shared"))
	require.NoError(t, err)
	cli.sendMu.Lock()
	assert.False(t, cli.sender.yield, "the writer took the frame and the hint")
	cli.sendMu.Unlock()
	got := make([]byte, 6)
	_, err = io.ReadFull(peer, got)
	require.NoError(t, err)
	assert.Equal(t, "shared", string(got))
}

// TestRepliesShareAWrite shows what Session.woken buys: eight handlers
// woken by requests that arrived in one transport read answer in one or
// two transport writes, not eight. With GOMAXPROCS 1 the order is fixed:
// the reader wakes all eight before any runs. Without the count, each
// handler would find the transport idle and write its reply alone.
func TestRepliesShareAWrite(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, sc := tcpPair(t)
	cfg := DefaultConfig()
	cfg.KeepAliveInterval = 0
	cli, srv := sessionPair(t, c, sc, cfg)
	require.NotNil(t, srv.sock, "the server writes inline over direct socket I/O")
	const n = 8
	sts := make([]*Stream, n)
	handlers := make([]*Stream, n)
	errs := make(chan error, n)
	for i := range sts {
		st, err := cli.OpenStream(t.Context())
		require.NoError(t, err)
		_, err = st.Write([]byte{0}) // make the SYN reach the server
		require.NoError(t, err)
		sts[i] = st
		h, err := srv.AcceptStream(t.Context())
		require.NoError(t, err)
		handlers[i] = h
		go func() {
			req := make([]byte, 2)
			if _, err := io.ReadFull(h, req); err != nil {
				errs <- err
				return
			}
			_, err := h.Write([]byte("reply"))
			errs <- err
		}()
	}
	// Every handler is parked in its Read, and the server is idle.
	require.Eventually(t, func() bool {
		for _, h := range handlers {
			h.mu.Lock()
			parked := h.parked
			h.mu.Unlock()
			if !parked {
				return false
			}
		}
		srv.sendMu.Lock()
		defer srv.sendMu.Unlock()
		return !srv.sender.busy && len(srv.sender.ctrl) == 0
	}, 10*time.Second, time.Millisecond)
	before := srv.stats.transportWrites.Load()

	// The eight requests leave the client in one transport write.
	holdTransport(t, cli)
	var wrote sync.WaitGroup
	for _, st := range sts {
		wrote.Add(1)
		go func() {
			defer wrote.Done()
			st.Write([]byte{1})
		}()
		require.Eventually(t, queued(cli, st), 10*time.Second, time.Millisecond)
	}
	cli.sendMu.Lock()
	batch, _ := cli.buildBatchLocked()
	cli.sendMu.Unlock()
	require.NoError(t, cli.writeBatch(batch))
	releaseTransport(cli)
	wrote.Wait()

	for range n {
		require.NoError(t, <-errs)
	}
	reply := make([]byte, 5)
	for _, st := range sts {
		_, err := io.ReadFull(st, reply)
		require.NoError(t, err)
	}
	writes := srv.stats.transportWrites.Load() - before
	assert.LessOrEqual(t, writes, uint64(2), "eight replies took %d transport writes", writes)
	t.Logf("eight replies in %d transport writes", writes)
}
