package ws

import (
	"container/list"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultMaxUnupgraded bounds how many connections the http.Server of
// [Listen] holds before their upgrade request arrives (each costs a
// goroutine and buffers): at the limit, the one that has waited longest
// is closed to make room, so a flood of silent connections stays bounded
// and a client faster than the flood still gets in.
const DefaultMaxUnupgraded = 1024

// DefaultReadHeaderTimeout bounds how long the http.Server of [Listen]
// waits for a request's headers (and the TLS handshake before them).
const DefaultReadHeaderTimeout = 10 * time.Second

// Addr is the address of a WebSocket endpoint: its URL. Network reports
// "wss" for a wss:// URL and "ws" otherwise.
type Addr struct {
	URL string
}

// Network returns "wss" for a wss:// URL, else "ws".
func (a Addr) Network() string {
	if strings.HasPrefix(a.URL, "wss:") {
		return "wss"
	}
	return "ws"
}

// String returns the URL.
func (a Addr) String() string { return a.URL }

// Listener is a standalone WebSocket endpoint: its own http.Server on a
// TCP address with a [Handler] at one path. Create it with [Listen]. It
// implements transport.Listener.
type Listener struct {
	h      *Handler
	srv    *http.Server
	served chan struct{}
	once   sync.Once
}

// Listen listens on the TCP address addr and serves the WebSocket
// endpoint at [DefaultPath] (see [WithPath]), with TLS (wss://) when
// [WithTLSConfig] is given. Addr reports the URL to dial, built from the
// bound address: for "127.0.0.1:0" it is ws://127.0.0.1:<port>/netmux.
func Listen(addr string, opts ...Option) (*Listener, error) {
	o := options{path: DefaultPath}
	for _, f := range opts {
		f(&o)
	}
	if !strings.HasPrefix(o.path, "/") {
		return nil, fmt.Errorf("ws: path %q does not begin with /", o.path)
	}
	if o.tlsConfig != nil && len(o.tlsConfig.Certificates) == 0 &&
		o.tlsConfig.GetCertificate == nil && o.tlsConfig.GetConfigForClient == nil {
		return nil, errors.New("ws: TLS config has no certificate")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	scheme := "ws"
	if o.tlsConfig != nil {
		cfg := o.tlsConfig.Clone()
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"http/1.1"}
		}
		ln = tls.NewListener(ln, cfg)
		scheme = "wss"
	}

	h := newHandler(&o)
	h.addr = Addr{URL: (&url.URL{Scheme: scheme, Host: ln.Addr().String(), Path: o.path}).String()}
	mux := http.NewServeMux()
	mux.Handle(o.path, h)
	waiting := &unupgraded{max: DefaultMaxUnupgraded, conns: list.New(), elems: map[net.Conn]*list.Element{}}
	l := &Listener{
		h: h,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: DefaultReadHeaderTimeout,
			ConnState:         waiting.track,
			ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		},
		served: make(chan struct{}),
	}
	go func() {
		defer close(l.served)
		if err := l.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			h.shut(fmt.Errorf("ws: serve %s: %w", h.addr.URL, err))
		}
	}()
	return l, nil
}

// Accept waits for and returns the next connection, a *Conn. After
// Close it returns an error matching net.ErrClosed.
func (l *Listener) Accept() (io.ReadWriteCloser, error) { return l.h.Accept() }

// Addr returns the URL to dial, an [Addr].
func (l *Listener) Addr() net.Addr { return l.h.Addr() }

// Close stops the server (its TCP listener and the HTTP connections not
// upgraded) and the Handler (see [Handler.Close]), and waits for them.
// Connections returned by Accept stay open. It is idempotent.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		err = l.srv.Close()
		<-l.served
		l.h.Close()
	})
	return err
}

// unupgraded tracks the connections of a Listen server that have not
// sent a request yet (new, or idle between requests), oldest first.
type unupgraded struct {
	max   int
	mu    sync.Mutex
	conns *list.List // of net.Conn
	elems map[net.Conn]*list.Element
}

// track is the server's ConnState hook.
func (u *unupgraded) track(c net.Conn, state http.ConnState) {
	var evict net.Conn
	u.mu.Lock()
	if e, ok := u.elems[c]; ok {
		u.conns.Remove(e)
		delete(u.elems, c)
	}
	if state == http.StateNew || state == http.StateIdle {
		if u.conns.Len() >= u.max {
			evict = u.conns.Remove(u.conns.Front()).(net.Conn)
			delete(u.elems, evict)
		}
		u.elems[c] = u.conns.PushBack(c)
	}
	u.mu.Unlock()
	if evict != nil {
		evict.Close() // its serving goroutine then ends
	}
}
