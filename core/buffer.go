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

// segment is one piece of a recvBuffer: either a block of the stream's
// own (copied payload, packed) or a slice of a transport chunk that the
// stream holds a reference to (see chunk.go).
type segment struct {
	own  *block
	c    *chunk
	r, w int32 // c.buf[r:w] is unread
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

// write appends a copy of p.
func (b *recvBuffer) write(p []byte) {
	b.n += len(p)
	for len(p) > 0 {
		var tail *block
		if len(b.segs) > b.head {
			tail = b.segs[len(b.segs)-1].own
		}
		if tail == nil || tail.w == blockSize {
			tail = blockPool.Get().(*block)
			tail.r, tail.w = 0, 0
			b.segs = append(b.segs, segment{own: tail})
		}
		k := copyBytes(tail.buf[tail.w:], p)
		tail.w += k
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
		var done bool
		if blk := sg.own; blk != nil {
			k := copyBytes(p, blk.buf[blk.r:blk.w])
			blk.r += k
			p = p[k:]
			total += k
			if done = blk.r == blk.w; done {
				blockPool.Put(blk)
			}
		} else {
			k := copyBytes(p, sg.c.buf[sg.r:sg.w])
			sg.r += int32(k)
			p = p[k:]
			total += k
			if done = sg.r == sg.w; done {
				sg.c.release()
			}
		}
		if done {
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
		if sg := b.segs[i]; sg.own != nil {
			blockPool.Put(sg.own)
		} else {
			sg.c.release()
		}
	}
	b.segs, b.head, b.n = nil, 0, 0
}
