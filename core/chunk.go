package core

import (
	"io"
	"sync"
	"sync/atomic"
)

// The reader goroutine reads the transport into chunks. A large piece of
// Data payload is not copied out of its chunk: the stream's receive
// buffer keeps a slice of the chunk instead, and the chunk goes back to
// the pool when the reader and every stream holding a slice of it are
// done. That saves a copy of nearly every bulk byte; small pieces are
// still copied, into the stream's own blocks, so a few bytes never pin a
// whole chunk.

const (
	// chunkSize is the transport read buffer: one read takes at most this
	// much.
	chunkSize = 64 << 10
	// minChunkRoom is the least free space worth reading into; a chunk
	// that streams still hold is replaced when it has less.
	minChunkRoom = 16 << 10
	// minShared is the smallest payload piece a stream keeps as a slice
	// of the chunk instead of copying it. It bounds the waste: a held
	// piece pins at most chunkSize/minShared times its size.
	minShared = 8 << 10
	// maxPinnedChunks bounds, per session, the chunks that the reader has
	// moved on from but streams still hold (16 MiB). Beyond it, payload
	// is copied, so memory stays within the windows plus this. At 64
	// (4 MiB), 64 concurrent bulk streams hit the limit and copied about
	// half their bytes again. A piece dropped with its Stream, neither
	// read nor closed, leaves its chunk to the garbage collector and its
	// pin counted, so sharing stops sooner in that session; nothing leaks.
	maxPinnedChunks = 256
)

// chunk is a transport read buffer shared by reference.
type chunk struct {
	buf  [chunkSize]byte
	refs atomic.Int32 // the reader while it reads into it, plus one per held piece
	// pins, set when the reader retires the chunk while streams still
	// hold it, counts the session's pinned chunks.
	pins *atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

func newChunk() *chunk {
	c := chunkPool.Get().(*chunk)
	c.refs.Store(1)
	c.pins = nil
	return c
}

// hold adds a reference for a piece a stream keeps.
func (c *chunk) hold() { c.refs.Add(1) }

// release drops a reference; the last one returns the chunk to the pool.
func (c *chunk) release() {
	if c.refs.Add(-1) != 0 {
		return
	}
	if c.pins != nil {
		c.pins.Add(-1)
	}
	chunkPool.Put(c)
}

// frameReader is the session's buffered transport reader. Only the reader
// goroutine uses it; the bytes it has handed out by reference (c.buf
// before r) are never written again.
//
// It holds a chunk only while there is something to read. Over a socket
// it reads directly (sockio.go), a read that finds nothing lets go of the
// chunk before it waits, and the next read takes one from the pool: an
// idle session holds none. A carrier that can only be read by a blocking
// Read (TLS, WebSocket, KCP, QUIC, pipes) is read into a small buffer of
// the reader's own while a frame header is due, and into a chunk only
// while payload is due.
type frameReader struct {
	rd     io.Reader
	sock   *sockIO // read without waiting where it can, or nil
	c      *chunk  // the chunk buf is, or nil
	small  []byte  // header buffer for a blocking carrier (nil over sock)
	buf    []byte  // c.buf[:], small, or nil
	r, w   int     // buf[r:w] is read from the transport, not yet consumed
	err    error   // the transport's read error, returned once the bytes before it are consumed
	pinned atomic.Int32
}

// smallRead is the header buffer of a frame reader over a blocking
// carrier: a header and a small payload after it, or a few control
// frames, fit.
const smallRead = 512

// newFrameReader returns a reader of rd, or of sock where it is not nil
// (then rd is sock).
func newFrameReader(rd io.Reader, sock *sockIO) *frameReader {
	fr := &frameReader{rd: rd, sock: sock}
	if sock == nil {
		fr.small = make([]byte, smallRead)
	}
	return fr
}

// buffered returns the bytes read and not yet consumed.
func (fr *frameReader) buffered() []byte { return fr.buf[fr.r:fr.w] }

// consume marks the first n buffered bytes consumed.
func (fr *frameReader) consume(n int) { fr.r += n }

// fill makes sure something is buffered, reading from the transport
// when nothing is. need is how much the caller wants (it may get less):
// a blocking carrier is read into a chunk only when need is more than the
// header buffer holds.
func (fr *frameReader) fill(need int) error {
	if fr.r < fr.w {
		return nil
	}
	if fr.err != nil {
		return fr.err
	}
	if fr.sock != nil {
		return fr.fillSock()
	}
	if need <= len(fr.small) {
		fr.letGo()
		fr.buf = fr.small
	} else {
		fr.prepareChunk()
	}
	for range 100 { // as bufio: a reader stuck returning 0, nil is broken
		n, err := fr.rd.Read(fr.buf[fr.w:])
		if done, err := fr.got(n, err); done {
			return err
		}
	}
	return io.ErrNoProgress
}

// fillSock is fill over a socket: it reads what the socket holds into a
// chunk, and while the socket is empty it holds none (readBuf, idle).
func (fr *frameReader) fillSock() error {
	for range 100 {
		var n int
		var err error
		if fr.sock.throughWrappers() {
			fr.prepareChunk()
			n, err = fr.sock.upstreamRead(fr.buf[fr.w:])
		} else {
			n, err = fr.sock.readLent(fr)
		}
		if done, err := fr.got(n, err); done {
			return err
		}
	}
	return io.ErrNoProgress
}

// readBuf lends a socket read the room to read into (sockIO.readLent).
func (fr *frameReader) readBuf() []byte {
	fr.prepareChunk()
	return fr.buf[fr.w:]
}

// idle takes the read buffer back while the socket is empty: the wait may
// last the session's life.
func (fr *frameReader) idle() { fr.letGo() }

// got records the result of a transport read into buf[w:], reporting
// whether fill is done and with what error.
func (fr *frameReader) got(n int, err error) (bool, error) {
	fr.w += n
	if err != nil {
		fr.err = err // a reader need not repeat it: keep it for after the data
	}
	switch {
	case n > 0:
		return true, nil
	case err != nil:
		return true, err
	}
	return false, nil
}

// prepareChunk makes buf a chunk with room to read into, with nothing
// buffered: the current one from the front when no stream holds a piece
// of it (only this goroutine adds holders), a new one when there is none
// or the current one is shared and nearly full.
func (fr *frameReader) prepareChunk() {
	switch {
	case fr.c == nil:
		fr.c = newChunk()
		fr.buf, fr.r, fr.w = fr.c.buf[:], 0, 0
	case fr.c.refs.Load() == 1:
		fr.r, fr.w = 0, 0
	case chunkSize-fr.w < minChunkRoom:
		fr.retire()
		fr.c = newChunk()
		fr.buf, fr.r, fr.w = fr.c.buf[:], 0, 0
	}
}

// letGo drops the read buffer, with nothing buffered: the chunk goes
// back to the pool, or stays with the streams holding pieces of it.
func (fr *frameReader) letGo() {
	if fr.c != nil {
		fr.retire()
		fr.c = nil
	}
	fr.buf, fr.r, fr.w = nil, 0, 0
}

// Read implements io.Reader over the buffered bytes, for frame headers.
func (fr *frameReader) Read(p []byte) (int, error) {
	if err := fr.fill(len(p)); err != nil {
		return 0, err
	}
	n := copy(p, fr.buffered())
	fr.r += n
	return n, nil
}

// discard consumes n bytes, reading them first where needed.
func (fr *frameReader) discard(n int) error {
	for n > 0 {
		if err := fr.fill(n); err != nil {
			return err
		}
		k := min(n, fr.w-fr.r)
		fr.r += k
		n -= k
	}
	return nil
}

// canShare reports whether a payload piece of n bytes may be kept as a
// slice of the current chunk.
func (fr *frameReader) canShare(n int) bool {
	return fr.c != nil && n >= minShared && fr.pinned.Load() < maxPinnedChunks
}

// retire lets go of the current chunk, counting it as pinned if streams
// still hold pieces of it.
func (fr *frameReader) retire() {
	c := fr.c
	if c.refs.Load() > 1 {
		fr.pinned.Add(1)
		c.pins = &fr.pinned // before release: the last holder reads it
	}
	c.release()
}

// close releases the current chunk when the reader goroutine ends.
func (fr *frameReader) close() { fr.letGo() }
