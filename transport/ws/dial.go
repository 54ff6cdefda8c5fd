package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Dialer connects to WebSocket endpoints. The zero value is ready to use.
type Dialer struct {
	// HTTPClient performs the upgrade request: its Transport's proxy,
	// dialer and TLS settings apply, and its Timeout bounds the
	// handshake only. Nil selects a fresh transport per Dial, cloned
	// from http.DefaultTransport (proxies from the environment) with
	// TLSConfig, and closed once the handshake is done.
	HTTPClient *http.Client

	// Header is sent with the upgrade request, for example
	// Authorization, a cookie, or Origin for a server that checks it.
	Header http.Header

	// TLSConfig configures wss:// when HTTPClient is nil (nil: the
	// system roots). With an HTTPClient, set TLS in its Transport
	// instead; giving both is an error.
	TLSConfig *tls.Config

	// CloseTimeout bounds the close handshake of the dialed connections
	// (0: DefaultCloseTimeout); see [Conn.Close].
	CloseTimeout time.Duration
}

// HandshakeError reports a server that answered the upgrade request with
// an HTTP status other than 101 Switching Protocols, for example 401
// from authentication middleware, 403 for a refused Origin, or 404.
// Dial returns it wrapped in a *net.OpError; use errors.As.
type HandshakeError struct {
	StatusCode int    // the response's status code
	Status     string // the response's status line, e.g. "401 Unauthorized"
	err        error
}

func (e *HandshakeError) Error() string {
	return "ws: server refused the WebSocket upgrade: " + e.Status
}

// Unwrap returns coder/websocket's description of the failure.
func (e *HandshakeError) Unwrap() error { return e.err }

// Dial connects to addr, a ws:// or wss:// URL, and returns a *Conn. ctx
// bounds the connection and the HTTP upgrade only: the connection stays
// open after ctx ends. Errors are *net.OpError values, wrapping a
// *HandshakeError when the server answered with a status other than
// 101.
func (d Dialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "ws", Addr: Addr{URL: addr}, Err: err}
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, opErr(err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, opErr(fmt.Errorf("ws: %q is not a ws:// or wss:// URL", addr))
	}
	client, err := d.client()
	if err != nil {
		return nil, opErr(err)
	}
	if d.HTTPClient == nil {
		defer client.CloseIdleConnections() // a refused upgrade may leave one
	}

	// The connection that carries the upgrade (the last one, after any
	// redirects), for real addresses and to bound Close.
	var mu sync.Mutex
	var raw net.Conn
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			raw = info.Conn
			mu.Unlock()
		},
	})
	wc, resp, err := websocket.Dial(ctx, addr, &websocket.DialOptions{
		HTTPClient:      client,
		HTTPHeader:      d.Header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			err = &HandshakeError{StatusCode: resp.StatusCode, Status: resp.Status, err: err}
		}
		return nil, opErr(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return newConn(wc, raw, d.CloseTimeout, nil), nil
}

// client returns the http.Client for one Dial.
func (d Dialer) client() (*http.Client, error) {
	if d.HTTPClient != nil {
		if d.TLSConfig != nil {
			return nil, errors.New("ws: Dialer.TLSConfig cannot be combined with HTTPClient: set TLS in its Transport")
		}
		return d.HTTPClient, nil
	}
	var tr *http.Transport
	if def, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = def.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	if d.TLSConfig != nil {
		tr.TLSClientConfig = d.TLSConfig.Clone()
	}
	return &http.Client{Transport: tr}, nil
}
