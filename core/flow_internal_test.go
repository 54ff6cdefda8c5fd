package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecvWindowCredit(t *testing.T) {
	const size = 1 << 20
	w := recvWindow{size: size}
	require.True(t, w.receive(600<<10))
	require.False(t, w.receive(424<<10+1), "beyond credit")
	require.True(t, w.receive(424<<10))
	assert.Equal(t, uint32(0), w.credit())
	w.consume(200 << 10)
	assert.False(t, w.wantUpdate(), "200 KiB < a quarter of 1 MiB")
	w.consume(56 << 10)
	require.True(t, w.wantUpdate())
	var b budget
	delta := w.update(1, 0, size, &b, 0)
	assert.Equal(t, uint32(256<<10), delta, "returns exactly what was read")
	assert.Equal(t, uint32(256<<10), w.credit())

	// A small window returns credit at half, never less than
	// minCreditReturn: whatever the carrier.
	w = recvWindow{size: initialCredit}
	require.True(t, w.receive(initialCredit))
	w.consume(minCreditReturn - 1)
	assert.False(t, w.wantUpdate(), "below half of 256 KiB")
	w.consume(1)
	assert.True(t, w.wantUpdate())
}

// carry has the stream carry n windows' worth of data, read as it
// arrives, spread evenly over the time d from start, returning credit in
// the usual halves. It returns the credit sent back.
func carry(t *testing.T, w *recvWindow, n int, start int64, d time.Duration, rtt time.Duration, max uint32, b *budget) uint32 {
	t.Helper()
	total, size := uint32(0), w.size
	steps := 2 * n
	for i := 1; i <= steps; i++ {
		require.True(t, w.receive(size/2))
		w.consume(size / 2)
		require.True(t, w.wantUpdate())
		total += w.update(start+int64(d)*int64(i)/int64(steps), rtt, max, b, 0)
	}
	return total
}

func TestRecvWindowAutoTune(t *testing.T) {
	const size, max = 256 << 10, 1 << 20
	const rtt = 10 * time.Millisecond
	var b budget
	b.give(1 << 30)

	// Held back by its window: a window per round trip, over two round
	// trips. The window grows fourfold (growFactor) after the first round
	// trip, and the growth is credit at once.
	w := recvWindow{size: size}
	w.update(1, rtt, max, &b, 0) // nothing read yet: starts the epoch
	credit := carry(t, &w, 1, 1, rtt, rtt, max, &b)
	assert.Equal(t, uint32(4*size), w.size)
	assert.Equal(t, uint32(4*size), credit, "all that was read, plus the growth")
	assert.Equal(t, int64(1<<30-3*size), b.left.Load())

	// Growth takes what is left of the budget when it runs low.
	w = recvWindow{size: size}
	low := &budget{}
	low.give(size / 2)
	w.update(1, rtt, max, low, 0)
	carry(t, &w, 1, 1, rtt, rtt, max, low)
	assert.Equal(t, uint32(size+size/2), w.size)
	assert.Zero(t, low.left.Load())

	// Carrying half a window per round trip, the window does not limit.
	w = recvWindow{size: size}
	w.update(1, rtt, max, &b, 0)
	carry(t, &w, 1, 1, 2*rtt, rtt, max, &b)
	assert.Equal(t, uint32(size), w.size, "half a window per round trip")

	// The same bytes at the same pace on a path with a 10 µs round trip:
	// the stream carried a sliver of a window per round trip.
	w = recvWindow{size: size}
	w.update(1, 10*time.Microsecond, max, &b, 0)
	carry(t, &w, 2, 1, 2*rtt, 10*time.Microsecond, max, &b)
	assert.Equal(t, uint32(size), w.size, "no growth on a short path")

	// A burst, read from a backlog at memory speed within a microsecond,
	// proves nothing: the epoch lasts at least a millisecond.
	w = recvWindow{size: size}
	w.update(1, 10*time.Microsecond, max, &b, 0)
	carry(t, &w, 2, 1, time.Microsecond, 10*time.Microsecond, max, &b)
	assert.Equal(t, uint32(size), w.size, "no growth on a burst")

	// Growth stops at the maximum, when the budget is empty, and when the
	// RTT is unknown.
	for _, c := range []struct {
		name string
		size uint32
		rtt  time.Duration
		b    *budget
	}{
		{"max", max, rtt, &b},
		{"budget", size, rtt, &budget{}},
		{"no rtt", size, 0, &b},
	} {
		w := recvWindow{size: c.size}
		w.update(1, c.rtt, max, c.b, 0)
		carry(t, &w, 2, 1, 2*rtt, c.rtt, max, c.b)
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

// drain reads all of b in reads of at most size bytes.
func drain(b *recvBuffer, size int) []byte {
	got := make([]byte, 0, b.len())
	buf := make([]byte, size)
	for b.len() > 0 {
		n := b.read(buf)
		got = append(got, buf[:n]...)
	}
	return got
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
	assert.LessOrEqual(t, len(b.segs), len(want)/blockSize+1, "small writes are packed")
	assert.Equal(t, want, drain(&b, 777))
	assert.Empty(t, b.segs, "an empty buffer holds no blocks")
	b.write(make([]byte, 3*blockSize))
	b.reset()
	assert.Equal(t, 0, b.len())
}

// TestRecvWindowGrowsWithinRoundTrip: a window-limited stream's window
// comes in one burst; once two thirds of it came in under a round trip,
// the window grows at once, and the half round trip after growth (the
// old window's data) does not count.
func TestRecvWindowGrowsWithinRoundTrip(t *testing.T) {
	const size, maxSize = 256 << 10, 32 << 20
	const rtt = 100 * time.Millisecond
	var b budget
	b.give(1 << 30)
	read := func(w *recvWindow, n uint32, at time.Duration) {
		t.Helper()
		require.True(t, w.receive(n))
		w.consume(n)
		w.update(int64(at), rtt, maxSize, &b, 0)
	}
	w := recvWindow{size: size}
	w.update(int64(time.Millisecond), rtt, maxSize, &b, 0) // the epoch starts
	read(&w, size/2, 60*time.Millisecond)
	assert.Equal(t, uint32(size), w.size, "half a window so far")
	read(&w, size/2, 61*time.Millisecond)
	assert.Equal(t, uint32(4*size), w.size, "a whole window in under a round trip")
	assert.Equal(t, int64(61*time.Millisecond+rtt/2), w.epochStart, "the next epoch starts half a round trip on")

	read(&w, size, 70*time.Millisecond) // what the old window allowed
	assert.Equal(t, uint32(4*size), w.size)
	assert.Zero(t, w.epochRead, "not counted")
	read(&w, 2*size, 165*time.Millisecond)
	assert.Equal(t, uint32(4*size), w.size, "half the new window")
	read(&w, 2*size, 166*time.Millisecond)
	assert.Equal(t, uint32(16*size), w.size, "the new window in one burst")
}
