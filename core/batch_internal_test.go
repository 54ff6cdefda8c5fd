package core

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeSizes is a transparent TCP wrapper that records the size of every
// transport write.
type writeSizes struct {
	*net.TCPConn
	mu    sync.Mutex
	sizes []int
}

func (w *writeSizes) TransparentConn() net.Conn { return w.TCPConn }

func (w *writeSizes) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.sizes = append(w.sizes, len(p))
	w.mu.Unlock()
	return w.TCPConn.Write(p)
}

func TestBatchLimit(t *testing.T) {
	s := &Session{}
	assert.Equal(t, maxBatch, s.batchLimit(), "MSS unknown")
	s.sndMSS.Store(65483) // loopback's
	assert.Equal(t, 2*65483, s.batchLimit())
	s.sndMSS.Store(1448)
	assert.Equal(t, 90*1448, s.batchLimit())
	s.sndMSS.Store(maxBatch + 1)
	assert.Equal(t, maxBatch, s.batchLimit())
}

// TestBatchesEndOnSegments: over TCP on Linux, a full batch is a whole
// number of segments, cutting its last frame to fit; none is larger.
func TestBatchesEndOnSegments(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the MSS is read on Linux only")
	}
	c, sc := tcpPair(t)
	rec := &writeSizes{TCPConn: c}
	cli, srv := sessionPair(t, rec, sc, DefaultConfig())
	require.Positive(t, cli.sndMSS.Load())
	limit := cli.batchLimit()

	const total = 4 << 20
	st, err := cli.OpenStream(context.Background())
	require.NoError(t, err)
	got := make(chan int64, 1)
	go func() {
		peer, err := srv.AcceptStream(context.Background())
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.Copy(io.Discard, peer)
		got <- n
	}()
	n, err := st.Write(make([]byte, total))
	require.NoError(t, err)
	require.Equal(t, total, n)
	require.NoError(t, st.CloseWrite())
	require.Equal(t, int64(total), <-got)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	full := 0
	for _, n := range rec.sizes {
		assert.LessOrEqual(t, n, limit+2*frameHeaderLen, "no batch runs past the limit (bar a FIN and RST)")
		if n == limit {
			full++
		}
	}
	assert.Positive(t, full, "full batches end exactly at the limit: %v", rec.sizes)
}
