package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/kcp"
	"github.com/netmux/netmux/transport/quic"
	"github.com/netmux/netmux/transport/tcp"
	nmtls "github.com/netmux/netmux/transport/tls"
	"github.com/netmux/netmux/transport/ws"
)

// schemes lists the URL schemes the tool understands, in the order the
// demo runs them. Each maps to one adapter package.
var schemes = []string{"tcp", "tls", "kcp", "ws", "wss", "quic"}

// demoTransports are the carriers the demo runs by default: every adapter
// once (wss is ws with the tls settings, so it is not repeated).
var demoTransports = []string{"tcp", "tls", "kcp", "ws", "quic"}

// endpoint is a parsed transport URL: tcp://host:port, tls://host:port,
// kcp://host:port, ws://host:port/path, wss://host:port/path or
// quic://host:port. A bare host:port means tcp.
type endpoint struct {
	scheme string
	host   string // host:port
	path   string // ws and wss only; empty means ws.DefaultPath
}

// parseEndpoint parses a transport URL.
func parseEndpoint(raw string) (endpoint, error) {
	if !strings.Contains(raw, "://") {
		raw = "tcp://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("bad transport URL: %w", err)
	}
	e := endpoint{scheme: strings.ToLower(u.Scheme), host: u.Host}
	if !knownScheme(e.scheme) {
		return endpoint{}, fmt.Errorf("bad transport URL %q: unknown scheme %q (want one of %s)",
			raw, u.Scheme, strings.Join(schemes, ", "))
	}
	if _, port, err := net.SplitHostPort(e.host); err != nil || port == "" {
		return endpoint{}, fmt.Errorf("bad transport URL %q: want %s://host:port", raw, e.scheme)
	}
	if e.isWebSocket() {
		e.path = u.EscapedPath()
		if u.RawQuery != "" {
			e.path += "?" + u.RawQuery
		}
	} else if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return endpoint{}, fmt.Errorf("bad transport URL %q: %s takes no path or query", raw, e.scheme)
	}
	if u.User != nil {
		return endpoint{}, fmt.Errorf("bad transport URL %q: user info is not supported", raw)
	}
	return e, nil
}

func knownScheme(s string) bool {
	for _, k := range schemes {
		if s == k {
			return true
		}
	}
	return false
}

func (e endpoint) isWebSocket() bool { return e.scheme == "ws" || e.scheme == "wss" }

// needsTLS reports whether the scheme carries TLS: a server needs a
// certificate and a client verifies one.
func (e endpoint) needsTLS() bool {
	return e.scheme == "tls" || e.scheme == "wss" || e.scheme == "quic"
}

// String returns the URL.
func (e endpoint) String() string {
	if e.isWebSocket() {
		return e.scheme + "://" + e.host + e.wsPath()
	}
	return e.scheme + "://" + e.host
}

func (e endpoint) wsPath() string {
	if e.path == "" {
		return ws.DefaultPath
	}
	return e.path
}

// hostname returns the host part without the port.
func (e endpoint) hostname() string {
	h, _, _ := net.SplitHostPort(e.host)
	return h
}

// listen starts the endpoint's listener. cfg is the server TLS
// configuration, used (and required) by tls, wss and quic.
func (e endpoint) listen(cfg *tls.Config) (transport.Listener, error) {
	if e.needsTLS() && cfg == nil {
		return nil, fmt.Errorf("%s:// needs a certificate: give --cert and --key, or --insecure-generate", e.scheme)
	}
	switch e.scheme {
	case "tcp":
		return tcp.Listen(e.host)
	case "tls":
		return nmtls.Listen(e.host, cfg)
	case "kcp":
		return kcp.Listen(e.host, kcp.Options{})
	case "ws":
		return ws.Listen(e.host, ws.WithPath(e.listenPath()))
	case "wss":
		return ws.Listen(e.host, ws.WithPath(e.listenPath()), ws.WithTLSConfig(cfg))
	case "quic":
		return quic.Listen(e.host, cfg, nil)
	}
	return nil, fmt.Errorf("unknown scheme %q", e.scheme)
}

// listenPath is the HTTP path a ws or wss listener serves: the URL's path
// without its query.
func (e endpoint) listenPath() string {
	p, _, _ := strings.Cut(e.wsPath(), "?")
	if p == "" {
		return ws.DefaultPath
	}
	u, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return u
}

// dialer returns the endpoint's dialer and the address to hand it. cfg is
// the client TLS configuration for tls, wss and quic (nil: the system
// roots).
func (e endpoint) dialer(cfg *tls.Config) (transport.Dialer, string) {
	switch e.scheme {
	case "tls":
		return nmtls.Dialer{Config: cfg}, e.host
	case "kcp":
		return kcp.Dialer{}, e.host
	case "ws":
		return ws.Dialer{}, e.String()
	case "wss":
		return ws.Dialer{TLSConfig: cfg}, e.String()
	case "quic":
		return quic.Dialer{TLSConfig: cfg}, e.host
	default:
		return tcp.Dialer{}, e.host
	}
}

// bound returns the endpoint as the listener ln actually bound it (port 0
// resolved), for clients to dial.
func (e endpoint) bound(ln transport.Listener) endpoint {
	a := ln.Addr().String()
	if u, err := url.Parse(a); err == nil && (u.Scheme == "ws" || u.Scheme == "wss") {
		a = u.Host
	}
	b := e
	b.host = a
	return b
}
