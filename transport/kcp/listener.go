package kcp

import (
	"io"
	"net"
	"sync"

	kcpgo "github.com/xtaci/kcp-go/v5"
)

// Listener accepts KCP sessions on one UDP socket. Create it with
// [Listen]. It implements transport.Listener; hand it to
// transport.NewListener or transport.Server, which check each session's
// netmux preface.
//
// All sessions share the Listener's socket. Close stops accepting but,
// as with TCP, sessions already accepted keep working: the socket is
// closed when the Listener and every session it returned are closed.
type Listener struct {
	c    *config
	udp  *net.UDPConn
	kl   *kcpgo.Listener
	addr net.Addr

	handoff  chan *kcpgo.UDPSession // from pump to Accept
	done     chan struct{}          // closed by Close
	pumpDone chan struct{}          // closed when pump has returned
	pumpErr  error                  // why pump returned; set before pumpDone

	mu     sync.Mutex
	closed bool // Close was called (guarded by mu, mirrors done)
	refs   int  // the Listener's own until Close, plus one per open accepted Conn
}

// Listen opens a UDP socket on addr ("127.0.0.1:0", ":7777") and accepts
// KCP sessions on it with opts, which must match the dialers' (Key and
// FEC shards above all).
func Listen(addr string, opts Options) (*Listener, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "listen", Net: network, Err: err}
	}
	c, err := opts.resolve()
	if err != nil {
		return nil, opErr(err)
	}
	uaddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, opErr(err)
	}
	udp, err := net.ListenUDP("udp", uaddr)
	if err != nil {
		return nil, opErr(err)
	}
	if err := c.sockBuffers(udp); err != nil {
		udp.Close()
		return nil, opErr(err)
	}
	// ServeConn leaves the socket to us (kcp-go's Listener.Close would
	// close it and with it every accepted session).
	kl, err := kcpgo.ServeConn(c.block, c.DataShards, c.ParityShards, udp)
	if err != nil {
		udp.Close()
		return nil, opErr(err)
	}
	l := &Listener{
		c: c, udp: udp, kl: kl, addr: udp.LocalAddr(),
		handoff:  make(chan *kcpgo.UDPSession),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
		refs:     1,
	}
	go l.pump()
	return l, nil
}

// pump takes each session kcp-go creates and hands it to Accept, or
// closes it once the Listener is closed. It returns when the socket is
// closed (or fails), after closing every session still queued inside
// kcp-go, so none is left running.
func (l *Listener) pump() {
	var err error
	for {
		s, e := l.kl.AcceptKCP()
		if e != nil {
			// The only possible error while kcp-go's Listener is open:
			// its socket reader hit a read error and is returning, so
			// no session will be created any more.
			err = e
			break
		}
		l.c.tune(s) // at once: the session is already receiving
		select {
		case l.handoff <- s:
		case <-l.done:
			s.Close() // refused: a late or ghost packet after Close
		}
	}
	// Sessions may still wait in kcp-go's accept queue. AcceptKCP picks
	// at random between a queued session and the (permanent) read
	// error, so each call returns a queued session with probability at
	// least 1/2; 64 errors in a row leave one behind with probability
	// 2^-64.
	for misses := 0; misses < 64; {
		s, e := l.kl.AcceptKCP()
		if e != nil {
			misses++
			continue
		}
		misses = 0
		s.Close()
	}
	l.kl.Close()
	l.pumpErr = err
	close(l.pumpDone)
}

// Accept waits for the next session and returns it as a *[Conn]. A
// session exists as soon as a packet arrives from a new address, so it
// may be a ghost (see the package documentation) or not netmux at all;
// transport.NewListener checks the preface. After Close, Accept fails
// with an error matching net.ErrClosed.
func (l *Listener) Accept() (io.ReadWriteCloser, error) {
	select {
	case <-l.done:
		return nil, l.opError(net.ErrClosed)
	default:
	}
	select {
	case s := <-l.handoff:
		if !l.acquire() {
			s.Close()
			return nil, l.opError(net.ErrClosed)
		}
		return newConn(s, l.c, l.release), nil
	case <-l.done:
		return nil, l.opError(net.ErrClosed)
	case <-l.pumpDone:
		return nil, l.opError(l.pumpErr)
	}
}

// Close stops accepting and unblocks pending Accepts. Sessions already
// accepted are not affected; the socket closes with the last of them.
// A second Close returns an error matching net.ErrClosed.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return l.opError(net.ErrClosed)
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	l.release()
	return nil
}

// Addr returns the UDP address the Listener is bound to.
func (l *Listener) Addr() net.Addr { return l.addr }

// acquire takes a socket reference for a newly accepted Conn; false
// after Close.
func (l *Listener) acquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.refs++
	return true
}

// release drops a socket reference. The last one closes the socket and
// waits for pump, which returns only after kcp-go's socket reader has
// and after every session nobody accepted is closed (their sender
// goroutines then exit on their own).
func (l *Listener) release() {
	l.mu.Lock()
	l.refs--
	last := l.refs == 0
	l.mu.Unlock()
	if last {
		l.udp.Close()
		<-l.pumpDone
	}
}

func (l *Listener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: network, Addr: l.addr, Err: err}
}
