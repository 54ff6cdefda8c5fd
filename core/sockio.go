package core

import "net"

// Over a TCP carrier the session makes its own read and write system
// calls on the socket (through syscall.RawConn, so the runtime's poller
// still does the waiting), and serialises them with a mutex held for the
// system call alone.
//
// The kernel serialises them anyway: recvmsg and sendmsg on one socket
// take the same socket lock, for as long as they copy. But a thread that
// finds the lock taken sleeps in the kernel, and its P, with the
// goroutines queued on it, waits too until sysmon takes it back. The
// reader goroutine reads nearly all the time under load, so a stream
// returning credit, or a Write while window updates arrive, found the lock
// taken again and again: 64 bulk streams spent 72 % of their context
// switches in lock_sock and left a sixth of both CPUs idle. Waiting on a
// Go mutex instead parks only the goroutine, and the P runs the next one.
//
// sockio_unix.go has the system calls; elsewhere the session uses the
// connection's Read and Write as before.

// sockIOOf returns direct socket I/O for conn when conn is a TCP
// connection, or wraps one transparently and can say when it holds no
// bytes of its own (see transparentReads); otherwise nil.
func sockIOOf(conn any) *sockIO {
	tcp := tcpConnOf(conn)
	if tcp == nil {
		return nil
	}
	buffered, ok := transparentReads(conn)
	if !ok {
		return nil
	}
	return newSockIO(tcp, buffered)
}

// transparentReads reports whether the session may read the TCP
// connection under conn directly, and how to tell when: every wrapper on
// the way must have a Buffered method giving the bytes it holds that the
// connection under it no longer has (a replayed preface, say), so the
// session reads through the wrapper until none are left. buffered sums
// them.
func transparentReads(conn any) (buffered func() int, ok bool) {
	var wrappers []interface{ Buffered() int }
	for c := conn; ; {
		if _, isTCP := c.(*net.TCPConn); isTCP {
			break
		}
		b, hasBuffered := c.(interface{ Buffered() int })
		t, transparent := c.(interface{ TransparentConn() net.Conn })
		if !hasBuffered || !transparent {
			return nil, false
		}
		wrappers = append(wrappers, b)
		c = t.TransparentConn()
	}
	return func() int {
		n := 0
		for _, w := range wrappers {
			n += w.Buffered()
		}
		return n
	}, true
}
