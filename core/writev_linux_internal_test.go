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

// TestLentWriteKeepsBuffer: over TCP the writer sends large payload from
// the Write's own buffer, so a Write must not return while a transport
// write still reads it, even when its deadline fires meanwhile. The test
// plays the writer: it holds the transport, so the Write queues, builds
// the batch and writes it to a bare socket that reads nothing at first,
// with small buffers, so the transport write blocks holding the buffer.
func TestLentWriteKeepsBuffer(t *testing.T) {
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
	require.Never(t, func() bool { return len(done) > 0 }, 50*time.Millisecond, time.Millisecond,
		"the Write returned while its buffer was in a transport write")

	// Let the transport drain and hand it back; once the Write returns,
	// scribble over its buffer: the peer must still read the original.
	type payload struct {
		b   []byte
		err error
	}
	peerGot := make(chan payload, 1)
	go func() {
		b, err := readPayload(sc, st.ID(), len(p))
		peerGot <- payload{b, err}
	}()
	require.NoError(t, <-written)
	releaseTransport(cli)
	r := <-done
	clear(p)
	require.Equal(t, len(want), r.n, "all of p was taken before the deadline")
	require.NoError(t, r.err)
	got := <-peerGot
	require.NoError(t, got.err)
	assert.Equal(t, want, got.b)
}
