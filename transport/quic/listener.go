package quic

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// DefaultStreamTimeout bounds how long an accepted QUIC connection may
// take to open its stream and send the first bytes on it.
const DefaultStreamTimeout = 10 * time.Second

// maxPending bounds the connections waiting for their stream or for
// Accept. When a new connection arrives at the limit, the one that has
// waited longest for its stream is closed to make room, so connections
// that never open a stream cannot keep an honest client out.
const maxPending = 128

// Listener accepts QUIC connections and, on each, the first bidirectional
// stream the client opens. It implements transport.Listener. Create it
// with [Listen].
//
// Each connection waits for its stream in its own goroutine, under the
// stream timeout, so a client that connects and never opens a stream
// does not delay others.
type Listener struct {
	ln      *quic.Listener
	tr      *quic.Transport
	pc      net.PacketConn
	timeout time.Duration

	ctx    context.Context // canceled by Close: aborts pending AcceptStream
	cancel context.CancelFunc
	ready  chan *Conn    // connections whose stream arrived, handed to Accept
	done   chan struct{} // closed by Close (or a fatal accept error)
	sem    chan struct{} // one token per pending connection
	wg     sync.WaitGroup

	waitMu  sync.Mutex
	waiting *list.List // cancel funcs of connections waiting for their stream, oldest first

	once      sync.Once // shut
	closeOnce sync.Once // Close drops the listener's reference
	mu        sync.Mutex
	err       error // why the accept loop ended, if not Close
	refs      int   // the listener itself until Close, plus each accepted Conn not yet closed
}

// ListenOption configures [Listen].
type ListenOption func(*Listener)

// WithStreamTimeout sets how long an accepted connection has to open its
// stream and send on it (default [DefaultStreamTimeout]); a connection
// that misses it is closed with application error code 1.
func WithStreamTimeout(d time.Duration) ListenOption {
	return func(l *Listener) {
		if d > 0 {
			l.timeout = d
		}
	}
}

// Listen listens for QUIC connections on the UDP address addr (for
// example "127.0.0.1:0" or ":7777"). tlsConf must hold a certificate;
// NextProtos defaults to [ALPN]. conf may be nil; zero fields get this
// package's defaults. Both are cloned, never modified.
func Listen(addr string, tlsConf *tls.Config, conf *quic.Config, opts ...ListenOption) (*Listener, error) {
	if tlsConf == nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: errors.New("quic: a tls.Config with a certificate is required")}
	}
	// The listener owns its socket and quic.Transport rather than using
	// quic.ListenAddr: the socket must outlive the listener while accepted
	// connections use it, and quic-go's single-use transport never stops
	// if its last connection ends abruptly (idle timeout) after the
	// listener closed.
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return nil, err
	}
	tr := &quic.Transport{Conn: pc}
	ln, err := tr.Listen(tlsConfig(tlsConf), quicConfig(conf, true))
	if err != nil {
		tr.Close()
		pc.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		ln:      ln,
		tr:      tr,
		pc:      pc,
		refs:    1,
		timeout: DefaultStreamTimeout,
		ctx:     ctx,
		cancel:  cancel,
		ready:   make(chan *Conn),
		done:    make(chan struct{}),
		sem:     make(chan struct{}, maxPending),
		waiting: list.New(),
	}
	for _, o := range opts {
		o(l)
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		qc, err := l.ln.Accept(l.ctx)
		if err != nil {
			select {
			case <-l.done: // closed: not an error to report
			default:
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
				l.shut()
			}
			return
		}
		if !l.reserve() {
			_ = qc.CloseWithError(codeRefused, "")
			return
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
		l.waitMu.Lock()
		e := l.waiting.PushBack(cancel)
		l.waitMu.Unlock()
		l.wg.Add(1)
		go l.acceptStream(ctx, qc, func() {
			l.waitMu.Lock()
			l.waiting.Remove(e) // a no-op once dropped
			l.waitMu.Unlock()
			cancel()
		})
	}
}

// reserve takes a pending slot for a new connection. At the limit it
// cancels the wait of the connection that has waited longest for its
// stream and takes the slot it frees; false means the listener closed.
func (l *Listener) reserve() bool {
	select {
	case l.sem <- struct{}{}:
		return true
	default:
	}
	l.waitMu.Lock()
	if front := l.waiting.Front(); front != nil {
		l.waiting.Remove(front).(context.CancelFunc)()
	}
	l.waitMu.Unlock()
	select {
	case l.sem <- struct{}{}:
		return true
	case <-l.done:
		return false
	}
}

// acceptStream waits for qc's first stream and hands the connection to
// Accept, or closes it. done ends the wait's bookkeeping.
func (l *Listener) acceptStream(ctx context.Context, qc *quic.Conn, done func()) {
	defer l.wg.Done()
	defer func() { <-l.sem }()
	st, err := qc.AcceptStream(ctx)
	done()
	if err != nil {
		_ = qc.CloseWithError(codeRefused, "")
		return
	}
	c := newConn(qc, st)
	c.onClose = l.release
	l.mu.Lock()
	l.refs++ // before the hand-off: Close drops its own reference only after this goroutine ends
	l.mu.Unlock()
	select {
	case l.ready <- c:
	case <-l.done:
		l.release()
		st.CancelRead(codeAborted)
		st.CancelWrite(codeAborted)
		_ = qc.CloseWithError(codeRefused, "")
	}
}

// Accept returns the next connection whose stream has arrived, as a
// *Conn. After Close it returns an error matching net.ErrClosed; if the
// QUIC listener failed, that error.
func (l *Listener) Accept() (io.ReadWriteCloser, error) {
	select {
	case <-l.done: // closed: do not race with a ready connection
		return nil, l.closedErr()
	default:
	}
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, l.closedErr()
	}
}

func (l *Listener) closedErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	return &net.OpError{Op: "accept", Net: network, Addr: l.ln.Addr(), Err: net.ErrClosed}
}

// Addr returns the UDP address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops listening, closes the connections not yet returned by
// Accept (those still waiting for their stream included) and returns once
// the listener's goroutines have exited. Connections already returned by
// Accept stay open: they are the caller's to close, and the UDP socket is
// closed with the last of them. Close is idempotent.
func (l *Listener) Close() error {
	err := l.shut()
	l.wg.Wait()
	l.closeOnce.Do(l.release)
	return err
}

// release drops one reference to the socket; the last one closes the
// transport and the socket.
func (l *Listener) release() {
	l.mu.Lock()
	l.refs--
	last := l.refs == 0
	l.mu.Unlock()
	if last {
		_ = l.tr.Close()
		_ = l.pc.Close()
	}
}

func (l *Listener) shut() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		l.cancel()
		err = l.ln.Close()
	})
	return err
}
