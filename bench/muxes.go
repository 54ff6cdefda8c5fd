package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/quic-go/quic-go"
	"github.com/xtaci/smux"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	nmkcp "github.com/netmux/netmux/transport/kcp"
	nmquic "github.com/netmux/netmux/transport/quic"
	"github.com/netmux/netmux/transport/tcp"
	nmtls "github.com/netmux/netmux/transport/tls"
	"github.com/netmux/netmux/transport/ws"
)

// A mux is one way of carrying many byte streams between two endpoints in
// this process: netmux over some carrier, a peer library over TCP, native
// QUIC streams, or one TCP connection per stream (the physical
// reference). Every scenario is written once against this interface and
// uses streams only as io.ReadWriteCloser values.
type mux interface {
	name() string
	// setup connects a fresh client/server pair over loopback. Streams
	// are opened on the client and accepted on the server (scenarios
	// always write first on a stream they open, which QUIC needs).
	setup() (client, server sessionLike, err error)
}

// selective is a mux that runs only some scenarios.
type selective interface {
	runs(scenario string) bool
}

// runsScenario says whether m takes part in the scenario.
func runsScenario(m mux, scenario string) bool {
	s, ok := m.(selective)
	return !ok || s.runs(scenario)
}

// carrierOf is the bare carrier a netmux-over-carrier mux is compared
// with in the per-transport table ("bare+tls" for "netmux+tls"), or "".
func carrierOf(name string) string {
	if c, ok := strings.CutPrefix(name, "netmux+"); ok {
		return "bare+" + c
	}
	return ""
}

// sessionLike is one end of a connected pair.
type sessionLike interface {
	Open() (io.ReadWriteCloser, error)
	Accept() (io.ReadWriteCloser, error)
	Close() error
}

// loopback is where every listener binds.
const loopback = "127.0.0.1:0"

// setupTimeout bounds connecting a pair.
const setupTimeout = 10 * time.Second

// peerMuxes are the default: the physical reference (and its floor for a
// reader-goroutine design), netmux and the peers.
var peerMuxes = []string{"tcp", "tcp+handoff", "netmux", "yamux", "smux-v1", "smux-v2", "quic-go"}

// transportMuxes is netmux over each of its carriers next to the bare
// carrier (one carrier connection per stream, no mux), for the
// per-transport table.
var transportMuxes = []string{"tcp", "netmux",
	"bare+tls", "netmux+tls", "bare+ws", "netmux+ws",
	"bare+quic", "netmux+quic", "bare+kcp", "netmux+kcp"}

// allMuxNames lists every mux in a stable order.
var allMuxNames = []string{"tcp", "tcp+handoff", "netmux", "yamux", "smux-v1", "smux-v2", "quic-go",
	"bare+tls", "netmux+tls", "bare+ws", "netmux+ws",
	"bare+quic", "netmux+quic", "bare+kcp", "netmux+kcp"}

// newMux returns the mux called name.
func newMux(name string) (mux, error) {
	switch name {
	case "tcp":
		return rawTCP{}, nil
	case "tcp+handoff":
		return tcpHandoff{}, nil
	case "netmux":
		return netmuxMux{carrier: "tcp"}, nil
	case "netmux+tls", "netmux+ws", "netmux+quic", "netmux+kcp":
		return netmuxMux{carrier: strings.TrimPrefix(name, "netmux+")}, nil
	case "bare+tls", "bare+ws", "bare+quic", "bare+kcp":
		return bareMux{carrier: strings.TrimPrefix(name, "bare+")}, nil
	case "yamux":
		return yamuxMux{}, nil
	case "smux-v1":
		return smuxMux{version: 1}, nil
	case "smux-v2":
		return smuxMux{version: 2}, nil
	case "quic-go":
		return quicMux{}, nil
	}
	return nil, fmt.Errorf("unknown mux %q (known: %s, or the groups peers, transports, all)",
		name, strings.Join(allMuxNames, ", "))
}

// parseMuxes expands a comma list of mux names and groups.
func parseMuxes(list string) ([]mux, error) {
	var names []string
	for _, n := range strings.Split(list, ",") {
		switch n = strings.TrimSpace(n); n {
		case "":
		case "peers":
			names = append(names, peerMuxes...)
		case "transports":
			names = append(names, transportMuxes...)
		case "all":
			names = append(names, allMuxNames...)
		default:
			names = append(names, n)
		}
	}
	var out []mux
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		m, err := newMux(n)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("no muxes selected")
	}
	return out, nil
}

// tcpPair connects two plain TCP connections over loopback (Go's
// defaults: TCP_NODELAY on, socket buffers autotuned).
func tcpPair() (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", loopback)
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), setupTimeout)
	if err != nil {
		return nil, nil, err
	}
	r := <-ch
	if r.err != nil {
		client.Close()
		return nil, nil, r.err
	}
	return client, r.c, nil
}

// rwc returns st as an io.ReadWriteCloser, or a nil interface (not a nil
// pointer in one) when err is set.
func rwc[T io.ReadWriteCloser](st T, err error) (io.ReadWriteCloser, error) {
	if err != nil {
		return nil, err
	}
	return st, nil
}

// ---- raw TCP: one connection per stream ----

type rawTCP struct{}

func (rawTCP) name() string { return "tcp" }

func (rawTCP) setup() (sessionLike, sessionLike, error) {
	ln, err := net.Listen("tcp", loopback)
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	dial := func() (io.ReadWriteCloser, error) { return rwc(net.DialTimeout("tcp", addr, setupTimeout)) }
	accept := func() (io.ReadWriteCloser, error) { return rwc(ln.Accept()) }
	return &dialSide{dial: dial}, &listenSide{accept: accept, close: ln.Close}, nil
}

// dialSide and listenSide are the two ends of a mux that opens each
// stream as a carrier connection of its own (raw TCP, a bare carrier).
type dialSide struct {
	dial func() (io.ReadWriteCloser, error)
}

func (d *dialSide) Open() (io.ReadWriteCloser, error) { return d.dial() }
func (d *dialSide) Accept() (io.ReadWriteCloser, error) {
	return nil, errors.New("the dialing side accepts nothing")
}
func (d *dialSide) Close() error { return nil }

type listenSide struct {
	accept func() (io.ReadWriteCloser, error)
	close  func() error
	noEOF  bool // the carrier never tells its reader the writer closed (KCP has no FIN)
}

func (l *listenSide) Open() (io.ReadWriteCloser, error) {
	return nil, errors.New("the listening side opens nothing")
}
func (l *listenSide) Accept() (io.ReadWriteCloser, error) { return l.accept() }
func (l *listenSide) Close() error                        { return l.close() }

// signalsNoEOF reports whether s is the accepting end of a carrier whose
// reader never learns that the writer closed.
func signalsNoEOF(s sessionLike) bool {
	l, ok := s.(*listenSide)
	return ok && l.noEOF
}

// ---- netmux over one of its transports ----

type netmuxMux struct{ carrier string }

func (m netmuxMux) name() string {
	if m.carrier == "tcp" {
		return "netmux"
	}
	return "netmux+" + m.carrier
}

// carrierPair returns a listener on loopback and a dialer for it, through
// the netmux transport adapters (so netmux gets its own socket options,
// e.g. TCP_NOTSENT_LOWAT).
func carrierPair(carrier string) (transport.Listener, transport.Dialer, error) {
	switch carrier {
	case "tcp":
		ln, err := tcp.Listen(loopback)
		return ln, tcp.Dialer{}, err
	case "tls":
		srv, cli, err := tlsConfigs(nmtls.ALPN)
		if err != nil {
			return nil, nil, err
		}
		ln, err := nmtls.Listen(loopback, srv)
		return ln, nmtls.Dialer{Config: cli}, err
	case "quic":
		srv, cli, err := tlsConfigs(nmquic.ALPN)
		if err != nil {
			return nil, nil, err
		}
		ln, err := nmquic.Listen(loopback, srv, nil)
		return ln, nmquic.Dialer{TLSConfig: cli}, err
	case "kcp":
		ln, err := nmkcp.Listen(loopback, nmkcp.Options{})
		return ln, nmkcp.Dialer{}, err
	case "ws":
		ln, err := ws.Listen(loopback)
		return ln, ws.Dialer{}, err
	}
	return nil, nil, fmt.Errorf("unknown carrier %q", carrier)
}

func (m netmuxMux) setup() (sessionLike, sessionLike, error) {
	ln, d, err := carrierPair(m.carrier)
	if err != nil {
		return nil, nil, err
	}
	return netmuxOver(ln, d, ln.Addr().String(), m.name())
}

// netmuxOver starts a server session from ln and a client session dialed
// with d to addr, both with core.DefaultConfig(). It closes ln on
// failure, and otherwise with the server session.
func netmuxOver(ln transport.Listener, d transport.Dialer, addr, name string) (sessionLike, sessionLike, error) {
	cfg := core.DefaultConfig()
	sl, err := transport.NewListener(ln, cfg)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	type res struct {
		s   *core.Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := sl.Accept()
		ch <- res{s, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	cs, err := transport.Dial(ctx, d, addr, cfg)
	if err != nil {
		sl.Close()
		return nil, nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			cs.Close()
			sl.Close()
			return nil, nil, r.err
		}
		// The listener stays open until the server session is closed:
		// SessionListener.Close right after Accept can close the
		// connection of the session it just returned.
		return netmuxSession{s: cs}, netmuxSession{s: r.s, ln: sl}, nil
	case <-ctx.Done():
		cs.Close()
		sl.Close()
		return nil, nil, fmt.Errorf("%s: no server session: %w", name, ctx.Err())
	}
}

type netmuxSession struct {
	s  *core.Session
	ln io.Closer // the server's listener, closed after the session
}

// Open is OpenStream, which waits for room as yamux's OpenStream and
// quic-go's OpenStreamSync do.
func (n netmuxSession) Open() (io.ReadWriteCloser, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	return rwc(n.s.OpenStream(ctx))
}
func (n netmuxSession) Accept() (io.ReadWriteCloser, error) {
	return rwc(n.s.AcceptStream(context.Background()))
}
func (n netmuxSession) Close() error {
	err := n.s.Close()
	if n.ln != nil {
		n.ln.Close()
	}
	return err
}

// ---- a bare carrier: one adapter connection per stream, no mux ----

// bareMux is the physical reference for netmux over a carrier: what the
// carrier itself delivers through the same adapter, as rawTCP is for TCP.
type bareMux struct{ carrier string }

func (m bareMux) name() string { return "bare+" + m.carrier }

// runs limits a bare carrier to the scenarios the per-transport table
// compares: opening 10,000 KCP or QUIC connections, or holding 1,000 idle,
// measures the carrier's handshakes, not what a mux adds to it. A KCP
// connection never tells its reader the writer closed it, so bare KCP runs
// only bulk1, whose reader counts bytes; 64 bare KCP connections (bulk64),
// each with its own congestion control and retransmission timers on one
// loopback, did not move their 512 MiB within the 3-minute run limit.
func (m bareMux) runs(scenario string) bool {
	switch scenario {
	case "bulk1":
		return true
	case "bulk64", "rpc", "fair":
		return m.carrier != "kcp"
	}
	return false
}

func (m bareMux) setup() (sessionLike, sessionLike, error) {
	ln, d, err := carrierPair(m.carrier)
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	dial := func() (io.ReadWriteCloser, error) {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		return d.Dial(ctx, addr)
	}
	return &dialSide{dial: dial}, &listenSide{accept: ln.Accept, close: ln.Close, noEOF: m.carrier == "kcp"}, nil
}

// ---- hashicorp/yamux over TCP ----

type yamuxMux struct{}

func (yamuxMux) name() string { return "yamux" }

func (yamuxMux) setup() (sessionLike, sessionLike, error) {
	c, s, err := tcpPair()
	if err != nil {
		return nil, nil, err
	}
	return yamuxOver(c, s, yamuxConfig(0))
}

// yamuxConfig is yamux's default configuration, with its log discarded
// and, if window is not 0, that maximum stream window.
func yamuxConfig(window uint32) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	if window != 0 {
		cfg.MaxStreamWindowSize = window
	}
	return cfg
}

// yamuxOver starts a yamux client on c and a server on s, closing both
// on failure.
func yamuxOver(c, s io.ReadWriteCloser, cfg *yamux.Config) (sessionLike, sessionLike, error) {
	cs, err := yamux.Client(c, cfg)
	if err != nil {
		c.Close()
		s.Close()
		return nil, nil, err
	}
	ss, err := yamux.Server(s, cfg)
	if err != nil {
		cs.Close()
		s.Close()
		return nil, nil, err
	}
	return yamuxSession{cs}, yamuxSession{ss}, nil
}

type yamuxSession struct{ s *yamux.Session }

func (y yamuxSession) Open() (io.ReadWriteCloser, error)   { return rwc(y.s.OpenStream()) }
func (y yamuxSession) Accept() (io.ReadWriteCloser, error) { return rwc(y.s.AcceptStream()) }
func (y yamuxSession) Close() error                        { return y.s.Close() }

// ---- xtaci/smux over TCP, protocol version 1 or 2 ----

type smuxMux struct{ version int }

func (m smuxMux) name() string { return fmt.Sprintf("smux-v%d", m.version) }

func (m smuxMux) setup() (sessionLike, sessionLike, error) {
	c, s, err := tcpPair()
	if err != nil {
		return nil, nil, err
	}
	return smuxOver(c, s, m.version)
}

// smuxOver starts an smux client on c and a server on s with the default
// configuration and the given protocol version, closing both on failure.
func smuxOver(c, s io.ReadWriteCloser, version int) (sessionLike, sessionLike, error) {
	cfg := smux.DefaultConfig()
	cfg.Version = version
	cs, err := smux.Client(c, cfg)
	if err != nil {
		c.Close()
		s.Close()
		return nil, nil, err
	}
	ss, err := smux.Server(s, cfg)
	if err != nil {
		cs.Close()
		s.Close()
		return nil, nil, err
	}
	return smuxSession{cs}, smuxSession{ss}, nil
}

type smuxSession struct{ s *smux.Session }

func (x smuxSession) Open() (io.ReadWriteCloser, error) {
	st, err := x.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return smuxStream{st}, nil
}
func (x smuxSession) Accept() (io.ReadWriteCloser, error) {
	st, err := x.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return smuxStream{st}, nil
}
func (x smuxSession) Close() error { return x.s.Close() }

// smuxStream ignores the io.ErrClosedPipe smux returns from a second
// Close (or a Close after the peer's FIN cleaned the stream up).
type smuxStream struct{ *smux.Stream }

func (s smuxStream) Close() error {
	if err := s.Stream.Close(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return err
	}
	return nil
}

// ---- native QUIC streams (quic-go), one connection ----

type quicMux struct{}

func (quicMux) name() string { return "quic-go" }

// quicConfig is quic-go's default configuration, except that the peer may
// open enough streams for the idle scenario.
func quicConfig() *quic.Config {
	return &quic.Config{MaxIncomingStreams: 1 << 16}
}

func (quicMux) setup() (sessionLike, sessionLike, error) {
	srvTLS, cliTLS, err := tlsConfigs("bench")
	if err != nil {
		return nil, nil, err
	}
	ln, err := quic.ListenAddr(loopback, srvTLS, quicConfig())
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	type res struct {
		c   *quic.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept(ctx)
		ch <- res{c, err}
	}()
	cc, err := quic.DialAddr(ctx, ln.Addr().String(), cliTLS, quicConfig())
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	r := <-ch
	if r.err != nil {
		cc.CloseWithError(0, "")
		ln.Close()
		return nil, nil, r.err
	}
	return &quicSession{c: cc}, &quicSession{c: r.c, ln: ln}, nil
}

type quicSession struct {
	c  *quic.Conn
	ln *quic.Listener // server side only
}

func (q *quicSession) Open() (io.ReadWriteCloser, error) {
	st, err := q.c.OpenStreamSync(context.Background())
	if err != nil {
		return nil, err
	}
	return quicStream{st}, nil
}

func (q *quicSession) Accept() (io.ReadWriteCloser, error) {
	st, err := q.c.AcceptStream(context.Background())
	if err != nil {
		return nil, err
	}
	return quicStream{st}, nil
}

func (q *quicSession) Close() error {
	err := q.c.CloseWithError(0, "")
	if q.ln != nil {
		q.ln.Close()
	}
	return err
}

// quicStream gives a QUIC stream net.Conn's Close: quic-go's Close only
// ends the send direction, so the receive direction is cancelled too
// (data not yet read is discarded, as with a TCP Close).
type quicStream struct{ *quic.Stream }

func (s quicStream) Close() error {
	s.CancelRead(0)
	return s.Stream.Close()
}

// ---- TLS material: one self-signed ECDSA certificate per process ----

var (
	certOnce sync.Once
	certErr  error
	cert     tls.Certificate
	roots    *x509.CertPool
)

func makeCert() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		certErr = err
		return
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "netmux bench"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		certErr = err
		return
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		certErr = err
		return
	}
	cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	roots = x509.NewCertPool()
	roots.AddCert(leaf)
}

// tlsConfigs returns a server and a client config that trust each other,
// with the given ALPN protocol.
func tlsConfigs(alpn string) (server, client *tls.Config, err error) {
	certOnce.Do(makeCert)
	if certErr != nil {
		return nil, nil, certErr
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{alpn}}
	client = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{alpn}}
	return server, client, nil
}
