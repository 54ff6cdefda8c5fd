package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
)

// forwardClientCommand is "netmux forward client".
func forwardClientCommand(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlagSet("netmux forward client", stderr,
		"--connect URL [--target [NAME=]ADDR]... [--map LOCAL=REMOTE]... [flags]", tunnelSecurityHelp)
	connect := fs.String("connect", "", "transport `URL` of the forward server, e.g. tls://example.net:7000")
	var targets, maps listFlag
	fs.Var(&targets, "target", "reverse tunnel: dial `[NAME=]ADDR` for connections to the server's --public NAME "+
		"(repeatable, or a comma list; NAME defaults to \"default\")")
	fs.Var(&maps, "map", "local forwarding (ssh -L): listen on LOCAL and have the server dial REMOTE, `LOCAL=REMOTE` "+
		"(repeatable, or a comma list; a LOCAL that is only a port listens on 127.0.0.1)")
	local := fs.String("local", "", "local forwarding: listen on this `ADDR` (with --remote; same as --map LOCAL=REMOTE)")
	remote := fs.String("remote", "", "local forwarding: the `ADDR` the server dials for --local")
	dialTimeout := fs.Duration("dial-timeout", 10*time.Second, "bound on connecting to the server and dialing a target")
	retryMin := fs.Duration("retry-min", 200*time.Millisecond, "first reconnect delay; it doubles up to --retry-max")
	retryMax := fs.Duration("retry-max", 30*time.Second, "longest reconnect delay")
	drain := fs.Duration("drain", 10*time.Second, "on SIGINT/SIGTERM, let open connections finish for up to this `duration`")
	var common commonFlags
	common.register(fs, true)
	var tf clientTLS
	tf.register(fs)
	var tok tokenFlags
	tok.register(fs)
	log, code := setup(fs, args, &common, stderr)
	if code >= 0 {
		return code
	}
	ep, code := endpointFlag(fs, "connect", *connect)
	if code >= 0 {
		return code
	}
	if (*local == "") != (*remote == "") {
		return usageError(fs, "--local and --remote go together")
	}
	if *local != "" {
		maps = append(maps, *local+"="+*remote)
	}
	if *retryMin <= 0 || *retryMax < *retryMin {
		return usageError(fs, "want 0 < --retry-min <= --retry-max")
	}
	tgts, err := parseNamed("target", targets)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	lmaps, err := parseMaps(maps)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	if len(tgts) == 0 && len(lmaps) == 0 {
		return usageError(fs, "nothing to forward: give --target (reverse tunnels) and/or --map or --local/--remote")
	}
	token, err := tok.load(log)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	tlsConf, cfg, code := sessionSetup(fs, ep, &tf, &common, log)
	if code >= 0 {
		return code
	}
	d, addr := ep.dialer(tlsConf)
	c := &forwardClient{
		log: log, cfg: cfg, url: ep.String(), dialer: authDialer{Dialer: d, token: token}, addr: addr,
		targets: map[string]string{}, dialTimeout: *dialTimeout,
		backoff: backoff{min: *retryMin, max: *retryMax},
	}
	for _, t := range tgts {
		c.targets[t.name] = t.addr
		c.names = append(c.names, t.name)
	}
	var lns []net.Listener
	closeLocal := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	for _, m := range lmaps {
		l, err := net.Listen("tcp", m.local)
		if err != nil {
			closeLocal()
			return fail(log, "local listen failed", err)
		}
		lns = append(lns, l)
		log.Info("local forward", "listen", l.Addr().String(), "remote", m.remote)
	}
	for i, l := range lns {
		c.conns.Go(func() { c.acceptLocal(ctx, l, lmaps[i].remote) })
	}
	// On SIGINT/SIGTERM local ports close first, so no new connection
	// prolongs the drain.
	stop := context.AfterFunc(ctx, closeLocal)
	err = c.run(ctx, *drain)
	stop()
	closeLocal()
	c.conns.Wait()
	if err != nil {
		return fail(log, "not reconnecting", err)
	}
	log.Info("stopped")
	return exitOK
}

// forwardClient is the client side of the tunnels: it keeps one session
// to the server, reconnecting with backoff.
type forwardClient struct {
	log         *slog.Logger
	cfg         core.Config
	url         string
	dialer      transport.Dialer
	addr        string
	targets     map[string]string // reverse: mapping name → address to dial
	names       []string          // reverse mapping names, in flag order
	dialTimeout time.Duration
	backoff     backoff
	current     sessionHolder
	conns       sync.WaitGroup // local accept loops and their connections
}

// run keeps a session to the server until ctx ends, then shuts the last
// one down gracefully. It gives up, returning why, when the server
// refuses to authenticate it: retrying would not help.
func (c *forwardClient) run(ctx context.Context, drain time.Duration) error {
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
		sess, err := transport.Dial(dctx, c.dialer, c.addr, c.cfg)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, errAuth) {
				return err
			}
			wait := c.backoff.next()
			c.log.Warn("connect failed", "url", c.url, "err", err, "retry_in", wait.Round(time.Millisecond))
			sleep(ctx, wait)
			continue
		}
		c.log.Info("connected", "url", c.url)
		start := time.Now()
		err = c.serve(ctx, sess, drain)
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) >= stableSession {
			c.backoff.reset()
		}
		wait := c.backoff.next()
		if gracefulEnd(err) {
			c.log.Info("session ended", "end", "graceful (the server shut down)", "reconnect_in", wait.Round(time.Millisecond))
		} else {
			c.log.Warn("session ended", "err", err, "reconnect_in", wait.Round(time.Millisecond))
		}
		sleep(ctx, wait)
	}
	return nil
}

// stableSession is how long a session must have lasted for the next
// reconnect to start again from the shortest delay.
const stableSession = 5 * time.Second

// serve runs one session until it ends (returning why) or ctx ends
// (shutting it down gracefully).
func (c *forwardClient) serve(ctx context.Context, sess *core.Session, drain time.Duration) error {
	c.current.set(sess)
	var streams sync.WaitGroup
	if len(c.names) > 0 {
		streams.Go(func() { c.hello(sess) })
	}
	var err error
	for {
		var st *core.Stream
		st, err = sess.AcceptStream(ctx)
		if err != nil {
			break
		}
		streams.Go(func() { c.serveReverse(st) })
	}
	c.current.set(nil)
	if ctx.Err() != nil {
		c.log.Info("shutting down", "drain", drain)
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		if serr := sess.Shutdown(sctx); errors.Is(serr, context.DeadlineExceeded) {
			c.log.Warn("streams still open after the drain time; closed them")
		}
		cancel()
		err = nil
	} else {
		sess.Close()
	}
	streams.Wait()
	return err
}

// hello tells the server which reverse mappings this client serves.
func (c *forwardClient) hello(sess *core.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), headerTimeout)
	defer cancel()
	st, err := sess.OpenStream(ctx)
	if err != nil {
		c.log.Warn("hello failed", "err", err)
		return
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(headerTimeout))
	var kind byte
	var text string
	if err = writeHeader(st, kindHello, joinNames(c.names)); err == nil {
		kind, text, err = readHeader(st)
	}
	if err == nil && kind != kindAck {
		err = errBadHeader
	}
	if err != nil {
		c.log.Warn("hello failed", "err", err)
		st.Reset(core.CodeCancel)
		return
	}
	var served []string
	if text != "" {
		served = strings.Split(text, ",")
	}
	for _, n := range c.names {
		if !slices.Contains(served, n) {
			c.log.Warn("the server publishes no port for this mapping", "name", n)
		}
	}
	c.log.Info("reverse tunnels ready", "names", text)
}

// serveReverse carries a stream the server opened (a connection to one
// of its public ports) to the mapping's target.
func (c *forwardClient) serveReverse(st *core.Stream) {
	st.SetReadDeadline(time.Now().Add(headerTimeout))
	kind, name, err := readHeader(st)
	st.SetReadDeadline(time.Time{})
	if err != nil || kind != kindMapping {
		c.log.Warn("bad stream header", "stream", st.ID(), "kind", string(kind), "err", err)
		st.Reset(codeBadHeader)
		return
	}
	log := c.log.With("stream", st.ID(), "name", name)
	target, ok := c.targets[name]
	if !ok {
		log.Warn("no --target for this mapping")
		st.Reset(codeRefused)
		return
	}
	conn, err := (&net.Dialer{Timeout: c.dialTimeout}).Dial("tcp", target)
	if err != nil {
		log.Warn("dial failed", "target", target, "err", err)
		st.Reset(codeDialFailed)
		return
	}
	log.Debug("reverse connection", "target", target)
	err = join(conn, st)
	log.Debug("reverse connection done", "err", err)
}

// acceptLocal carries each connection to l through the session to the
// server, which dials remote.
func (c *forwardClient) acceptLocal(ctx context.Context, l net.Listener, remote string) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.log.Error("local accept failed", "err", err)
			}
			return
		}
		c.conns.Go(func() { c.carryLocal(ctx, conn, remote) })
	}
}

func (c *forwardClient) carryLocal(ctx context.Context, conn net.Conn, remote string) {
	log := c.log.With("from", conn.RemoteAddr().String(), "remote", remote)
	// While reconnecting, or when the server has sent GoAway, wait a
	// little for the next session.
	wctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
	var st *core.Stream
	var sess *core.Session
	err := errors.New("not connected to the server")
	for {
		if sess = c.current.wait(wctx, sess); sess == nil {
			break
		}
		if st, err = sess.OpenStream(wctx); !errors.Is(err, core.ErrGoAway) {
			break
		}
	}
	cancel()
	carry(log, "local forward", conn, st, err, kindTarget, remote)
}

// sessionHolder holds the client's current session.
type sessionHolder struct {
	mu      sync.Mutex
	sess    *core.Session
	changed chan struct{} // closed and replaced on every set
}

func (h *sessionHolder) set(sess *core.Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sess = sess
	if h.changed != nil {
		close(h.changed)
	}
	h.changed = make(chan struct{})
}

// wait returns the current session once there is a live one other than
// skip, or nil when ctx ends first.
func (h *sessionHolder) wait(ctx context.Context, skip *core.Session) *core.Session {
	for {
		h.mu.Lock()
		if h.changed == nil {
			h.changed = make(chan struct{})
		}
		sess, changed := h.sess, h.changed
		h.mu.Unlock()
		if sess != nil && sess != skip {
			select {
			case <-sess.Done():
			default:
				return sess
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// backoff is an exponential reconnect delay with ±20% jitter.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	spread := int64(b.cur) * 2 / 5
	if spread <= 0 {
		return b.cur
	}
	return b.cur - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1))
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
