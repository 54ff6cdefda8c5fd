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
//
// The same kernel read gives the connection's send MSS, which the writer
// rounds its batches to (see batchLimit). A wrapper that also says what
// it holds of its own with a Buffered method lets the session read and
// write the connection directly (see sockio.go).

// pathRTTEvery is the most often the kernel's RTT is read.
const pathRTTEvery = 100 * time.Millisecond

// tcpConnOf returns the TCP connection c is or transparently wraps, or
// nil, and the wrappers on the way (outermost first).
func tcpConnOf(c any) (tcp *net.TCPConn, wrappers []any) {
	for range 8 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v, wrappers
		case interface{ TransparentConn() net.Conn }:
			wrappers = append(wrappers, v)
			c = v.TransparentConn()
		default:
			return nil, nil
		}
	}
	return nil, nil
}

// readTCPInfo reads the carrier's minimum RTT and its send MSS now. Call
// it only with s.tcp set.
func (s *Session) readTCPInfo() {
	s.pathRTTAt.Store(monoNow())
	rtt, ok, mss := kernelTCPInfo(s.tcp)
	if ok {
		s.pathRTT.Store(int64(max(rtt, time.Microsecond)))
	}
	if mss > 0 {
		s.sndMSS.Store(mss)
	}
}

// refreshPathRTT reads the carrier's minimum RTT at most every
// pathRTTEvery. Call it only once the carrier has given one (pathRTT set,
// which implies s.tcp).
func (s *Session) refreshPathRTT() {
	last := s.pathRTTAt.Load()
	if monoNow()-last >= int64(pathRTTEvery) && s.pathRTTAt.CompareAndSwap(last, monoNow()) {
		s.readTCPInfo()
	}
}

// kernelTCPInfo asks the kernel for the connection's minimum RTT (ok
// false: none) and send MSS (0: unknown).
func kernelTCPInfo(c *net.TCPConn) (rtt time.Duration, ok bool, mss uint32) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false, 0
	}
	if err := rc.Control(func(fd uintptr) { rtt, ok, mss = tcpInfo(fd) }); err != nil {
		return 0, false, 0
	}
	return rtt, ok, mss
}
