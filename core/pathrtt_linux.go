package core

import (
	"encoding/binary"
	"syscall"
	"time"
	"unsafe"
)

// Offsets in Linux's struct tcp_info (include/uapi/linux/tcp.h).
const (
	tcpInfoSndMSS = 16  // tcpi_snd_mss, bytes
	tcpInfoMinRTT = 148 // tcpi_min_rtt, microseconds (since Linux 4.6)
)

// tcpInfo reads, with getsockopt(TCP_INFO), the connection's minimum RTT
// (ok false: none yet, or too old a kernel) and its send MSS (0: unknown).
func tcpInfo(fd uintptr) (minRTT time.Duration, ok bool, mss uint32) {
	var buf [256]byte
	n := uint32(len(buf))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return 0, false, 0
	}
	if n >= tcpInfoSndMSS+4 {
		mss = binary.NativeEndian.Uint32(buf[tcpInfoSndMSS:])
	}
	if n < tcpInfoMinRTT+4 {
		return 0, false, mss
	}
	us := binary.NativeEndian.Uint32(buf[tcpInfoMinRTT:])
	if us == 0 || us == ^uint32(0) {
		return 0, false, mss // no sample yet
	}
	return time.Duration(us) * time.Microsecond, true, mss
}
