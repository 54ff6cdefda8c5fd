package quic

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"

	"github.com/quic-go/quic-go"
)

// Dialer dials QUIC connections and opens the one bidirectional stream
// that carries a session. The zero value dials with the system roots and
// default QUIC settings. Dialer implements transport.Dialer.
type Dialer struct {
	// TLSConfig configures the client side of the handshake (nil: an
	// empty config, so the system roots). ServerName defaults to the
	// host in the address and NextProtos to [ALPN]. It is cloned, never
	// modified.
	TLSConfig *tls.Config

	// Config configures QUIC (nil: quic-go's defaults). Zero fields get
	// this package's defaults (see the package documentation). It is
	// cloned, never modified.
	Config *quic.Config
}

// Dial resolves addr ("host:port"; IPv4 preferred, an empty host is
// 127.0.0.1), performs the QUIC handshake, opens a
// bidirectional stream and returns it as a *Conn. ctx bounds the
// resolution, the handshake and the stream opening only.
//
// Each connection has its own UDP socket, bound to the local address the
// system routes addr from (127.0.0.1 for a loopback server), not to every
// interface. Closing the Conn closes the socket.
//
// The server's Listener sees the stream only once data arrives on it; a
// netmux client session writes its preface at once.
func (d Dialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: stringAddr(addr), Err: err}
	}
	host, raddr, err := resolve(ctx, addr)
	if err != nil {
		return nil, opErr(err)
	}
	pc, err := listenFor(raddr)
	if err != nil {
		return nil, opErr(err)
	}
	tr := &quic.Transport{Conn: pc}
	fail := func(err error) (io.ReadWriteCloser, error) {
		tr.Close()
		pc.Close()
		return nil, opErr(err)
	}
	tc := tlsConfig(d.TLSConfig)
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	qc, err := tr.Dial(ctx, raddr, tc, quicConfig(d.Config, false))
	if err != nil {
		return fail(err)
	}
	st, err := qc.OpenStreamSync(ctx)
	if err != nil {
		_ = qc.CloseWithError(codeRefused, "")
		return fail(err)
	}
	c := newConn(qc, st)
	c.onClose = func() {
		_ = tr.Close()
		_ = pc.Close()
	}
	return c, nil
}

// resolve looks up addr's host and port. Like net.ResolveUDPAddr (and
// quic.DialAddr), it prefers the first IPv4 address; an empty host is
// 127.0.0.1.
func resolve(ctx context.Context, addr string) (host string, _ *net.UDPAddr, _ error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return "", nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return "", nil, err
	}
	if len(ips) == 0 {
		return "", nil, errors.New("no address for " + host)
	}
	ip := ips[0]
	for _, a := range ips {
		if a.Unmap().Is4() {
			ip = a
			break
		}
	}
	return host, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), uint16(p))), nil
}

// listenFor opens a UDP socket on the local address the system would send
// to raddr from. Connecting a throwaway UDP socket picks the route and
// sends nothing.
func listenFor(raddr *net.UDPAddr) (*net.UDPConn, error) {
	probe, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	local := probe.LocalAddr().(*net.UDPAddr)
	probe.Close()
	return net.ListenUDP("udp", &net.UDPAddr{IP: local.IP, Zone: local.Zone})
}

// stringAddr is an address given as a string, for errors.
type stringAddr string

func (a stringAddr) Network() string { return "udp" }
func (a stringAddr) String() string  { return string(a) }
