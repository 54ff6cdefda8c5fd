package core

import (
	"io"
	"net"
)

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

// carrierIO returns the TCP connection conn is or transparently wraps
// (nil if none), and direct socket I/O over it where that is allowed
// (nil if not).
func carrierIO(conn io.Reader) (*net.TCPConn, *sockIO) {
	tcp, wrappers := tcpConnOf(conn)
	if tcp == nil {
		return nil, nil
	}
	return tcp, sockIOOf(conn, tcp, wrappers)
}

// sockIOOf returns direct socket I/O for tcp, the connection under conn
// (tcpConnOf), where every wrapper on the way can say what it holds of
// its own: a Buffered method giving the bytes it still has that the
// connection under it no longer does (a replayed preface, say). The
// session reads through conn until none are left (sockIO.Read). With a
// wrapper that cannot say, it returns nil.
func sockIOOf(conn io.Reader, tcp *net.TCPConn, wrappers []any) *sockIO {
	holders := make([]bufferedHolder, 0, len(wrappers))
	for _, w := range wrappers {
		h, ok := w.(bufferedHolder)
		if !ok {
			return nil
		}
		holders = append(holders, h)
	}
	return newSockIO(tcp, conn, holders)
}

// bufferedHolder is a wrapper that says how many bytes it holds of its
// own (see sockIOOf).
type bufferedHolder interface{ Buffered() int }
