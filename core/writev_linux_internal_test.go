package core

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readPayload reads frames from r until it has n bytes of Data payload
// for stream id, and returns them. It runs on a goroutine of its own, so
// it reports errors instead of failing the test.
func readPayload(r io.Reader, id uint32, n int) ([]byte, error) {
	br := bufio.NewReader(r)
	var got []byte
	hb := make([]byte, frameHeaderLen)
	for len(got) < n {
		if _, err := io.ReadFull(br, hb); err != nil {
			return got, err
		}
		h := decodeHeader(hb)
		if h.typ != frameData {
			continue // no other frame carries payload
		}
		p := make([]byte, h.length)
		if _, err := io.ReadFull(br, p); err != nil {
			return got, err
		}
		if h.streamID == id {
			got = append(got, p...)
		}
	}
	return got, nil
}

// TestLentWriteMeetsDeadline: over TCP the writer sends large payload
// from the Write's own buffer, but a loan lasts only as long as the system
// calls taking its bytes: when the socket is full the rest is copied aside
// (unlend) and the Write returns, with a deadline set or not, while the
// carrier takes nothing. The bytes on the wire stay the Write's original
// ones even when the caller scribbles over its buffer at once. The test
// plays the writer: it holds the transport, so the Write queues, builds
// the batch and writes it to a bare socket that reads nothing at first,
// with small buffers, so the transport write blocks.
func TestLentWriteMeetsDeadline(t *testing.T) {
	c, sc := tcpPair(t)
	require.NoError(t, c.SetWriteBuffer(16<<10))
	require.NoError(t, sc.SetReadBuffer(16<<10))
	cfg := DefaultConfig()
	cfg.CloseTimeout = 100 * time.Millisecond // no peer session answers the close
	cli, err := Client(c, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	require.NotNil(t, cli.sock)
	st, err := cli.OpenStream(context.Background())
	require.NoError(t, err)

	holdTransport(t, cli)

	p := bytes.Repeat([]byte("netmux lends!  "), 100<<10/15+1)[:100<<10]
	want := bytes.Clone(p)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := st.Write(p)
		done <- result{n, err}
	}()
	require.Eventually(t, queued(cli, st), 10*time.Second, time.Millisecond)
	cli.sendMu.Lock()
	batch, _ := cli.buildBatchLocked()
	lent, taken := st.lent, st.pend == nil
	cli.sendMu.Unlock()
	require.True(t, lent, "the batch holds the Write's buffer")
	require.True(t, taken, "all of p is in the batch")
	written := make(chan error, 1)
	go func() { written <- cli.writeBatch(batch) }()

	require.NoError(t, st.SetWriteDeadline(time.Now()))
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the Write waited for a carrier that takes nothing")
	}
	require.Equal(t, len(want), r.n, "all of p was handed over")
	require.NoError(t, r.err)
	require.Empty(t, written, "the transport write is still blocked")
	clear(p) // the caller owns p again: the peer must still read the original

	type payload struct {
		b   []byte
		err error
	}
	peerGot := make(chan payload, 1)
	go func() {
		b, err := readPayload(sc, st.ID(), len(want))
		peerGot <- payload{b, err}
	}()
	require.NoError(t, <-written)
	releaseTransport(cli)
	got := <-peerGot
	require.NoError(t, got.err)
	assert.Equal(t, want, got.b)
}
