// Package unixsock is a netmux transport over Unix domain sockets. It is
// the worked example in docs/transports.md: a complete adapter in a few
// lines, proven by the conformance suite.
package unixsock

import (
	"context"
	"io"
	"net"

	"github.com/netmux/netmux/transport"
)

// Dialer connects to a Unix socket path.
type Dialer struct{}

// Dial connects to the socket at path.
func (Dialer) Dial(ctx context.Context, path string) (io.ReadWriteCloser, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// Listener accepts connections on a Unix socket.
type Listener struct{ ln net.Listener }

// Listen listens on the socket at path.
func Listen(path string) (*Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	return &Listener{ln: ln}, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (io.ReadWriteCloser, error) { return l.ln.Accept() }

// Close stops listening and unblocks Accept.
func (l *Listener) Close() error { return l.ln.Close() }

// Addr returns the socket's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

var (
	_ transport.Dialer   = Dialer{}
	_ transport.Listener = (*Listener)(nil)
)
