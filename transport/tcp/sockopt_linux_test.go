package tcp_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/transport/tcp"
)

const tcpNotSentLowat = 25 // linux/tcp.h

// getsockopt reads an integer socket option of c.
func getsockopt(t *testing.T, c *net.TCPConn, level, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var v int
	var gerr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), level, opt)
	}))
	require.NoError(t, gerr)
	return v
}

// sysctlNotSentLowat returns net.ipv4.tcp_notsent_lowat as getsockopt
// reports it (a 32-bit value).
func sysctlNotSentLowat(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_notsent_lowat")
	if err != nil {
		t.Skipf("cannot read the sysctl: %v", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	require.NoError(t, err)
	return int(int32(uint32(v)))
}

// pair dials ln with d and accepts, returning both ends.
func pair(t *testing.T, d tcp.Dialer, opts ...tcp.Option) (dialed, accepted *net.TCPConn) {
	t.Helper()
	ln, err := tcp.Listen("127.0.0.1:0", opts...)
	require.NoError(t, err)
	defer ln.Close()
	c, err := d.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestSocketOptionsDefault(t *testing.T) {
	c, s := pair(t, tcp.Dialer{})
	for name, conn := range map[string]*net.TCPConn{"dialed": c, "accepted": s} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tcp.DefaultNotSentLowat, getsockopt(t, conn, syscall.IPPROTO_TCP, tcpNotSentLowat))
			assert.Equal(t, 1, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_NODELAY))
			assert.Equal(t, 1, getsockopt(t, conn, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE))
			assert.Equal(t, 15, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE))
			assert.Equal(t, 15, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL))
			assert.Equal(t, 4, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT))
		})
	}
}

func TestSocketOptionsCustom(t *testing.T) {
	ka := net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}
	d := tcp.Dialer{Options: tcp.Options{
		DisableNoDelay: true,
		KeepAlive:      &ka,
		NotSentLowat:   32 << 10,
		ReadBuffer:     256 << 10,
		WriteBuffer:    512 << 10,
	}}
	c, s := pair(t, d,
		tcp.WithNoDelay(false),
		tcp.WithKeepAlive(ka),
		tcp.WithNotSentLowat(32<<10),
		tcp.WithBufferSizes(256<<10, 512<<10),
	)
	for name, conn := range map[string]*net.TCPConn{"dialed": c, "accepted": s} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, 32<<10, getsockopt(t, conn, syscall.IPPROTO_TCP, tcpNotSentLowat))
			assert.Equal(t, 0, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_NODELAY))
			assert.Equal(t, 30, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE))
			assert.Equal(t, 5, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL))
			assert.Equal(t, 3, getsockopt(t, conn, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT))
			// Linux doubles the value for its bookkeeping (and clamps it
			// to net.core.[rw]mem_max), so only check that it changed
			// from autotuning to something of the requested order.
			assert.GreaterOrEqual(t, getsockopt(t, conn, syscall.SOL_SOCKET, syscall.SO_RCVBUF), 4<<10)
			assert.GreaterOrEqual(t, getsockopt(t, conn, syscall.SOL_SOCKET, syscall.SO_SNDBUF), 4<<10)
		})
	}
}

func TestSocketOptionsDisabled(t *testing.T) {
	off := net.KeepAliveConfig{Enable: false}
	d := tcp.Dialer{Options: tcp.Options{KeepAlive: &off, NotSentLowat: -1}}
	c, s := pair(t, d, tcp.WithKeepAlive(off), tcp.WithNotSentLowat(0))
	for name, conn := range map[string]*net.TCPConn{"dialed": c, "accepted": s} {
		t.Run(name, func(t *testing.T) {
			// Not set on the socket: the kernel reports 0 or the
			// net.ipv4.tcp_notsent_lowat sysctl (UINT_MAX by default).
			assert.Contains(t, []int{0, sysctlNotSentLowat(t)}, getsockopt(t, conn, syscall.IPPROTO_TCP, tcpNotSentLowat))
			assert.Equal(t, 0, getsockopt(t, conn, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE))
		})
	}
}
