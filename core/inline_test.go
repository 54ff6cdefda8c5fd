package core_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteDeadlineWithBlockedTransport: a Write whose caller would write
// the transport itself (the writer goroutine is idle) must still return at
// its deadline when the transport write blocks, here because the peer
// never reads.
func TestWriteDeadlineWithBlockedTransport(t *testing.T) {
	c1, c2 := mem.Pipe(mem.WithBufferSize(16 << 10))
	defer c2.Close() // never read: the pipe fills
	cfg := core.DefaultConfig()
	cfg.CloseTimeout = 100 * time.Millisecond
	cfg.KeepAliveInterval = 0
	sess, err := core.Client(c1, cfg)
	require.NoError(t, err)
	defer sess.Close()

	st, err := sess.OpenStream(context.Background())
	require.NoError(t, err)
	require.NoError(t, st.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	// The initial credit, more than one batch: the first batch blocks in
	// the transport, the rest must wait for it.
	const size = 256 << 10
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := st.Write(make([]byte, size))
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		assert.ErrorIs(t, r.err, os.ErrDeadlineExceeded)
		assert.Less(t, r.n, size)
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked in the transport past its deadline")
	}
}
