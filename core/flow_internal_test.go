package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecvWindowCredit(t *testing.T) {
	w := recvWindow{size: 1000}
	require.True(t, w.receive(600))
	require.False(t, w.receive(401), "beyond credit")
	require.True(t, w.receive(400))
	assert.Equal(t, uint32(0), w.credit())
	w.consume(200)
	assert.False(t, w.wantUpdate(), "200 < a quarter of 1000")
	w.consume(100)
	require.True(t, w.wantUpdate())
	var b budget
	delta := w.update(0, 1000, &b)
	assert.Equal(t, uint32(300), delta, "returns exactly what was read")
	assert.Equal(t, uint32(300), w.credit())
}

// readAll has the peer send a whole window while the application reads
// each piece at once, as a reader that keeps up does, returning credit in
// the usual quarters. It returns the credit sent back.
func readAll(t *testing.T, w *recvWindow, rtt time.Duration, max uint32, b *budget) uint32 {
	t.Helper()
	total, piece, size := uint32(0), uint32(16<<10), w.size
	for sent := uint32(0); sent < size; sent += piece {
		require.True(t, w.receive(piece))
		w.consume(piece)
		if w.wantUpdate() {
			total += w.update(rtt, max, b)
		}
	}
	return total
}

func TestRecvWindowAutoTune(t *testing.T) {
	const size, max = 256 << 10, 1 << 20
	var b budget
	b.give(1 << 30)

	// A long path: every byte the peer may send arrives, and read, while
	// the credit returned for it is still on its way. The window holds
	// the peer back, so the next update doubles it.
	w := recvWindow{size: size}
	credit := readAll(t, &w, time.Hour, max, &b)
	assert.Equal(t, uint32(2*size), w.size)
	assert.Equal(t, uint32(2*size), credit, "all that was read, plus the growth at once")
	assert.Equal(t, int64(1<<30-size), b.left.Load())

	// A short path: the credit returned arrived long ago, so the peer
	// was never waiting for it, however fast the window was read.
	w = recvWindow{size: size}
	readAll(t, &w, time.Nanosecond, max, &b)
	w.update(time.Nanosecond, max, &b)
	assert.Equal(t, uint32(size), w.size, "no growth on a short path")

	// A reader that falls behind says nothing about the path.
	w = recvWindow{size: size}
	require.True(t, w.receive(size))
	w.consume(size / 4)
	w.update(time.Hour, max, &b)
	assert.Equal(t, uint32(size), w.size, "the reader is behind")

	// Growth stops at the maximum, when the budget is empty, and when the
	// RTT is unknown.
	for _, c := range []struct {
		name string
		size uint32
		rtt  time.Duration
		b    *budget
	}{
		{"max", max, time.Hour, &b},
		{"budget", size, time.Hour, &budget{}},
		{"no rtt", size, 0, &b},
	} {
		w := recvWindow{size: c.size}
		readAll(t, &w, c.rtt, max, c.b)
		w.update(c.rtt, max, c.b)
		assert.Equal(t, c.size, w.size, c.name)
	}
}

func TestAddCreditOverflow(t *testing.T) {
	c, ok := addCredit(maxCredit-10, 10)
	assert.True(t, ok)
	assert.Equal(t, uint64(maxCredit), c)
	_, ok = addCredit(maxCredit-10, 11)
	assert.False(t, ok)
	_, ok = addCredit(maxCredit, 0xffffffff)
	assert.False(t, ok)
}

func TestRecvBuffer(t *testing.T) {
	var b recvBuffer
	var want []byte
	for i := range 5000 {
		p := []byte{byte(i), byte(i >> 8), 1, 2, 3}
		b.write(p)
		want = append(want, p...)
	}
	assert.Equal(t, len(want), b.len())
	assert.LessOrEqual(t, len(b.blocks), len(want)/blockSize+1, "small writes are packed")
	got := make([]byte, 0, len(want))
	buf := make([]byte, 777)
	for b.len() > 0 {
		n := b.read(buf)
		got = append(got, buf[:n]...)
	}
	assert.Equal(t, want, got)
	assert.Empty(t, b.blocks, "an empty buffer holds no blocks")
	b.write(make([]byte, 3*blockSize))
	b.reset()
	assert.Equal(t, 0, b.len())
}
