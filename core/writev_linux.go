package core

import (
	"cmp"
	"io"
	"os"
	"syscall"
	"unsafe"
)

// lendPayload says the writer may send large payload straight from the
// Write's slice with writev, instead of copying it into the batch (see
// sender.iov). Linux only, where writev is a plain system call.
const lendPayload = true

func (sio *sockIO) initWritev() { sio.writevFn = sio.writevAll }

// writev writes all of bufs with writev, waiting for room as
// net.Conn.Write does. bufs is consumed; none of them may be empty (the
// batch builder never makes an empty piece).
func (sio *sockIO) writev(bufs [][]byte) error {
	sio.wbufs, sio.werr = bufs, nil
	err := sio.rc.Write(sio.writevFn)
	sio.wbufs = nil
	clear(sio.iovecs[:cap(sio.iovecs)])
	return sio.opError("writev", cmp.Or(err, sio.werr))
}

// tryWritev writes what of bufs the socket takes now and returns the
// rest, never waiting for room. bufs is consumed.
func (sio *sockIO) tryWritev(bufs [][]byte) ([][]byte, error) {
	sio.wbufs, sio.werr, sio.nowait = bufs, nil, true
	err := sio.rc.Write(sio.writevFn)
	rest := sio.wbufs
	sio.wbufs, sio.nowait = nil, false
	clear(sio.iovecs[:cap(sio.iovecs)])
	return rest, sio.opError("writev", cmp.Or(err, sio.werr))
}

// writevAll is the RawConn.Write callback for writev. When the socket is
// full it lets onFull replace what is left before the poller waits.
func (sio *sockIO) writevAll(fd uintptr) bool {
	for len(sio.wbufs) > 0 {
		iov := sio.iovecs[:0]
		for _, b := range sio.wbufs {
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
		sio.iovecs = iov
		sio.mu.Lock()
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		sio.mu.Unlock()
		n := int(r)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			if sio.nowait {
				return true
			}
			if sio.onFull != nil {
				sio.wbufs = sio.onFull(sio.wbufs)
			}
			return false
		case e != 0:
			sio.werr = os.NewSyscallError("writev", e)
			return true
		case n == 0:
			sio.werr = io.ErrShortWrite
			return true
		}
		for n > 0 { // drop what was written; the rest stays non-empty
			k := min(n, len(sio.wbufs[0]))
			sio.wbufs[0] = sio.wbufs[0][k:]
			n -= k
			if len(sio.wbufs[0]) == 0 {
				sio.wbufs = sio.wbufs[1:]
			}
		}
	}
	return true
}
