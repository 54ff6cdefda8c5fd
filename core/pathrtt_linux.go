package core

import (
	"time"

	"golang.org/x/sys/unix"
)

// tcpInfo reads, with getsockopt(TCP_INFO), the connection's minimum RTT
// (ok false: none yet, or a kernel older than 4.6, which leaves it zero)
// and its send MSS (0: unknown). It allocates: call it rarely.
func tcpInfo(fd uintptr) (minRTT time.Duration, ok bool, mss uint32) {
	ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, false, 0
	}
	if ti.Min_rtt == 0 || ti.Min_rtt == ^uint32(0) {
		return 0, false, ti.Snd_mss // no sample yet
	}
	return time.Duration(ti.Min_rtt) * time.Microsecond, true, ti.Snd_mss
}
