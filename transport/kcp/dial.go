package kcp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"

	kcpgo "github.com/xtaci/kcp-go/v5"
)

// Dialer opens KCP sessions. The zero value uses the default profile;
// its Options must match the Listener's (Key and FEC shards above all).
type Dialer struct{ Options }

// Dial opens a KCP session to addr ("host:port"; the host is resolved
// under ctx) from a new UDP socket of its own, and returns it as a
// *[Conn]. KCP has no handshake: Dial sends nothing and succeeds even if
// nobody listens, and the Listener sees the session only once the first
// bytes arrive. The netmux client preface is that first write, and
// transport.Dial waits for the peer's answer, so a dead address fails
// there.
func (d Dialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s: %w", addr, err)}
	}
	c, err := d.Options.resolve()
	if err != nil {
		return nil, opErr(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}
	raddr, err := resolveUDP(ctx, addr)
	if err != nil {
		return nil, opErr(err)
	}
	family := "udp"
	if raddr.IP.To4() != nil {
		family = "udp4"
	}
	udp, err := net.ListenUDP(family, nil)
	if err != nil {
		return nil, opErr(err)
	}
	if err := c.sockBuffers(udp); err != nil {
		udp.Close()
		return nil, opErr(err)
	}
	var conv [4]byte
	rand.Read(conv[:]) // never fails
	// ownConn: closing the session closes the socket, which ends the
	// session's reader goroutine.
	s, err := kcpgo.NewConn4(binary.LittleEndian.Uint32(conv[:]), raddr, c.block,
		c.DataShards, c.ParityShards, true, udp)
	if err != nil {
		udp.Close()
		return nil, opErr(err)
	}
	c.tune(s)
	return newConn(s, c, nil), nil
}

// resolveUDP resolves "host:port" under ctx. An empty host is the local
// system (127.0.0.1), as with net.Dial.
func resolveUDP(ctx context.Context, addr string) (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return nil, err
	}
	var ip netip.Addr
	switch {
	case host == "":
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		if ip, err = netip.ParseAddr(host); err != nil {
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, err
			}
			if len(ips) == 0 {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			ip = ips[0]
			for _, a := range ips { // prefer IPv4, as most UDP paths do
				if a.Unmap().Is4() {
					ip = a
					break
				}
			}
		}
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), uint16(p))), nil
}
