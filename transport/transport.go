package transport

import (
	"bytes"
	"container/list"
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

// Default bounds of a [SessionListener].
const (
	// DefaultMaxHandshakes is how many connections may be in their
	// handshake (carrier handshake, [WithHandshake] hook, preface) at
	// once. An honest handshake takes a few round trips, so this serves
	// thousands of clients connecting together; when it is reached, the
	// connection that has waited longest is dropped to make room (see
	// [WithMaxHandshakes]).
	DefaultMaxHandshakes = 1024

	// DefaultMaxPending is how many sessions may wait for
	// [SessionListener.Accept] at once. A [Server] accepts as fast as
	// sessions arrive, so the queue is short unless the application
	// stalls.
	DefaultMaxPending = 128
)

// SessionListener accepts server sessions from a [Listener]. Create it
// with [NewListener].
//
// It bounds what connections that never finish their handshake can
// cost: at most [DefaultMaxHandshakes] (see [WithMaxHandshakes]) are in
// their handshake at once, each with one goroutine and no session, and
// at most [DefaultMaxPending] (see [WithMaxPending]) finished sessions
// wait for Accept; a connection whose session finds that queue full
// waits, still counted as in its handshake, until there is room or its
// preface timeout ends.
type SessionListener struct {
	ln      Listener
	cfg     core.Config
	timeout time.Duration
	slots   chan struct{} // one per handshake goroutine; capacity is the limit
	hook    func(ctx context.Context, conn io.ReadWriteCloser) error

	ctx     context.Context // ends on Close
	cancel  context.CancelFunc
	ready   chan *core.Session // capacity maxPending
	pending chan struct{}      // a slot per session created and not yet accepted
	once    sync.Once
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error      // why the accept loop ended
	open    *list.List // of *inflight, oldest first
	evicted int64      // connections dropped to make room
}

// inflight is a connection in its handshake.
type inflight struct {
	cancel context.CancelFunc // closes the connection (through its AfterFunc)
	gone   bool               // no longer in open (guarded by mu)
}

// ListenerOption configures [NewListener].
type ListenerOption func(*SessionListener)

// WithPrefaceTimeout sets how long a new connection has to complete its
// handshake and deliver its preface (default [DefaultPrefaceTimeout]).
func WithPrefaceTimeout(d time.Duration) ListenerOption {
	return func(l *SessionListener) { l.timeout = d }
}

// WithMaxHandshakes sets how many connections may be in their handshake
// at once (default [DefaultMaxHandshakes]; n < 1 means the default).
// When a new connection arrives at the limit, the one that has been in
// its handshake longest is closed: a flood of silent connections then
// costs at most n goroutines and connections, and a client that
// completes its handshake faster than the flood cycles through n
// connections still gets in. Honest clients arriving together are
// dropped the same way once more than n are in their handshake at once,
// so raise n for a server that expects such bursts. A connection that
// has finished its handshake is never dropped: while it waits for room
// in the Accept queue it still counts against n, and new connections
// then wait in the carrier's own backlog.
func WithMaxHandshakes(n int) ListenerOption {
	return func(l *SessionListener) {
		if n > 0 {
			l.slots = make(chan struct{}, n)
		}
	}
}

// WithMaxPending sets how many sessions may wait for Accept at once
// (default [DefaultMaxPending]; n < 1 means the default).
func WithMaxPending(n int) ListenerOption {
	return func(l *SessionListener) {
		if n > 0 {
			l.pending = make(chan struct{}, n)
		}
	}
}

// WithHandshake runs hook on every accepted connection before its
// preface is read, in the connection's own handshake goroutine, for
// example to authenticate the client. The client must speak first
// (carriers such as KCP and QUIC show a connection only once bytes
// arrive). ctx ends at the preface timeout, when the connection is
// dropped to make room (see [WithMaxHandshakes]) or when the listener
// closes, and conn is closed then, which unblocks the hook's I/O. If
// hook returns an error, conn is closed and skipped: the hook should have
// told the peer why. It must not keep conn or read past its own
// messages, since the preface follows them.
func WithHandshake(hook func(ctx context.Context, conn io.ReadWriteCloser) error) ListenerOption {
	return func(l *SessionListener) { l.hook = hook }
}

// NewListener starts accepting connections from ln. Each connection's
// handshake and preface are read in its own goroutine under the preface
// timeout, so a silent client never delays others. Close stops it and
// closes ln.
func NewListener(ln Listener, cfg core.Config, opts ...ListenerOption) (*SessionListener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &SessionListener{
		ln: ln, cfg: cfg, timeout: DefaultPrefaceTimeout,
		slots:   make(chan struct{}, DefaultMaxHandshakes),
		pending: make(chan struct{}, DefaultMaxPending),
		open:    list.New(),
	}
	for _, o := range opts {
		o(l)
	}
	l.ready = make(chan *core.Session, cap(l.pending))
	l.ctx, l.cancel = context.WithCancel(context.Background())
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
			case <-l.ctx.Done():
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
		if !l.reserve() {
			conn.Close()
			return
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
		// Closing conn is how a handshake is aborted, whatever it waits
		// on: timeout, eviction or Close.
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		e, ok := l.track(&inflight{cancel: cancel})
		if !ok {
			cancel()
			<-l.slots
			return
		}
		l.wg.Go(func() {
			defer func() { <-l.slots }()
			defer cancel()
			l.handshake(ctx, conn, e, stop)
		})
	}
}

// reserve takes a handshake slot for a new connection. At the limit it
// drops the connection that has been in its handshake longest and waits
// for its goroutine to end (the connection is closed, so at once); false
// means the listener is closed.
func (l *SessionListener) reserve() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.mu.Lock()
	if front := l.open.Front(); front != nil && l.ctx.Err() == nil {
		oldest := l.open.Remove(front).(*inflight)
		oldest.gone = true
		oldest.cancel() // its AfterFunc closes the connection
		l.evicted++
	}
	l.mu.Unlock()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// track records a connection in its handshake; false means the listener
// is closed.
func (l *SessionListener) track(c *inflight) (*list.Element, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return nil, false
	}
	return l.open.PushBack(c), true
}

// untrack ends a connection's handshake; false means it was dropped to
// make room or the listener closed, so the connection is closed.
func (l *SessionListener) untrack(e *list.Element) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := e.Value.(*inflight)
	if l.ctx.Err() != nil || c.gone { // after Close, open holds nothing
		return false
	}
	c.gone = true
	l.open.Remove(e)
	return true
}

// handshake runs the hook, reads the preface, waits for room in the
// Accept queue, starts the session and queues it.
func (l *SessionListener) handshake(ctx context.Context, conn io.ReadWriteCloser, e *list.Element, stop func() bool) {
	defer l.untrack(e)
	if l.hook != nil {
		if err := l.hook(ctx, conn); err != nil {
			conn.Close()
			return
		}
	}
	var hdr [12]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		conn.Close()
		return
	}
	if err := checkPreface(hdr[:], l.cfg.ProtocolVersion); err != nil {
		conn.Close()
		return
	}
	// The client has proven itself (preface, and the hook's exchange):
	// it is no longer one to drop to make room. It keeps its goroutine
	// and slot while it waits for room in the Accept queue, so a slow
	// Accept pushes back on new connections rather than costing more.
	if !l.untrack(e) {
		conn.Close()
		return
	}
	select {
	case l.pending <- struct{}{}:
	case <-ctx.Done():
		return // the AfterFunc closes conn
	}
	// From here the session owns conn: neither the timeout nor Close may
	// close it under a session Accept may already have returned.
	if !stop() {
		conn.Close()
		<-l.pending
		return
	}
	sess, err := core.Server(&prefixed{ReadWriteCloser: conn, head: bytes.NewReader(hdr[:])}, l.cfg)
	if err != nil {
		conn.Close()
		<-l.pending
		return
	}
	l.ready <- sess // never blocks: the pending slot is room in ready
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
		<-l.pending
		return sess, nil
	case <-l.ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Handshakes returns how many connections are in their handshake now
// (those that finished it and wait for room in the Accept queue
// included) and how many were dropped so far to make room for newer
// ones.
func (l *SessionListener) Handshakes() (inProgress int, dropped int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.slots), l.evicted
}

// Addr returns the underlying listener's address.
func (l *SessionListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, closes the underlying listener, every
// connection still in its handshake and every session not yet returned
// by Accept, and waits for its goroutines. Sessions already returned by
// Accept are the caller's to close.
func (l *SessionListener) Close() error {
	err := l.shut()
	l.wg.Wait()
	for {
		select {
		case sess := <-l.ready:
			<-l.pending
			sess.Close()
		default:
			return err
		}
	}
}

func (l *SessionListener) shut() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		l.cancel() // closes every connection in its handshake
		l.open.Init()
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
