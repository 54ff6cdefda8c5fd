package ws

import (
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
	l := &Listener{
		h: h,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: DefaultReadHeaderTimeout,
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
