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
	delta := w.update(time.Now(), 0, 1000, &b)
	assert.Equal(t, uint32(300), delta, "returns exactly what was read")
	assert.Equal(t, uint32(300), w.credit())
}

func TestRecvWindowAutoTune(t *testing.T) {
	var b budget
	b.give(1 << 20)
	w := recvWindow{size: 1000}
	now := time.Now()
	rtt := 10 * time.Millisecond
	// A whole window read within a few RTTs doubles the window.
	require.True(t, w.receive(1000))
	w.consume(300)
	assert.Equal(t, uint32(300), w.update(now, rtt, 4000, &b)) // starts the epoch
	w.consume(700)
	delta := w.update(now.Add(rtt), rtt, 4000, &b)
	assert.Equal(t, uint32(2000), w.size)
	assert.Equal(t, uint32(700+1000), delta, "read bytes plus the growth")
	assert.Equal(t, int64(1<<20-1000), b.left.Load())

	// Slow reading does not grow it.
	require.True(t, w.receive(2000))
	w.consume(2000)
	w.update(now.Add(time.Hour), rtt, 4000, &b)
	assert.Equal(t, uint32(2000), w.size)

	// Growth stops at the maximum and when the budget is empty.
	var empty budget
	require.True(t, w.receive(2000))
	w.consume(2000)
	w.update(now.Add(time.Hour+time.Millisecond), rtt, 4000, &empty)
	assert.Equal(t, uint32(2000), w.size, "no budget, no growth")
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
