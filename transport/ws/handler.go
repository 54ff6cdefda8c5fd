package ws

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Handler is an [http.Handler] that upgrades requests to WebSocket
// connections and queues them for [Handler.Accept]. It is also a
// transport.Listener, so it can be handed to transport.NewListener or
// transport.Server while it is mounted on a path of an existing
// http.Server, next to other routes. Create it with [NewHandler].
//
// ServeHTTP answers a request that is not a valid WebSocket upgrade
// itself (426, 400, 403 for a refused Origin, 503 after Close) and never
// calls further handlers. An upgraded connection waits for Accept; the
// handler goroutine returns as soon as Accept has taken it, since a
// hijacked net/http connection outlives its handler.
type Handler struct {
	accept       websocket.AcceptOptions
	closeTimeout time.Duration
	addr         Addr

	queue     chan *Conn
	done      chan struct{}
	mu        sync.Mutex
	closed    bool
	err       error // why Accept fails after close, if not net.ErrClosed
	serving   sync.WaitGroup
	closeOnce sync.Once
}

// NewHandler returns a Handler configured by opts. Of the options only
// [WithOriginPatterns] and [WithCloseTimeout] apply; the others configure
// [Listen].
func NewHandler(opts ...Option) *Handler {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return newHandler(&o)
}

func newHandler(o *options) *Handler {
	return &Handler{
		accept: websocket.AcceptOptions{
			OriginPatterns:  o.originPatterns,
			CompressionMode: websocket.CompressionDisabled,
		},
		closeTimeout: o.closeTimeout,
		queue:        make(chan *Conn),
		done:         make(chan struct{}),
	}
}

// ServeHTTP upgrades the request to a WebSocket and waits until Accept
// takes the connection or the Handler is closed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.enter() {
		http.Error(w, "netmux: listener closed", http.StatusServiceUnavailable)
		return
	}
	defer h.serving.Done()

	var rec *hijackRecorder
	if hijackable(w) {
		rec = &hijackRecorder{ResponseWriter: w}
		w = rec
	}
	wc, err := websocket.Accept(w, r, &h.accept)
	if err != nil {
		return // Accept has written the error response
	}
	var raw net.Conn
	if rec != nil {
		raw = rec.conn
	}
	req := r.Clone(context.Background()) // r's context ends when we return
	req.Body = http.NoBody
	c := newConn(wc, raw, h.closeTimeout, req)
	select {
	case h.queue <- c:
	case <-h.done:
		c.Close()
	}
}

// enter registers a ServeHTTP call, unless the Handler is closed.
func (h *Handler) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.serving.Add(1)
	return true
}

// Accept waits for and returns the next upgraded connection, a *Conn.
// Once the Handler is closed it returns an error matching net.ErrClosed
// (or, for a [Listener] whose server failed, that failure).
func (h *Handler) Accept() (io.ReadWriteCloser, error) {
	select {
	case <-h.done: // closed: do not race with a waiting connection
		return nil, h.closedErr()
	default:
	}
	select {
	case c := <-h.queue:
		return c, nil
	case <-h.done:
		return nil, h.closedErr()
	}
}

func (h *Handler) closedErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	var addr net.Addr
	if h.addr.URL != "" {
		addr = h.addr
	}
	return &net.OpError{Op: "accept", Net: h.addr.Network(), Addr: addr, Err: net.ErrClosed}
}

// Close stops the Handler: pending and later Accepts fail, later requests
// are answered with 503, and connections upgraded but not yet accepted
// are closed. It waits for the Handler's ServeHTTP calls to return and
// always returns nil. Connections already returned by Accept are the
// caller's to close, and the http.Server the Handler is mounted on is
// not touched.
func (h *Handler) Close() error {
	h.shut(nil)
	h.serving.Wait()
	return nil
}

// shut closes the Handler once; err, if not nil, is what Accept reports.
func (h *Handler) shut(err error) {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.err = err
		close(h.done)
		h.mu.Unlock()
	})
}

// Addr returns the URL clients dial when the Handler belongs to a
// [Listener]. A Handler mounted with NewHandler cannot know the URL its
// clients use (host names, proxies and path prefixes are outside its
// view), so its Addr has an empty URL.
func (h *Handler) Addr() net.Addr { return h.addr }

// hijackRecorder remembers the connection Accept hijacks, so that Close
// can bound the close handshake by closing it, and clears its deadlines.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http clears the server's read and write deadlines on hijack,
	// but http.Hijacker only promises that they "may" be set: clear them
	// for any writer, since a deadline would end the connection.
	c.SetDeadline(time.Time{})
	h.conn = c
	return c, brw, nil
}

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// WriteHeaderNow passes on the method some frameworks' writers need
// before a hijack (coder/websocket calls it when present).
func (h *hijackRecorder) WriteHeaderNow() {
	if w, ok := h.ResponseWriter.(interface{ WriteHeaderNow() }); ok {
		w.WriteHeaderNow()
	}
}

// hijackable reports whether w, or a writer it unwraps to, can be
// hijacked (the lookup coder/websocket and http.ResponseController do).
func hijackable(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}
