package tcp

import (
	"net"
	"os"
	"syscall"
)

// tcpNotSentLowat is TCP_NOTSENT_LOWAT from linux/tcp.h (the frozen
// syscall package does not define it).
const tcpNotSentLowat = 25

func setNotSentLowat(c *net.TCPConn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, n)
	}); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt", serr)
}
