package tls

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

// ALPN is the application protocol the adapter negotiates when the
// config names none.
const ALPN = "netmux/1"

// Dialer dials TLS connections over an inner transport.
type Dialer struct {
	// Config is the client configuration; nil means an empty one (system
	// roots, server name from the address). It is cloned, never modified,
	// and given the package defaults.
	Config *stdtls.Config

	// Inner dials the carrier connection; nil means tcp.Dialer{}.
	Inner transport.Dialer
}

var _ transport.Dialer = Dialer{}

// Dial dials the carrier, then runs the TLS client handshake under ctx
// and returns the *crypto/tls.Conn. On any failure the carrier connection
// is closed.
func (d Dialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	cfg := clientConfig(d.Config, addr)
	inner := d.Inner
	if inner == nil {
		inner = tcp.Dialer{}
	}
	rwc, err := inner.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	conn := stdtls.Client(asNetConn(rwc), cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		rwc.Close()
		return nil, err
	}
	return conn, nil
}

// Listener wraps accepted carrier connections in TLS. Create it with
// [Listen] or [NewListener].
type Listener struct {
	inner transport.Listener
	cfg   *stdtls.Config
}

var _ transport.Listener = (*Listener)(nil)

// NewListener returns a Listener that serves TLS with cfg over the
// connections inner accepts. cfg must provide a certificate (Certificates,
// GetCertificate or GetConfigForClient), else every handshake fails. It
// is cloned, never modified, and given the package defaults.
func NewListener(inner transport.Listener, cfg *stdtls.Config) *Listener {
	return &Listener{inner: inner, cfg: serverConfig(cfg)}
}

// Listen listens for TLS over TCP (transport/tcp with its defaults) on
// addr. It fails if cfg provides no certificate. For other TCP options,
// use NewListener with a tcp.Listener.
func Listen(addr string, cfg *stdtls.Config) (*Listener, error) {
	if cfg == nil || len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, errors.New("tls: neither Certificates, GetCertificate, nor GetConfigForClient set in Config")
	}
	ln, err := tcp.Listen(addr)
	if err != nil {
		return nil, err
	}
	return NewListener(ln, cfg), nil
}

// Accept returns the next connection as a *crypto/tls.Conn without
// waiting for its handshake, which runs on the first Read (or Write, or
// an explicit Handshake). See the package documentation.
func (l *Listener) Accept() (io.ReadWriteCloser, error) {
	rwc, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	return stdtls.Server(asNetConn(rwc), l.cfg), nil
}

// Close closes the inner listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// applyDefaults raises MinVersion and fills in NextProtos on a clone.
func applyDefaults(cfg *stdtls.Config) *stdtls.Config {
	if cfg == nil {
		cfg = &stdtls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.MinVersion < stdtls.VersionTLS12 {
		cfg.MinVersion = stdtls.VersionTLS12
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{ALPN}
	}
	return cfg
}

func clientConfig(cfg *stdtls.Config, addr string) *stdtls.Config {
	cfg = applyDefaults(cfg)
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	return cfg
}

func serverConfig(cfg *stdtls.Config) *stdtls.Config {
	cfg = applyDefaults(cfg)
	if get := cfg.GetConfigForClient; get != nil {
		cfg.GetConfigForClient = func(hello *stdtls.ClientHelloInfo) (*stdtls.Config, error) {
			c, err := get(hello)
			if c == nil || err != nil {
				return c, err
			}
			return applyDefaults(c), nil
		}
	}
	return cfg
}

// asNetConn returns c as a net.Conn, adapting it if it is only an
// io.ReadWriteCloser.
func asNetConn(c io.ReadWriteCloser) net.Conn {
	if nc, ok := c.(net.Conn); ok {
		return nc
	}
	return rwcConn{c}
}

// rwcConn adapts an io.ReadWriteCloser to net.Conn, forwarding the
// methods it has.
type rwcConn struct{ io.ReadWriteCloser }

// carrierAddr is the placeholder address of a carrier that has none.
type carrierAddr struct{}

func (carrierAddr) Network() string { return "netmux-carrier" }
func (carrierAddr) String() string  { return "unknown" }

func (c rwcConn) LocalAddr() net.Addr {
	if a, ok := c.ReadWriteCloser.(interface{ LocalAddr() net.Addr }); ok {
		if addr := a.LocalAddr(); addr != nil {
			return addr
		}
	}
	return carrierAddr{}
}

func (c rwcConn) RemoteAddr() net.Addr {
	if a, ok := c.ReadWriteCloser.(interface{ RemoteAddr() net.Addr }); ok {
		if addr := a.RemoteAddr(); addr != nil {
			return addr
		}
	}
	return carrierAddr{}
}

var errNoDeadlines = fmt.Errorf("tls: carrier connection has no deadlines: %w", errors.ErrUnsupported)

func (c rwcConn) SetDeadline(t time.Time) error {
	if d, ok := c.ReadWriteCloser.(interface{ SetDeadline(time.Time) error }); ok {
		return d.SetDeadline(t)
	}
	return errNoDeadlines
}

func (c rwcConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.ReadWriteCloser.(interface{ SetReadDeadline(time.Time) error }); ok {
		return d.SetReadDeadline(t)
	}
	return errNoDeadlines
}

func (c rwcConn) SetWriteDeadline(t time.Time) error {
	if d, ok := c.ReadWriteCloser.(interface{ SetWriteDeadline(time.Time) error }); ok {
		return d.SetWriteDeadline(t)
	}
	return errNoDeadlines
}
