package quic

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Linger bounds how long [Conn.Close] waits for the peer to close its side
// of the stream before it closes the QUIC connection.
const Linger = 2 * time.Second

// Application and stream error codes sent on the wire.
const (
	codeNoError  quic.ApplicationErrorCode = 0 // orderly close
	codeRefused  quic.ApplicationErrorCode = 1 // listener closed, or no stream in time
	codeAborted  quic.StreamErrorCode      = 0 // Close with a Write in flight
	drainBufSize                           = 16 << 10
)

// Conn is one bidirectional QUIC stream carrying a netmux session, together
// with the QUIC connection it belongs to. Both ends (dialed and accepted)
// are a *Conn; the connection is owned by the Conn and closed by Close.
//
// Read, Write and Close may be called concurrently. Conn has no deadlines:
// the session owns every timeout.
type Conn struct {
	qc     *quic.Conn
	stream *quic.Stream
	// onClose runs after the connection is closed: it releases the UDP
	// socket (the dialer's own, or a reference to the listener's).
	onClose func()

	closing   atomic.Bool // set first thing in Close
	closeOnce sync.Once

	// rmu is held by Read while it is inside stream.Read, and by Close
	// while it drains the read side.
	rmu     sync.Mutex
	readErr error // first error (io.EOF included) the read side saw; rmu

	// wmu serialises Write with Stream.Close, which must not run
	// concurrently with a Write (quic-go's documented contract).
	wmu sync.Mutex
}

func newConn(qc *quic.Conn, st *quic.Stream) *Conn {
	return &Conn{qc: qc, stream: st}
}

// Read reads from the stream. It returns io.EOF after the peer closed its
// side and every byte before that was read. After Close (also when Close
// interrupts it) it returns an error matching net.ErrClosed.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closing.Load() {
		return 0, c.opErr("read", net.ErrClosed)
	}
	if c.readErr != nil {
		return 0, c.readErr
	}
	n, err := c.stream.Read(p)
	if err != nil {
		if c.closing.Load() { // woken by Close, or raced with it
			return n, c.opErr("read", net.ErrClosed)
		}
		c.readErr = err
	}
	return n, err
}

// Write writes to the stream, blocking under QUIC flow control. After
// Close it returns an error matching net.ErrClosed; a Write in flight when
// Close is called is aborted.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing.Load() {
		return 0, c.opErr("write", net.ErrClosed)
	}
	n, err := c.stream.Write(p)
	if err != nil && c.closing.Load() {
		err = c.opErr("write", net.ErrClosed)
	}
	return n, err
}

// Close closes the stream and the QUIC connection with a lingering close:
//
//  1. If no Write is in flight, the send side is closed with a FIN, queued
//     behind every byte already written; otherwise the in-flight Write is
//     aborted (RESET_STREAM) and nothing written is guaranteed to arrive.
//  2. A pending Read is woken and fails with net.ErrClosed.
//  3. Close reads and discards until the peer's FIN (or any error, such as
//     the peer closing the connection), for at most [Linger]. If the read
//     side had already seen the FIN, this step is skipped.
//  4. The QUIC connection is closed with application error code 0, and
//     the UDP socket when nothing else uses it.
//
// Step 3 matters because a CONNECTION_CLOSE can overtake stream data still
// in flight: closing the connection at once can truncate what the peer
// receives. Close is idempotent, always returns nil, and returns within
// about Linger.
func (c *Conn) Close() error {
	c.closeOnce.Do(c.close)
	return nil
}

func (c *Conn) close() {
	c.closing.Store(true)

	graceful := c.wmu.TryLock()
	if graceful {
		_ = c.stream.Close() // FIN after the queued data
		c.wmu.Unlock()
	} else {
		// A Write is in flight (possibly blocked on flow control):
		// Stream.Close must not race it, so abort it instead, as
		// crypto/tls.Conn.Close skips close_notify in the same case.
		c.stream.CancelWrite(codeAborted)
	}

	// Wake a pending Read; it sees closing and returns net.ErrClosed.
	_ = c.stream.SetReadDeadline(time.Now())
	c.rmu.Lock()
	if graceful && c.readErr == nil {
		_ = c.stream.SetReadDeadline(time.Now().Add(Linger))
		buf := make([]byte, drainBufSize)
		for {
			if _, err := c.stream.Read(buf); err != nil {
				c.readErr = err
				break
			}
		}
	}
	c.rmu.Unlock()

	_ = c.qc.CloseWithError(codeNoError, "")
	if c.onClose != nil {
		c.onClose()
	}
}

// LocalAddr returns the local UDP address of the QUIC connection.
func (c *Conn) LocalAddr() net.Addr { return c.qc.LocalAddr() }

// RemoteAddr returns the peer's UDP address.
func (c *Conn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// ConnectionState returns the QUIC and TLS state of the connection, for
// example the negotiated ALPN protocol and the peer's certificates.
func (c *Conn) ConnectionState() quic.ConnectionState { return c.qc.ConnectionState() }

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: network, Source: c.qc.LocalAddr(), Addr: c.qc.RemoteAddr(), Err: err}
}

// network is the Net of this package's errors.
const network = "quic"
