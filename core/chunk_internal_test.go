package core

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecvBufferShare: shared pieces and copied ones come out in order,
// and reading or resetting the buffer lets go of the chunk.
func TestRecvBufferShare(t *testing.T) {
	c := newChunk()
	for i := range c.buf {
		c.buf[i] = byte(i * 7)
	}
	var b recvBuffer
	var want []byte
	b.share(c, 100, minShared)
	want = append(want, c.buf[100:100+minShared]...)
	b.write([]byte("copied"))
	want = append(want, "copied"...)
	b.share(c, 40000, 20000)
	want = append(want, c.buf[40000:60000]...)
	assert.Equal(t, int32(3), c.refs.Load(), "the reader's reference and one per shared piece")
	assert.Equal(t, len(want), b.len())

	assert.Equal(t, want, drain(&b, 1500))
	assert.Equal(t, int32(1), c.refs.Load(), "read pieces are let go")
	assert.Empty(t, b.segs)

	b.share(c, 0, minShared)
	b.reset()
	assert.Equal(t, int32(1), c.refs.Load(), "reset lets go")
}

// TestFrameReaderPinning: a chunk the reader moves on from stays alive
// while a stream holds a piece of it and counts as pinned; at
// maxPinnedChunks, payload is copied instead; reading the pieces unpins.
func TestFrameReaderPinning(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (maxPinnedChunks+2)*chunkSize/16)
	fr := newFrameReader(bytes.NewReader(data), nil)
	var bufs []recvBuffer
	var want []byte
	for {
		// Full and still shared, the last chunk is retired: a new one.
		require.NoError(t, fr.fill(chunkSize))
		if !fr.canShare(chunkSize) {
			break
		}
		p := fr.buffered()
		require.Len(t, p, chunkSize)
		var b recvBuffer
		b.share(fr.c, fr.r, len(p))
		want = append(want, p...)
		fr.consume(len(p))
		bufs = append(bufs, b)
	}
	assert.Equal(t, int32(maxPinnedChunks), fr.pinned.Load())
	assert.False(t, fr.canShare(chunkSize), "beyond the limit, pieces are copied")

	var got []byte
	for i := range bufs {
		got = append(got, drain(&bufs[i], 10000)...)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, int32(0), fr.pinned.Load(), "read pieces unpin their chunks")
	assert.True(t, fr.canShare(minShared))
	fr.close()
}

// TestFrameReaderReuse: with no piece held, the reader reads into the
// same chunk from the front again instead of taking a new one.
func TestFrameReaderReuse(t *testing.T) {
	fr := newFrameReader(bytes.NewReader(make([]byte, 3*chunkSize)), nil)
	assert.Nil(t, fr.c, "no chunk before there is something to read")
	require.NoError(t, fr.fill(chunkSize))
	first := fr.c
	fr.consume(len(fr.buffered()))
	for range 2 {
		require.NoError(t, fr.fill(chunkSize))
		fr.consume(len(fr.buffered()))
	}
	assert.Same(t, first, fr.c)
	assert.Equal(t, int32(0), fr.pinned.Load())
	assert.ErrorIs(t, fr.fill(chunkSize), io.EOF)
	fr.close()
}

// onceErr returns its data together with err, then fails the test if it
// is read again.
type onceErr struct {
	t    *testing.T
	data []byte
	err  error
	done bool
}

func (o *onceErr) Read(p []byte) (int, error) {
	if o.done {
		o.t.Error("read again after the reader returned an error")
		return 0, io.ErrClosedPipe
	}
	o.done = true
	return copy(p, o.data), o.err
}

// TestFrameReaderDataWithError: bytes that come with an error are
// delivered first, and the error after them, without reading again.
func TestFrameReaderDataWithError(t *testing.T) {
	boom := errors.New("boom")
	fr := newFrameReader(&onceErr{t: t, data: []byte("hello"), err: boom}, nil)
	require.NoError(t, fr.fill(chunkSize))
	assert.Equal(t, "hello", string(fr.buffered()))
	fr.consume(5)
	assert.ErrorIs(t, fr.fill(chunkSize), boom)
	assert.ErrorIs(t, fr.fill(chunkSize), boom, "the error sticks")
	fr.close()
}
