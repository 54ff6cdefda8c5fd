package ws

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// DefaultCloseTimeout bounds the WebSocket close handshake in
// [Conn.Close]: how long Close waits for the peer to answer its close
// frame before it closes the connection underneath.
const DefaultCloseTimeout = time.Second

// Conn is one WebSocket connection used as a byte stream: every Write is
// sent as one binary message and Read returns the bytes of the incoming
// messages in order, ignoring message boundaries. It is safe for one
// Read and any number of Writes to run concurrently with each other and
// with Close.
//
// Conn deliberately has no deadline methods: in github.com/coder/websocket
// a deadline that fires during a Read or Write closes the whole
// connection, so netmux, which owns every timeout itself, never sets one.
type Conn struct {
	ws           *websocket.Conn
	nc           net.Conn // websocket.NetConn over ws
	raw          net.Conn // the connection under the WebSocket; nil if unknown
	cancel       context.CancelFunc
	closeTimeout time.Duration
	req          *http.Request // the upgrade request, server side only

	closeOnce sync.Once
}

// newConn wraps an established WebSocket. The NetConn's lifetime context
// derives from context.Background and ends with Close, never with the
// context of the dial or of the upgrade request.
func newConn(c *websocket.Conn, raw net.Conn, closeTimeout time.Duration, req *http.Request) *Conn {
	if closeTimeout <= 0 {
		closeTimeout = DefaultCloseTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{
		ws:           c,
		nc:           websocket.NetConn(ctx, c, websocket.MessageBinary), // also disables the read limit
		raw:          raw,
		cancel:       cancel,
		closeTimeout: closeTimeout,
		req:          req,
	}
}

// Read reads the next bytes of the incoming binary messages. It returns
// io.EOF once the peer has closed the WebSocket normally (close status
// 1000 or 1001); any other error means the connection is gone.
func (c *Conn) Read(p []byte) (int, error) { return c.nc.Read(p) }

// Write sends p as one binary WebSocket message. An empty p sends
// nothing.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return c.nc.Write(p)
}

// Close closes the connection with the WebSocket close handshake: it
// sends a close frame (status 1000) and waits for the peer's, so the peer
// reads io.EOF. A peer that does not answer within the close timeout (the
// Dialer's or the Handler's, default [DefaultCloseTimeout]) does not hold
// Close up: the connection underneath is then closed at once. Close
// unblocks pending Reads and Writes, is idempotent and always returns
// nil: it leaves the connection closed whatever the peer did, including
// when the peer closed first (where the library itself would report
// "use of closed network connection").
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		// Not c.nc.Close: it cancels the pending Read's context first,
		// which closes the socket before the close frame is written.
		aborted := make(chan struct{})
		timer := time.AfterFunc(c.closeTimeout, func() {
			defer close(aborted)
			c.abort()
		})
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
		if !timer.Stop() {
			<-aborted
		}
		c.cancel() // releases the NetConn's contexts
	})
	return nil
}

// abort ends the connection without a handshake: cancelling the lifetime
// context fails a pending Read or Write (the library then closes the
// connection), and closing the raw connection fails the library's own
// close-handshake reads and writes, which are otherwise bounded only by
// its fixed 5 s timeouts.
func (c *Conn) abort() {
	c.cancel()
	if c.raw != nil {
		c.raw.Close()
	}
}

// LocalAddr returns the local address of the connection under the
// WebSocket (TCP, or the TLS connection for wss://). On the dial side,
// with an http.Client whose transport reports no connection through
// net/http/httptrace, it is the library's placeholder ("websocket").
func (c *Conn) LocalAddr() net.Addr {
	if c.raw != nil {
		return c.raw.LocalAddr()
	}
	return c.nc.LocalAddr()
}

// RemoteAddr returns the remote address of the connection under the
// WebSocket: the client's address on the server side (behind a reverse
// proxy, the proxy's), the server's (or an HTTP proxy's) on the dial
// side. See LocalAddr for the placeholder case.
func (c *Conn) RemoteAddr() net.Addr {
	if c.raw != nil {
		return c.raw.RemoteAddr()
	}
	return c.nc.RemoteAddr()
}

// Request returns the HTTP upgrade request a server-side connection was
// accepted with, for its headers, URL, TLS state and remote address (for
// example an identity established by authentication middleware, or
// X-Forwarded-For behind a proxy). Its Body is empty and its context is
// not tied to the connection. On the dial side it returns nil.
func (c *Conn) Request() *http.Request { return c.req }
