package core

import (
	"net"
	"time"
)

// Window auto-tuning needs the round-trip time between the two sessions:
// the time credit takes to go to the peer and data to come back. Pings
// measure that, whatever the carrier and whatever sits between the two
// ends (keepalive.go: pinger). But a ping's sample includes both ends'
// goroutines: on an idle machine each of the four wake-ups on the way can
// cost tens of microseconds, so on a fast path the sample is often ten
// times the path's RTT, and a window sized by it lets data queue in the
// carrier ahead of every other stream's frames.
//
// A TCP carrier (carrier.go) knows its first hop better: the kernel keeps
// the minimum RTT it has seen on the connection. That is the whole path
// only when nothing terminates TCP between the sessions; behind a TCP
// proxy, an SSH tunnel or a load balancer it is microseconds while the
// path is 100 ms. So the kernel's RTT is a first guess (before the first
// ping returns) and a lower bound: where the pings' minimum exceeds it by
// more than host scheduling explains (hostSlack), the pings' minimum is
// the path's RTT (Session.tuningRTT).
//
// The same kernel read gives the connection's send MSS, which the writer
// rounds its batches to (see batchLimit).

// kernelRTTEvery is the most often the kernel's RTT is read.
const kernelRTTEvery = 100 * time.Millisecond

// hostSlack is how much more than the kernel's RTT a ping sample may take
// and still be put down to the hosts: goroutine wake-ups on a busy
// machine. A path whose RTT is within it of the first hop's is tuned by
// the first hop's; a window of InitialStreamWindow still carries 128 MiB/s
// over 2 ms.
const hostSlack = time.Millisecond

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

// readKernelInfo reads the carrier's minimum RTT and its send MSS now,
// where it has them.
func (s *Session) readKernelInfo() {
	s.kernelRTTAt.Store(monoNow())
	rtt, ok, mss := s.carrier.kernelInfo()
	if ok {
		s.kernelRTT.Store(int64(max(rtt, time.Microsecond)))
	}
	if mss > 0 {
		s.sndMSS.Store(mss)
	}
}

// refreshKernelRTT reads the carrier's minimum RTT at most every
// kernelRTTEvery. Call it only once the carrier has given one (kernelRTT
// set).
func (s *Session) refreshKernelRTT() {
	last := s.kernelRTTAt.Load()
	if monoNow()-last >= int64(kernelRTTEvery) && s.kernelRTTAt.CompareAndSwap(last, monoNow()) {
		s.readKernelInfo()
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
