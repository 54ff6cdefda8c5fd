package core

import "sync"

// blockSize is the unit of receive buffering. Small payloads are packed
// into the tail block, so a window's worth of tiny frames costs about a
// window of memory, not a block per frame.
const blockSize = 16 << 10

type block struct {
	buf  [blockSize]byte
	r, w int
}

var blockPool = sync.Pool{New: func() any { return new(block) }}

// recvBuffer is a stream's FIFO of received bytes in pooled blocks. It
// holds no memory while empty. Its owner serialises access.
type recvBuffer struct {
	blocks []*block
	head   int // index of the first live block
	n      int // unread bytes
}

// len returns the number of unread bytes.
func (b *recvBuffer) len() int { return b.n }

// write appends p.
func (b *recvBuffer) write(p []byte) {
	b.n += len(p)
	for len(p) > 0 {
		var tail *block
		if len(b.blocks) > b.head {
			tail = b.blocks[len(b.blocks)-1]
		}
		if tail == nil || tail.w == blockSize {
			tail = blockPool.Get().(*block)
			tail.r, tail.w = 0, 0
			b.blocks = append(b.blocks, tail)
		}
		k := copy(tail.buf[tail.w:], p)
		tail.w += k
		p = p[k:]
	}
}

// read moves up to len(p) bytes into p and returns how many.
func (b *recvBuffer) read(p []byte) int {
	total := 0
	for len(p) > 0 && b.head < len(b.blocks) {
		blk := b.blocks[b.head]
		k := copy(p, blk.buf[blk.r:blk.w])
		blk.r += k
		p = p[k:]
		total += k
		if blk.r == blk.w {
			b.blocks[b.head] = nil
			b.head++
			blockPool.Put(blk)
		}
	}
	b.n -= total
	b.compact()
	return total
}

// compact drops consumed slots so the slice does not grow without bound.
func (b *recvBuffer) compact() {
	switch {
	case b.head == len(b.blocks):
		b.blocks, b.head = b.blocks[:0], 0
		if cap(b.blocks) > 64 {
			b.blocks = nil
		}
	case b.head > 32 && b.head*2 > len(b.blocks):
		n := copy(b.blocks, b.blocks[b.head:])
		clear(b.blocks[n:])
		b.blocks, b.head = b.blocks[:n], 0
	}
}

// reset discards everything and returns the blocks to the pool.
func (b *recvBuffer) reset() {
	for i := b.head; i < len(b.blocks); i++ {
		blockPool.Put(b.blocks[i])
	}
	b.blocks, b.head, b.n = nil, 0, 0
}
