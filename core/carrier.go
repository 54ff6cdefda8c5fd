package core

import (
	"io"
	"net"
	"time"
)

// The carrier seam. Core speaks io.ReadWriteCloser, but where the carrier
// is a TCP connection it can do better: read the kernel's RTT and send
// MSS, make its own read, write and writev system calls on the socket.
// Everything core learns of or does with the carrier beyond Read, Write
// and Close goes through the carrier interface below, chosen once by
// newCarrier when the session starts: the type switches on the
// connection (*net.TCPConn, TransparentConn, Buffered) happen there and
// nowhere else. Config.OpaqueCarrier turns it off: the session then
// treats any connection as a plain io.ReadWriteCloser.
//
// Nothing else in core depends on which carrier it got. In particular the
// credit-return threshold (recvWindow.wantUpdate) and the RTT that tunes
// windows (Session.tuningRTT) are the same over every carrier: the
// kernel's RTT is only the first hop's (microseconds to a local proxy
// while the path is 100 ms), so it serves as a first guess and a lower
// bound, never alone.

// carrier is what the session knows of its transport beyond
// io.ReadWriteCloser.
type carrier interface {
	// reader is what the session's frame reader reads from: the
	// connection, or its direct socket I/O.
	reader() io.Reader
	// direct is the direct socket I/O the writer uses (sockio.go), or
	// nil: write with the connection's Write.
	direct() *sockIO
	// kernelInfo reads the first hop's minimum RTT (ok false: none) and
	// its send MSS (0: unknown). It allocates: call it rarely.
	kernelInfo() (rtt time.Duration, ok bool, mss uint32)
}

// newCarrier chooses the session's carrier, once. A TCP carrier is made
// in tc, the session's own, so that choosing costs no allocation.
func newCarrier(conn io.ReadWriteCloser, cfg Config, tc *tcpCarrier) carrier {
	if cfg.OpaqueCarrier {
		return opaqueCarrier{conn}
	}
	tcp, sio := carrierIO(conn)
	if tcp == nil {
		return opaqueCarrier{conn}
	}
	*tc = tcpCarrier{conn: conn, tcp: tcp, sio: sio}
	return tc
}

// opaqueCarrier is any io.ReadWriteCloser: nothing known beyond it.
type opaqueCarrier struct{ conn io.ReadWriteCloser }

func (c opaqueCarrier) reader() io.Reader                       { return c.conn }
func (opaqueCarrier) direct() *sockIO                           { return nil }
func (opaqueCarrier) kernelInfo() (time.Duration, bool, uint32) { return 0, false, 0 }

// tcpCarrier is a *net.TCPConn, or a wrapper that passes the session's
// bytes through to one unchanged and says so (TransparentConn).
type tcpCarrier struct {
	conn io.ReadWriteCloser
	tcp  *net.TCPConn
	sio  *sockIO // nil where a wrapper cannot say what it buffers (sockIOOf)
}

func (c *tcpCarrier) reader() io.Reader {
	if c.sio != nil {
		return c.sio
	}
	return c.conn
}

func (c *tcpCarrier) direct() *sockIO { return c.sio }

func (c *tcpCarrier) kernelInfo() (time.Duration, bool, uint32) { return kernelTCPInfo(c.tcp) }
