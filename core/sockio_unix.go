//go:build unix

package core

import (
	"cmp"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// sockIO reads and writes a TCP socket with the session's own system
// calls (see sockio.go).
type sockIO struct {
	rc           syscall.RawConn
	mu           sync.Mutex // held for each read or write system call
	laddr, raddr net.Addr   // for errors

	// Read goes through the wrappers above the socket (upstream) while
	// any of them (holders) still holds bytes of its own, then sets
	// direct.
	upstream io.Reader
	holders  []bufferedHolder
	direct   bool

	// The callbacks and their arguments and results live here, made
	// once, so that a read or write allocates nothing. The reader
	// goroutine owns the read fields; the goroutine that set sender.busy
	// owns the write fields.
	rbuf   []byte
	rn     int
	rerr   error
	readFn func(fd uintptr) bool
	// lender, during readLent, gives rbuf when it is nil and takes it
	// back while the socket is empty.
	lender  readLender
	wbuf    []byte
	werr    error
	writeFn func(fd uintptr) bool
	// nowait: a write returns at the first EAGAIN, leaving the rest in
	// wbuf or wbufs (tryWrite, tryWritev).
	nowait bool
	// onFull, if set, is called by a waiting writev each time the socket
	// is full, before the poller waits; it may replace what is left to
	// write (Session.unlend).
	onFull func(rest [][]byte) [][]byte
	// writev (Linux): the buffers left to write, and their iovecs.
	wbufs    [][]byte
	iovecs   []syscall.Iovec
	writevFn func(fd uintptr) bool
}

func newSockIO(c *net.TCPConn, upstream io.Reader, holders []bufferedHolder) *sockIO {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	sio := &sockIO{rc: rc, laddr: c.LocalAddr(), raddr: c.RemoteAddr(), upstream: upstream, holders: holders}
	sio.readFn = sio.readOnce
	sio.writeFn = sio.writeAll
	sio.initWritev()
	return sio
}

// Read is the session's transport read (the reader goroutine's only):
// through the wrappers while they hold bytes of their own, then straight
// from the socket.
func (sio *sockIO) Read(b []byte) (int, error) {
	if sio.throughWrappers() {
		return sio.upstream.Read(b)
	}
	return sio.read(b)
}

// upstreamRead reads through the wrappers above the socket.
func (sio *sockIO) upstreamRead(b []byte) (int, error) { return sio.upstream.Read(b) }

// throughWrappers reports whether a read must still go through the
// wrappers above the socket: one of them holds bytes of its own. Once
// none does, reads go straight to the socket (direct).
func (sio *sockIO) throughWrappers() bool {
	if sio.direct {
		return false
	}
	for _, h := range sio.holders {
		if h.Buffered() > 0 {
			return true
		}
	}
	sio.direct = true
	return false
}

// readLender lends a read its buffer only while there is something to
// read (the frame reader, see chunk.go).
type readLender interface {
	// readBuf returns the buffer to read into.
	readBuf() []byte
	// idle takes the buffer back: the socket is empty and the read
	// waits for it.
	idle()
}

// readLent reads once into a buffer l lends, waiting for data as
// net.Conn.Read does, but without a buffer while it waits: l takes it
// back when the socket is empty and lends one again when it is readable.
// The wait is in the same RawConn.Read call as the read that found the
// socket empty: a new call would reset the poller's readiness, and data
// arriving in between would wait for more to come.
func (sio *sockIO) readLent(l readLender) (int, error) {
	sio.lender = l
	n, err := sio.read(nil)
	sio.lender = nil
	return n, err
}

// read reads into b once, waiting for data as net.Conn.Read does.
func (sio *sockIO) read(b []byte) (int, error) {
	sio.rbuf, sio.rn, sio.rerr = b, 0, nil
	err := sio.rc.Read(sio.readFn)
	sio.rbuf = nil
	return sio.rn, sio.opError("read", cmp.Or(err, sio.rerr))
}

// opError wraps a failed read or write as the connection's own methods
// would; io.EOF stays as it is.
func (sio *sockIO) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: sio.laddr, Addr: sio.raddr, Err: err}
}

// readOnce is the RawConn.Read callback: false asks the poller to wait
// until the socket is readable and call again.
func (sio *sockIO) readOnce(fd uintptr) bool {
	for {
		if sio.rbuf == nil && sio.lender != nil {
			sio.rbuf = sio.lender.readBuf()
		}
		sio.mu.Lock()
		n, err := syscall.Read(int(fd), sio.rbuf)
		sio.mu.Unlock()
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if sio.lender != nil {
				sio.lender.idle()
				sio.rbuf = nil
			}
			return false
		case err != nil:
			sio.rerr = os.NewSyscallError("read", err)
		case n == 0 && len(sio.rbuf) > 0:
			sio.rerr = io.EOF
		default:
			sio.rn = n
		}
		return true
	}
}

// write writes all of b, waiting for room as net.Conn.Write does.
func (sio *sockIO) write(b []byte) error {
	sio.wbuf, sio.werr = b, nil
	err := sio.rc.Write(sio.writeFn)
	sio.wbuf = nil
	return sio.opError("write", cmp.Or(err, sio.werr))
}

// setOnFull sets the hook a waiting writev calls when the socket is full.
func (sio *sockIO) setOnFull(f func(rest [][]byte) [][]byte) { sio.onFull = f }

// tryWrite writes what of b the socket takes now and returns the rest,
// never waiting for room.
func (sio *sockIO) tryWrite(b []byte) ([]byte, error) {
	sio.wbuf, sio.werr, sio.nowait = b, nil, true
	err := sio.rc.Write(sio.writeFn)
	rest := sio.wbuf
	sio.wbuf, sio.nowait = nil, false
	return rest, sio.opError("write", cmp.Or(err, sio.werr))
}

// writeAll is the RawConn.Write callback: false asks the poller to wait
// until the socket is writable and call again.
func (sio *sockIO) writeAll(fd uintptr) bool {
	for len(sio.wbuf) > 0 {
		sio.mu.Lock()
		n, err := syscall.Write(int(fd), sio.wbuf)
		sio.mu.Unlock()
		if n > 0 {
			sio.wbuf = sio.wbuf[n:]
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return sio.nowait
		case err != nil:
			sio.werr = os.NewSyscallError("write", err)
			return true
		case n == 0:
			sio.werr = io.ErrShortWrite
			return true
		}
	}
	return true
}
