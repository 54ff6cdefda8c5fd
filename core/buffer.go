package core

import "sync"

// blockSize is the unit of receive buffering. Small payloads are packed
// into the tail block, so a window's worth of tiny frames costs about a
// window of memory, not a block per frame.
const blockSize = 16 << 10

type block struct{ buf [blockSize]byte }

var blockPool = sync.Pool{New: func() any { return new(block) }}

// segment is one piece of a recvBuffer: either a block of the stream's
// own (copied payload, packed) or a slice of a transport chunk that the
// stream holds a reference to (see chunk.go).
type segment struct {
	own  *block
	c    *chunk
	r, w int32 // own.buf[r:w] or c.buf[r:w] is unread
}

// unread returns the segment's bytes not yet read.
func (sg *segment) unread() []byte {
	if sg.own != nil {
		return sg.own.buf[sg.r:sg.w]
	}
	return sg.c.buf[sg.r:sg.w]
}

// release gives the segment's memory back: the block to the pool, or the
// reference to the chunk.
func (sg *segment) release() {
	if sg.own != nil {
		blockPool.Put(sg.own)
	} else {
		sg.c.release()
	}
}

// recvBuffer is a stream's FIFO of received bytes. It holds no memory
// while empty. Its owner serialises access.
type recvBuffer struct {
	segs []segment
	head int // index of the first live segment
	n    int // unread bytes
}

// len returns the number of unread bytes.
func (b *recvBuffer) len() int { return b.n }

// write appends a copy of p, packing it into the tail block.
func (b *recvBuffer) write(p []byte) {
	b.n += len(p)
	for len(p) > 0 {
		var tail *segment
		if len(b.segs) > b.head {
			tail = &b.segs[len(b.segs)-1]
		}
		if tail == nil || tail.own == nil || tail.w == blockSize {
			b.segs = append(b.segs, segment{own: blockPool.Get().(*block)})
			tail = &b.segs[len(b.segs)-1]
		}
		k := copyBytes(tail.own.buf[tail.w:], p)
		tail.w += int32(k)
		p = p[k:]
	}
}

// share appends c.buf[off:off+n] without copying it: b holds a reference
// to c until those bytes are read or discarded.
func (b *recvBuffer) share(c *chunk, off, n int) {
	c.hold()
	b.n += n
	b.segs = append(b.segs, segment{c: c, r: int32(off), w: int32(off + n)})
}

// read moves up to len(p) bytes into p and returns how many.
func (b *recvBuffer) read(p []byte) int {
	total := 0
	for len(p) > 0 && b.head < len(b.segs) {
		sg := &b.segs[b.head]
		k := copyBytes(p, sg.unread())
		sg.r += int32(k)
		p = p[k:]
		total += k
		if sg.r == sg.w {
			sg.release()
			*sg = segment{}
			b.head++
		}
	}
	b.n -= total
	b.compact()
	return total
}

// compact drops consumed slots so the slice does not grow without bound.
func (b *recvBuffer) compact() {
	switch {
	case b.head == len(b.segs):
		b.segs, b.head = b.segs[:0], 0
		if cap(b.segs) > 64 {
			b.segs = nil
		}
	case b.head > 32 && b.head*2 > len(b.segs):
		n := copy(b.segs, b.segs[b.head:])
		clear(b.segs[n:])
		b.segs, b.head = b.segs[:n], 0
	}
}

// reset discards everything, returning blocks to the pool and letting go
// of shared chunks.
func (b *recvBuffer) reset() {
	for i := b.head; i < len(b.segs); i++ {
		b.segs[i].release()
	}
	b.segs, b.head, b.n = nil, 0, 0
}
