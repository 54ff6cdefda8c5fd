package core

import (
	"net"
	"time"
)

// Window auto-tuning needs the path's round-trip time. Pings measure it
// through both ends' goroutines: on an idle machine each of the four
// wake-ups on the way can cost tens of microseconds, so on a fast path the
// sample is often ten times the path's RTT, and a window sized by it lets
// data queue in the carrier ahead of every other stream's frames. A TCP
// carrier knows better: the kernel keeps the minimum RTT it has seen on
// the connection. Where the carrier is a TCP connection, or a wrapper that
// passes the session's bytes through unchanged and says so with a
// TransparentConn method, the session uses that. A wrapper that
// transforms the bytes (crypto/tls) is not looked through: its records
// and crypto add delay the kernel does not see, so pings measure it
// better.

// pathRTTEvery is the most often the kernel's RTT is read.
const pathRTTEvery = 100 * time.Millisecond

// tcpConnOf returns the TCP connection c is or transparently wraps, or
// nil.
func tcpConnOf(c any) *net.TCPConn {
	for range 8 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case interface{ TransparentConn() net.Conn }:
			c = v.TransparentConn()
		default:
			return nil
		}
	}
	return nil
}

// readPathRTT reads the carrier's minimum RTT now. Call it only with
// s.tcp set.
func (s *Session) readPathRTT() {
	s.pathRTTAt.Store(monoNow())
	if rtt, ok := kernelMinRTT(s.tcp); ok {
		s.pathRTT.Store(int64(max(rtt, time.Microsecond)))
	}
}

// refreshPathRTT reads the carrier's minimum RTT at most every
// pathRTTEvery. Call it only once the carrier has given one (pathRTT set,
// which implies s.tcp).
func (s *Session) refreshPathRTT() {
	last := s.pathRTTAt.Load()
	if monoNow()-last >= int64(pathRTTEvery) && s.pathRTTAt.CompareAndSwap(last, monoNow()) {
		s.readPathRTT()
	}
}

// kernelMinRTT asks the kernel for the connection's minimum RTT.
func kernelMinRTT(c *net.TCPConn) (time.Duration, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var rtt time.Duration
	var ok bool
	if err := rc.Control(func(fd uintptr) { rtt, ok = tcpMinRTT(fd) }); err != nil {
		return 0, false
	}
	return rtt, ok
}
