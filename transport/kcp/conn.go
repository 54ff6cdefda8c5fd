package kcp

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	kcpgo "github.com/xtaci/kcp-go/v5"
)

// network is the Net field of this package's *net.OpError values.
const network = "kcp"

// maxWrite bounds the bytes handed to KCP in one call. kcp-go checks its
// send window once per call and then queues the whole buffer, so larger
// writes are cut to keep what is queued near the window.
const maxWrite = 128 << 10

// Conn is one KCP session. [Dialer.Dial] and [Listener.Accept] return
// it. It is an ordered, reliable byte stream with LocalAddr and
// RemoteAddr, deliberately without deadlines (kcp-go's are unreliable;
// the netmux session owns every timeout) and without a FIN: the peer
// never learns that this end closed (see the package documentation).
//
// Read, Write and Close are safe for concurrent use. Concurrent Writes
// do not interleave.
type Conn struct {
	s       *kcpgo.UDPSession
	linger  time.Duration
	release func() // gives the Listener's socket reference back; nil when dialed

	born      time.Time
	lastWrite atomic.Int64 // time.Since(born) after the last Write, in ns; -1: none

	wmu       sync.Mutex    // serialises Writes
	closing   chan struct{} // closed when Close starts
	closed    chan struct{} // closed when Close is done
	closeOnce sync.Once
}

func newConn(s *kcpgo.UDPSession, c *config, release func()) *Conn {
	cn := &Conn{
		s:       s,
		linger:  c.Linger,
		release: release,
		born:    time.Now(),
		closing: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	cn.lastWrite.Store(-1)
	return cn
}

// Read reads received bytes. It never returns io.EOF: KCP does not carry
// the peer's close. After Close it fails with an error matching
// net.ErrClosed.
func (c *Conn) Read(b []byte) (int, error) {
	if c.isClosing() {
		return 0, c.opError("read", net.ErrClosed)
	}
	n, err := c.s.Read(b)
	if err != nil {
		err = c.mapError("read", err)
	}
	return n, err
}

// Write queues b for sending and returns once all of it is queued. It
// blocks while KCP's send window is full, which on a dead peer is
// forever: the netmux session's write timeout and keepalive bound that.
// After Close it fails with an error matching net.ErrClosed.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for {
		if len(b) == 0 && n > 0 {
			return n, nil
		}
		if c.isClosing() {
			return n, c.opError("write", net.ErrClosed)
		}
		if len(b) == 0 {
			return 0, nil
		}
		k := min(len(b), maxWrite)
		m, err := c.s.Write(b[:k])
		n += m
		if m > 0 {
			c.lastWrite.Store(int64(time.Since(c.born)))
		}
		if err != nil {
			return n, c.mapError("write", err)
		}
		b = b[k:]
	}
}

// Close ends the session. New Reads and Writes fail at once. If data was
// written within the last Options.Linger, Close first keeps the session
// running for what is left of that time, so that what is still queued
// can reach the peer (kcp-go's close discards it, and v5.6.24 offers no
// way to see how much is queued); pending Reads and Writes return when
// the session is dropped. Nothing tells the peer. A second Close waits
// for the first and returns an error matching net.ErrClosed.
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() { first = true })
	if !first {
		<-c.closed
		return c.opError("close", net.ErrClosed)
	}
	close(c.closing)
	if last := c.lastWrite.Load(); last >= 0 {
		if wait := c.linger - (time.Since(c.born) - time.Duration(last)); wait > 0 {
			t := time.NewTimer(min(wait, c.linger))
			<-t.C
		}
	}
	c.s.Close() // its only error is a second close
	if c.release != nil {
		c.release()
	}
	close(c.closed)
	return nil
}

// LocalAddr returns the local UDP address (for an accepted Conn, the
// Listener's).
func (c *Conn) LocalAddr() net.Addr { return c.s.LocalAddr() }

// RemoteAddr returns the peer's UDP address.
func (c *Conn) RemoteAddr() net.Addr { return c.s.RemoteAddr() }

func (c *Conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// mapError reports kcp-go's errors as *net.OpError, and any error after
// our own Close as net.ErrClosed.
func (c *Conn) mapError(op string, err error) error {
	if c.isClosing() || errors.Is(err, io.ErrClosedPipe) {
		err = net.ErrClosed
	}
	return c.opError(op, err)
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: network, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
