package core_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stream whose reader never reads must not slow another stream, and what
// the session buffers for it stays within its window.
func TestStalledStreamDoesNotBlockOthers(t *testing.T) {
	client, server := pair(t)
	stalledW, stalledR := streamPair(t, client, server)
	_ = stalledR // never read

	// Fill the stalled stream's window: the writer blocks once it is used.
	wrote := make(chan int, 1)
	go func() {
		n, _ := stalledW.Write(make([]byte, 8<<20))
		wrote <- n
	}()

	a, b := streamPair(t, client, server)
	const total = 64 << 20
	errc := make(chan error, 1)
	go func() {
		chunk := randBytes(7, 1<<20)
		for i := 0; i < total/len(chunk); i++ {
			if _, err := a.Write(chunk); err != nil {
				errc <- err
				return
			}
		}
		errc <- a.CloseWrite()
	}()
	n, err := io.Copy(io.Discard, b)
	require.NoError(t, err)
	require.Equal(t, int64(total), n)
	require.NoError(t, <-errc)

	// The stalled writer is still blocked, having sent exactly one window.
	stalledW.Close() // unblocks the Write
	sent := <-wrote
	assert.Equal(t, 256<<10, sent, "the stalled stream got exactly its initial window")
	assert.LessOrEqual(t, server.Stats().BytesReceived, uint64(total+256<<10))
}

func TestPartialReadReturnsCredit(t *testing.T) {
	client, server := pair(t)
	a, b := streamPair(t, client, server)
	// 256 KiB fills the window; reading half of it (the threshold for a
	// 256 KiB window, over every carrier) must let the writer continue by
	// that much. Read more than the threshold in pieces and the last
	// piece's credit may wait for the next read: credit goes back in
	// batches.
	done := make(chan int, 1)
	go func() {
		n, _ := a.Write(make([]byte, 256<<10+64<<10))
		done <- n
	}()
	buf := make([]byte, 128<<10)
	_, err := io.ReadFull(b, buf)
	require.NoError(t, err)
	require.Equal(t, 256<<10+64<<10, <-done)
}
