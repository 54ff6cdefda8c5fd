package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
)

// Dialer opens connections to an address.
type Dialer interface {
	Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error)
}

// Listener accepts connections. Close unblocks a pending Accept.
type Listener interface {
	Accept() (io.ReadWriteCloser, error)
	Close() error
	Addr() net.Addr
}

// DefaultPrefaceTimeout bounds how long an accepted connection may take
// to complete its carrier handshake and send the netmux preface.
const DefaultPrefaceTimeout = 10 * time.Second

// Dial dials addr with d and starts a client session over the connection.
// It waits for the peer to answer the session's first ping (bounded by ctx
// and cfg.OpenTimeout), so the carrier is proven both ways when Dial
// returns.
func Dial(ctx context.Context, d Dialer, addr string, cfg core.Config) (*core.Session, error) {
	conn, err := d.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	sess, err := core.Client(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if cfg.OpenTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.OpenTimeout)
		defer cancel()
	}
	if _, err := sess.Ping(ctx); err != nil {
		conn.Close() // no graceful close with a peer that never answered
		sess.Close()
		return nil, fmt.Errorf("netmux: dial %s: %w", addr, err)
	}
	return sess, nil
}

// ErrPreface is returned (wrapped) for a connection whose first bytes are
// not a netmux preface. Such connections are closed and skipped by
// [SessionListener.Accept].
var ErrPreface = errors.New("netmux: bad preface")

// SessionListener accepts server sessions from a [Listener]. Create it
// with [NewListener].
type SessionListener struct {
	ln      Listener
	cfg     core.Config
	timeout time.Duration

	ready chan *core.Session
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error // why the accept loop ended
	open  map[io.ReadWriteCloser]struct{}
}

// ListenerOption configures [NewListener].
type ListenerOption func(*SessionListener)

// WithPrefaceTimeout sets how long a new connection has to deliver its
// preface (default [DefaultPrefaceTimeout]).
func WithPrefaceTimeout(d time.Duration) ListenerOption {
	return func(l *SessionListener) { l.timeout = d }
}

// NewListener starts accepting connections from ln. Each connection's
// preface is read in its own goroutine under the preface timeout, so a
// silent client never delays others. Close stops it and closes ln.
func NewListener(ln Listener, cfg core.Config, opts ...ListenerOption) (*SessionListener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &SessionListener{
		ln: ln, cfg: cfg, timeout: DefaultPrefaceTimeout,
		ready: make(chan *core.Session),
		done:  make(chan struct{}),
		open:  make(map[io.ReadWriteCloser]struct{}),
	}
	for _, o := range opts {
		o(l)
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

func (l *SessionListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil && isTemporary(err) {
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, rather than ending the server.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-l.done:
			}
		}
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.shut()
			return
		}
		backoff = 0
		if !l.track(conn) {
			conn.Close()
			return
		}
		l.wg.Add(1)
		go l.handshake(conn)
	}
}

// track records a connection still in its handshake, so Close can abort
// it; false means the listener is closed.
func (l *SessionListener) track(conn io.ReadWriteCloser) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
		l.open[conn] = struct{}{}
		return true
	}
}

func (l *SessionListener) untrack(conn io.ReadWriteCloser) {
	l.mu.Lock()
	delete(l.open, conn)
	l.mu.Unlock()
}

// handshake reads the preface, starts the session and hands it over.
func (l *SessionListener) handshake(conn io.ReadWriteCloser) {
	defer l.wg.Done()
	defer l.untrack(conn)
	timer := time.AfterFunc(l.timeout, func() { conn.Close() })
	var hdr [12]byte
	_, err := io.ReadFull(conn, hdr[:])
	if !timer.Stop() || err != nil {
		conn.Close()
		return
	}
	if err := checkPreface(hdr[:], l.cfg.ProtocolVersion); err != nil {
		conn.Close()
		return
	}
	sess, err := core.Server(&prefixed{ReadWriteCloser: conn, head: bytes.NewReader(hdr[:])}, l.cfg)
	if err != nil {
		conn.Close()
		return
	}
	// From here the session owns conn: Close must not close it under a
	// session Accept may already have returned.
	l.untrack(conn)
	select {
	case l.ready <- sess:
	case <-l.done:
		sess.Close()
	}
}

// isTemporary reports an Accept error worth retrying.
func isTemporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// checkPreface accepts a version-1 Ping SYN, or in yamux mode any frame
// of version 0 (yamux clients send no preface).
func checkPreface(h []byte, version uint8) error {
	if h[0] != version {
		return fmt.Errorf("%w: version %d", ErrPreface, h[0])
	}
	if version == 1 && (h[1] != 2 || h[2] != 0 || h[3] != 1) {
		return fmt.Errorf("%w: first frame is not a Ping", ErrPreface)
	}
	return nil
}

// Accept returns the next session whose preface arrived. It fails once
// the listener is closed, or with the underlying listener's error.
func (l *SessionListener) Accept() (*core.Session, error) {
	select {
	case sess := <-l.ready:
		return sess, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Addr returns the underlying listener's address.
func (l *SessionListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, closes the underlying listener and every
// connection still in its handshake, and waits for its goroutines.
// Sessions already returned by Accept are the caller's to close.
func (l *SessionListener) Close() error {
	err := l.shut()
	l.wg.Wait()
	return err
}

func (l *SessionListener) shut() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.open {
			c.Close()
		}
		l.mu.Unlock()
		err = l.ln.Close()
	})
	return err
}

// prefixed replays the preface bytes before reading from the connection,
// and keeps the connection's address methods visible.
type prefixed struct {
	io.ReadWriteCloser
	head *bytes.Reader
}

func (p *prefixed) Read(b []byte) (int, error) {
	if p.head.Len() > 0 {
		return p.head.Read(b)
	}
	return p.ReadWriteCloser.Read(b)
}

func (p *prefixed) LocalAddr() net.Addr {
	if a, ok := p.ReadWriteCloser.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}

func (p *prefixed) RemoteAddr() net.Addr {
	if a, ok := p.ReadWriteCloser.(interface{ RemoteAddr() net.Addr }); ok {
		return a.RemoteAddr()
	}
	return nil
}

// TransparentConn returns the wrapped connection if it is a net.Conn, or
// nil: prefixed passes the session's bytes through unchanged, so the
// session may use the kernel's RTT of a TCP connection under it, and read
// and write it directly once the preface is replayed (Buffered).
func (p *prefixed) TransparentConn() net.Conn {
	c, _ := p.ReadWriteCloser.(net.Conn)
	return c
}

// Buffered returns the preface bytes not yet replayed.
func (p *prefixed) Buffered() int { return p.head.Len() }
