package core

import (
	"io"
	"sync"
	"testing"

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
