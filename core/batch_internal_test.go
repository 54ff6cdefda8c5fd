package core

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

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

// TestSmallWriteLeadsBatch: a small Write goes at the front of the next
// batch, ahead of a bulk stream that queued first.
func TestSmallWriteLeadsBatch(t *testing.T) {
	c, sc := tcpPair(t)
	cli, srv := sessionPair(t, c, sc, DefaultConfig())
	bulk, err := cli.OpenStream(context.Background())
	require.NoError(t, err)
	small, err := cli.OpenStream(context.Background())
	require.NoError(t, err)
	received := make(chan int64, 2)
	for range 2 {
		go func() {
			st, err := srv.AcceptStream(context.Background())
			if err != nil {
				received <- -1
				return
			}
			n, _ := io.Copy(io.Discard, st)
			received <- n
		}()
	}

	holdTransport(t, cli) // so both Writes queue
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { bulk.Write(make([]byte, 1<<20)); bulk.CloseWrite() })
	require.Eventually(t, queued(cli, bulk), 10*time.Second, time.Millisecond)
	wg.Go(func() { small.Write(make([]byte, 64)); small.CloseWrite() })
	require.Eventually(t, queued(cli, small), 10*time.Second, time.Millisecond)

	cli.sendMu.Lock()
	batch, _ := cli.buildBatchLocked()
	cli.sendMu.Unlock()
	var first uint32
	for b := batch; len(b) >= frameHeaderLen; {
		h := decodeHeader(b)
		b = b[frameHeaderLen:]
		if h.typ == frameData {
			first = h.streamID
			break
		}
	}
	assert.Equal(t, small.ID(), first, "the small write's frame comes first")

	// Write what was built and hand the transport back.
	cli.finishSent()
	require.NoError(t, cli.writeBatch(batch))
	releaseTransport(cli)
	got := []int64{<-received, <-received}
	assert.ElementsMatch(t, []int64{1 << 20, 64}, got)
}
