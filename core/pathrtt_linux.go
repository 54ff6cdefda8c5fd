package core

import (
	"encoding/binary"
	"syscall"
	"time"
	"unsafe"
)

// tcpInfoMinRTT is the offset of tcpi_min_rtt (microseconds) in Linux's
// struct tcp_info (include/uapi/linux/tcp.h, since Linux 4.6).
const tcpInfoMinRTT = 148

// tcpMinRTT reads tcpi_min_rtt with getsockopt(TCP_INFO).
func tcpMinRTT(fd uintptr) (time.Duration, bool) {
	var buf [256]byte
	n := uint32(len(buf))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 || n < tcpInfoMinRTT+4 {
		return 0, false
	}
	us := binary.NativeEndian.Uint32(buf[tcpInfoMinRTT:])
	if us == 0 || us == ^uint32(0) {
		return 0, false // no sample yet
	}
	return time.Duration(us) * time.Microsecond, true
}
