package core

import "sync"

// Write buffers are taken when there is something to write and given back
// when the write is done, so that an idle session holds none (issue 17:
// a batch buffer of ~192 KiB per session had made an idle session cost
// 17 times a hashicorp/yamux one). They come from pools shared by every
// session, one per size class, as x/net/http2's write buffers do: a batch
// of control frames or small frames takes a small buffer, a batch of bulk
// data a large one, and a batch that outgrows its buffer moves to the
// next class (sender.reserve).

// bufClasses are the write buffer sizes. The largest holds a full batch
// (maxBatch) after a few hundred control frames.
var bufClasses = [...]int{4 << 10, 32 << 10, maxBatch + 4<<10}

// bufPools hold *[]byte, so that giving a buffer back allocates nothing.
var bufPools [len(bufClasses)]sync.Pool

// getBuf returns an empty buffer with room for n bytes, from the pool of
// the smallest class that holds n (a larger n than any class is
// allocated to size).
func getBuf(n int) *[]byte {
	for i, size := range bufClasses {
		if n <= size {
			if p, ok := bufPools[i].Get().(*[]byte); ok {
				*p = (*p)[:0]
				return p
			}
			b := make([]byte, 0, size)
			return &b
		}
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf gives a buffer back to the pool of the largest class it holds.
// One far larger than every class (grown for an unusual batch) is left to
// the garbage collector.
func putBuf(p *[]byte) {
	c := cap(*p)
	if c > 4*bufClasses[len(bufClasses)-1] {
		return
	}
	for i := len(bufClasses) - 1; i >= 0; i-- {
		if c >= bufClasses[i] {
			bufPools[i].Put(p)
			return
		}
	}
}

// reserve returns buf, the batch being built in w.wbuf, with room for n
// more bytes: when it has not, the bytes so far move to a buffer of a
// larger class. Call it before every append to the batch. Call it as
// the goroutine holding busy.
func (w *sender) reserve(buf []byte, n int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	p := getBuf(len(buf) + n)
	next := append(*p, buf...)
	if w.wbuf != nil && len(w.iov) == 0 {
		putBuf(w.wbuf)
	} // else iov holds pieces of the old buffer: the collector takes it after the write
	w.wbuf = p
	return next
}

// releaseBuffersLocked gives the write buffers back once a batch is
// written: the batch buffer, and the spill buffer unless it holds a carry
// still to be written. Call it with sendMu held, as the goroutine
// holding busy, before clearing busy.
func (w *sender) releaseBuffersLocked() {
	if w.wbuf != nil {
		putBuf(w.wbuf)
		w.wbuf = nil
	}
	if w.spillBuf != nil && w.carry == nil {
		putBuf(w.spillBuf)
		w.spillBuf = nil
	}
}
