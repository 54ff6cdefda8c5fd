package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
)

// headerTimeout bounds reading a tunnel header and the hello exchange.
const headerTimeout = 10 * time.Second

// forwardServerCommand is "netmux forward server".
func forwardServerCommand(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlagSet("netmux forward server", stderr,
		"--listen URL [--public [NAME=]ADDR]... [--allow TARGET]... [flags]", tunnelSecurityHelp)
	listen := fs.String("listen", "", "transport `URL` clients connect to, e.g. tls://0.0.0.0:7000")
	var publics, allow listFlag
	fs.Var(&publics, "public", "reverse tunnel: accept TCP on `[NAME=]ADDR` and carry each connection to the client "+
		"serving NAME (repeatable, or a comma list; NAME defaults to \"default\")")
	fs.Var(&allow, "allow", "local forwarding: `TARGET`s clients may ask this server to dial: HOST:PORT, *:PORT, HOST:* or * "+
		"(repeatable, or a comma list; none: local forwarding refused)")
	dialTimeout := fs.Duration("dial-timeout", 10*time.Second, "bound on dialing a target")
	drain := fs.Duration("drain", 10*time.Second, "on SIGINT/SIGTERM, let open connections finish for up to this `duration`")
	var common commonFlags
	common.register(fs, true)
	var tf serverTLS
	tf.register(fs)
	var tok tokenFlags
	tok.register(fs)
	noAuth := fs.Bool("no-auth", false, "serve clients without a token or client certificate on an address other "+
		"than loopback (anyone who reaches it can take over the public ports and dial the --allow targets)")
	log, code := setup(fs, args, &common, stderr)
	if code >= 0 {
		return code
	}
	ep, code := endpointFlag(fs, "listen", *listen)
	if code >= 0 {
		return code
	}
	pubs, err := parseNamed("public", publics)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	if err := allowList(allow).validate(); err != nil {
		return usageError(fs, "%v", err)
	}
	if len(pubs) == 0 && len(allow) == 0 {
		return usageError(fs, "nothing to forward: give --public (reverse tunnels) and/or --allow (local forwarding)")
	}
	token, err := tok.load(log)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	if token != nil && *noAuth {
		return usageError(fs, "--no-auth and a token (%s or --token-file) contradict each other", tokenEnv)
	}
	clientCerts := tf.clientCA != "" && ep.needsTLS()
	if err := checkExposure(ep, token != nil, clientCerts, *noAuth); err != nil {
		return usageError(fs, "%v", err)
	}
	tlsConf, cfg, code := sessionSetup(fs, ep, &tf, &common, log)
	if code >= 0 {
		return code
	}
	auth := &authServer{token: token, log: log.With("component", "auth")}
	switch {
	case token != nil && clientCerts:
		log.Info("clients must present a certificate from --client-ca and prove the token")
	case token != nil:
		log.Info("clients must prove the token")
	case clientCerts:
		log.Info("clients must present a certificate from --client-ca")
	case !isLoopback(ep.hostname()):
		log.Warn("no client authentication (--no-auth): anyone who can reach the server can serve its " +
			"public ports and dial its --allow targets")
	}

	s := &forwardServer{log: log, allow: allowList(allow), dialTimeout: *dialTimeout}
	for _, p := range pubs {
		l, err := net.Listen("tcp", p.addr)
		if err != nil {
			s.closePublic()
			return fail(log, "public listen failed", err)
		}
		s.publics = append(s.publics, publicPort{name: p.name, ln: l})
	}
	ln, err := ep.listen(tlsConf)
	if err != nil {
		s.closePublic()
		return fail(log, "listen failed", err)
	}
	log.Info("listening", "url", ep.bound(ln).String())
	for _, p := range s.publics {
		log.Info("public port", "name", p.name, "addr", p.ln.Addr().String())
		s.conns.Go(func() { s.acceptPublic(p) })
	}
	if len(allow) > 0 {
		log.Info("local forwarding allowed", "targets", joinNames(allow))
	}
	srv := &transport.Server{Config: cfg, Handler: s.serveSession, Handshake: auth.handshake}
	// Public ports close first, so no new connection prolongs the drain.
	serveErr := serveUntilDone(ctx, srv, ln, *drain, log, s.closePublic)
	s.conns.Wait()
	if serveErr != nil {
		return fail(log, "serve failed", serveErr)
	}
	return exitOK
}

// forwardServer is the server side of the tunnels.
type forwardServer struct {
	log         *slog.Logger
	allow       allowList
	dialTimeout time.Duration
	publics     []publicPort
	routes      routes
	conns       sync.WaitGroup // accept loops and public connections
}

type publicPort struct {
	name string
	ln   net.Listener
}

func (s *forwardServer) closePublic() {
	for _, p := range s.publics {
		p.ln.Close()
	}
}

func (s *forwardServer) published() []string {
	var names []string
	for _, p := range s.publics {
		names = append(names, p.name)
	}
	return names
}

// acceptPublic carries each connection to p to the newest session that
// serves p's name. With no such session the connection is reset at once.
func (s *forwardServer) acceptPublic(p publicPort) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("public accept failed", "name", p.name, "err", err)
			}
			return
		}
		s.conns.Go(func() { s.carryPublic(p.name, c) })
	}
}

func (s *forwardServer) carryPublic(name string, c net.Conn) {
	log := s.log.With("name", name, "from", c.RemoteAddr().String())
	sess := s.routes.pick(name)
	if sess == nil {
		log.Warn("no client serves this mapping; connection refused")
		abortConn(c)
		return
	}
	st, err := sess.OpenStream(context.Background())
	carry(log, "reverse connection", c, st, err, kindMapping, name)
}

// serveSession handles one client session: its hello and its local
// forwarding streams.
func (s *forwardServer) serveSession(sess *core.Session) {
	log := s.log.With("remote", sess.RemoteAddr().String())
	log.Info("session started")
	var wg sync.WaitGroup
	for {
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			s.routes.remove(sess)
			if gracefulEnd(err) {
				log.Info("session ended", "end", "graceful")
			} else {
				log.Warn("session ended", "err", err)
			}
			break
		}
		wg.Go(func() { s.serveStream(sess, st, log) })
	}
	wg.Wait()
}

func (s *forwardServer) serveStream(sess *core.Session, st *core.Stream, log *slog.Logger) {
	st.SetReadDeadline(time.Now().Add(headerTimeout))
	kind, text, err := readHeader(st)
	st.SetReadDeadline(time.Time{})
	if err != nil {
		log.Warn("bad stream header", "stream", st.ID(), "err", err)
		st.Reset(codeBadHeader)
		return
	}
	switch kind {
	case kindHello:
		var names []string
		for _, n := range strings.Split(text, ",") {
			if slices.Contains(s.published(), n) {
				names = append(names, n)
			} else if n != "" {
				log.Warn("client serves a mapping this server does not publish", "name", n)
			}
		}
		s.routes.add(sess, names)
		log.Info("reverse tunnels registered", "names", joinNames(names))
		if err := writeHeader(st, kindAck, joinNames(names)); err != nil {
			st.Reset(core.CodeCancel)
			return
		}
		st.Close()
	case kindTarget:
		log := log.With("stream", st.ID(), "target", text)
		if !s.allow.permits(text) {
			log.Warn("local forward refused: target not in --allow")
			st.Reset(codeRefused)
			return
		}
		c, err := (&net.Dialer{Timeout: s.dialTimeout}).Dial("tcp", text)
		if err != nil {
			log.Warn("local forward: dial failed", "err", err)
			st.Reset(codeDialFailed)
			return
		}
		log.Debug("local forward")
		err = join(c, st)
		log.Debug("local forward done", "err", err)
	default:
		log.Warn("unexpected stream kind", "stream", st.ID(), "kind", string(kind))
		st.Reset(codeBadHeader)
	}
}

// gracefulEnd reports whether err, why a session ended, is an orderly
// end rather than a failure: a GoAway with NO_ERROR from either side, or
// a plain local Close.
func gracefulEnd(err error) bool {
	var ga *core.GoAwayError
	if errors.As(err, &ga) {
		return ga.Code == core.CodeNoError
	}
	return err == nil || err == core.ErrSessionClosed
}

// routes maps reverse mapping names to the sessions serving them. The
// newest live session wins, so a client that reconnects takes over at
// once, even before the server notices its old session is dead.
type routes struct {
	mu     sync.Mutex
	byName map[string][]*core.Session // oldest first
}

func (r *routes) add(sess *core.Session, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byName == nil {
		r.byName = make(map[string][]*core.Session)
	}
	for _, n := range names {
		r.byName[n] = append(r.byName[n], sess)
	}
}

func (r *routes) remove(sess *core.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, list := range r.byName {
		r.byName[n] = slices.DeleteFunc(list, func(s *core.Session) bool { return s == sess })
	}
}

func (r *routes) pick(name string) *core.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.byName[name]
	for i := len(list) - 1; i >= 0; i-- {
		select {
		case <-list[i].Done():
		default:
			return list[i]
		}
	}
	return nil
}
