package tcp

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/netmux/netmux/transport"
)

// DefaultNotSentLowat is the TCP_NOTSENT_LOWAT the adapter sets on Linux
// unless told otherwise.
const DefaultNotSentLowat = 128 << 10

// DefaultKeepAlive is the OS keepalive configuration the adapter sets
// unless told otherwise.
var DefaultKeepAlive = net.KeepAliveConfig{
	Enable:   true,
	Idle:     15 * time.Second,
	Interval: 15 * time.Second,
	Count:    4,
}

// Options are the socket options set on every connection. The zero value
// selects the defaults described in the package documentation.
type Options struct {
	// DisableNoDelay turns Nagle's algorithm back on. By default
	// TCP_NODELAY is set.
	DisableNoDelay bool

	// KeepAlive configures OS keepalive probes. Nil selects
	// DefaultKeepAlive; a config with Enable false disables them. Zero
	// fields of an enabled config select the OS defaults, as in
	// net.KeepAliveConfig.
	KeepAlive *net.KeepAliveConfig

	// NotSentLowat is the TCP_NOTSENT_LOWAT socket option in bytes, set
	// on Linux only: 0 selects DefaultNotSentLowat, a negative value
	// leaves the kernel default.
	NotSentLowat int

	// ReadBuffer and WriteBuffer set SO_RCVBUF and SO_SNDBUF in bytes;
	// 0 leaves the OS default. Negative values are invalid.
	ReadBuffer, WriteBuffer int
}

// Option changes one of the [Options] of [Listen].
type Option func(*Options)

// WithNoDelay sets (true, the default) or clears TCP_NODELAY.
func WithNoDelay(on bool) Option { return func(o *Options) { o.DisableNoDelay = !on } }

// WithKeepAlive replaces DefaultKeepAlive; cfg.Enable false disables OS
// keepalive.
func WithKeepAlive(cfg net.KeepAliveConfig) Option {
	return func(o *Options) { o.KeepAlive = &cfg }
}

// WithNotSentLowat sets TCP_NOTSENT_LOWAT to n bytes on Linux; n <= 0
// leaves the kernel default.
func WithNotSentLowat(n int) Option {
	return func(o *Options) {
		if n <= 0 {
			n = -1
		}
		o.NotSentLowat = n
	}
}

// WithBufferSizes sets SO_RCVBUF (read) and SO_SNDBUF (write); 0 leaves
// the OS default.
func WithBufferSizes(read, write int) Option {
	return func(o *Options) { o.ReadBuffer, o.WriteBuffer = read, write }
}

func (o *Options) validate() error {
	if o.ReadBuffer < 0 || o.WriteBuffer < 0 {
		return fmt.Errorf("tcp: negative buffer size (read %d, write %d)", o.ReadBuffer, o.WriteBuffer)
	}
	return nil
}

// apply sets the options on an established connection.
func (o *Options) apply(c *net.TCPConn) error {
	if err := c.SetNoDelay(!o.DisableNoDelay); err != nil {
		return err
	}
	ka := DefaultKeepAlive
	if o.KeepAlive != nil {
		ka = *o.KeepAlive
	}
	if err := c.SetKeepAliveConfig(ka); err != nil {
		return err
	}
	if o.ReadBuffer > 0 {
		if err := c.SetReadBuffer(o.ReadBuffer); err != nil {
			return err
		}
	}
	if o.WriteBuffer > 0 {
		if err := c.SetWriteBuffer(o.WriteBuffer); err != nil {
			return err
		}
	}
	lowat := o.NotSentLowat
	if lowat == 0 {
		lowat = DefaultNotSentLowat
	}
	if lowat > 0 {
		if err := setNotSentLowat(c, lowat); err != nil {
			return fmt.Errorf("tcp: set TCP_NOTSENT_LOWAT: %w", err)
		}
	}
	return nil
}

// Dialer dials TCP connections with [Options]. The zero value dials with
// the defaults.
type Dialer struct {
	Options

	// LocalAddr, if set, is the local address to dial from.
	LocalAddr *net.TCPAddr
}

var _ transport.Dialer = Dialer{}

// Dial connects to addr ("host:port") and returns a *net.TCPConn with the
// options set. ctx bounds the connect.
func (d Dialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	nd := net.Dialer{KeepAlive: -1} // keepalive is set in apply, with the rest
	if d.LocalAddr != nil {
		nd.LocalAddr = d.LocalAddr
	}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if err := d.apply(tc); err != nil {
		tc.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Source: tc.LocalAddr(), Addr: tc.RemoteAddr(), Err: err}
	}
	return tc, nil
}

// Listener accepts TCP connections and sets [Options] on each. Create it
// with [Listen]. Its methods are safe for concurrent use.
type Listener struct {
	ln   *net.TCPListener
	opts Options
}

var _ transport.Listener = (*Listener)(nil)

// Listen listens on the TCP address addr ("host:port"; port 0 picks a free
// one, see Addr).
func Listen(addr string, opts ...Option) (*Listener, error) {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	lc := net.ListenConfig{KeepAlive: -1} // set in apply
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{ln: ln.(*net.TCPListener), opts: o}, nil
}

// Accept waits for the next connection and returns it as a *net.TCPConn
// with the options set. A connection on which they cannot be set is
// closed and skipped. After Close, Accept returns an error matching
// net.ErrClosed.
func (l *Listener) Accept() (io.ReadWriteCloser, error) {
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			return nil, err
		}
		if err := l.opts.apply(c); err != nil {
			c.Close() // most likely already reset by the peer
			continue
		}
		return c, nil
	}
}

// Close stops listening and unblocks pending Accepts. Connections already
// accepted stay open.
func (l *Listener) Close() error { return l.ln.Close() }

// Addr returns the listening address, a *net.TCPAddr.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }
