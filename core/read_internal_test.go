package core

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A Read that returns credit never writes to the transport: with the
// carrier's write side stuck and the writer goroutine idle, a Read with
// data buffered returns at once (it used to write its window update
// itself, and wait there).
func TestReadNeverWrites(t *testing.T) {
	a, b := tcpPair(t)
	gate := &gatedConn{Conn: b, open: make(chan struct{})}
	cfg := DefaultConfig()
	cfg.WriteTimeout = 0
	cfg.KeepAliveInterval = 0
	cfg.CloseTimeout = 200 * time.Millisecond
	cli, srv := sessionPair(t, a, gate, cfg)
	t.Cleanup(func() { close(gate.open) }) // runs before the sessions close
	st, err := cli.OpenStream(t.Context())
	require.NoError(t, err)
	data := make([]byte, 200<<10) // past the credit-return threshold
	_, err = st.Write(data)
	require.NoError(t, err)
	peer, err := srv.AcceptStream(t.Context())
	require.NoError(t, err)
	// The server has written everything it had (its ACK) and its writer
	// is idle: from now on its transport writes block.
	require.Eventually(t, func() bool {
		srv.sendMu.Lock()
		defer srv.sendMu.Unlock()
		return !srv.sender.busy && len(srv.sender.ctrl) == 0
	}, 10*time.Second, time.Millisecond)
	gate.stuck.Store(true)
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(peer, make([]byte, len(data)))
		read <- err
	}()
	select {
	case err := <-read:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a Read waited on the transport's write side")
	}
}

// gatedConn's Write blocks, once stuck is set, until open is closed. It
// hides the socket, as any wrapper without TransparentConn does.
type gatedConn struct {
	net.Conn
	stuck atomic.Bool
	open  chan struct{}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	if g.stuck.Load() {
		<-g.open
	}
	return g.Conn.Write(p)
}
