package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/netmux/netmux/transport"
)

// Before its session starts, every forward client proves to the server
// that it knows the shared token, and the server proves it back. The
// exchange runs on the carrier connection, before the session's preface,
// inside the server's bounded handshake (transport.WithHandshake), so a
// client that fails it never gets a session. The token itself never
// crosses the wire: each side sends an HMAC-SHA256, keyed with the token,
// over a fresh random nonce from each side.
//
//	client → server  hello     "NMXA" | version 0x01 | flags (1: has a token) | client nonce (32 B)
//	server → client  challenge "NMXA" | version 0x01 | status | server nonce (32 B; zero unless 'C')
//	client → server  proof     HMAC(token, "netmux tunnel client" | client nonce | server nonce)
//	server → client  verdict   status | HMAC(token, "netmux tunnel server" | client nonce | server nonce)
//
// The challenge's status is 'C' (prove the token; the proof and the
// verdict follow), 'O' (this server takes no token: the session follows
// at once, unless the client has a token, and then it hangs up, since the
// server cannot prove it), 'N' (a token is required and the client has
// none) or 'L' (too many failures from the client's address: retry
// later). The verdict's status is 'K' (the client proved the token; the
// server's proof follows and the client checks it) or 'W' (wrong token;
// the rest is zero). After 'N', 'L' and 'W' the server closes the
// connection. The client speaks first, as KCP and QUIC need.
//
// The client proves first, so a stranger who connects to the server
// learns nothing that would let it test guesses of the token offline.
// Over a carrier without TLS an eavesdropper or impostor server sees one
// client proof, which a weak token does not survive: use a long random
// token, and TLS (tls://, wss://, quic://) on untrusted networks. The
// token authenticates the handshake, not the bytes after it; only TLS
// protects those.
const (
	authMagic   = "NMXA"
	authVersion = 1
	nonceLen    = 32
	macLen      = sha256.Size
	helloLen    = len(authMagic) + 2 + nonceLen

	authFlagToken = 1

	authChallenge  = 'C'
	authOpen       = 'O'
	authNeedToken  = 'N'
	authLockedOut  = 'L'
	authAccepted   = 'K'
	authWrongToken = 'W'

	clientLabel = "netmux tunnel client"
	serverLabel = "netmux tunnel server"
)

// tokenEnv is the environment variable that holds the shared token.
const tokenEnv = "NETMUX_TOKEN"

// minTokenLen is the shortest token accepted, in bytes.
const minTokenLen = 16

// errAuth is matched by every authentication failure of the client that
// retrying will not mend: the command exits instead of reconnecting.
var errAuth = errors.New("authentication failed")

// authError is a failed handshake, with what the client should be told.
type authError struct {
	reason string
	retry  bool // worth retrying later (the server is throttling this address)
}

func (e *authError) Error() string        { return "authentication failed: " + e.reason }
func (e *authError) Is(target error) bool { return target == errAuth && !e.retry }

// tokenFlags is --token-file; the token may also come from NETMUX_TOKEN.
// There is no flag that takes the token itself: ps would show it.
type tokenFlags struct {
	file string
}

func (o *tokenFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.file, "token-file", "", "read the shared authentication token from this `file` "+
		"(or set "+tokenEnv+"; never on the command line, where ps shows it)")
}

// load returns the token, or nil when none is configured.
func (o *tokenFlags) load(log *slog.Logger) ([]byte, error) {
	env := os.Getenv(tokenEnv)
	var tok string
	switch {
	case o.file != "" && env != "":
		return nil, fmt.Errorf("both %s and --token-file are set: give the token once", tokenEnv)
	case o.file != "":
		b, err := os.ReadFile(o.file)
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		if fi, err := os.Stat(o.file); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the token file is readable by other users; chmod 600 it", "file", o.file)
		}
		tok = strings.TrimSpace(string(b))
	case env != "":
		tok = strings.TrimSpace(env)
	default:
		return nil, nil
	}
	if len(tok) < minTokenLen {
		return nil, fmt.Errorf("the token is too short (%d bytes): use at least %d, e.g. the output of "+
			"\"openssl rand -hex 32\"", len(tok), minTokenLen)
	}
	return []byte(tok), nil
}

func proof(token []byte, label string, cn, sn []byte) []byte {
	m := hmac.New(sha256.New, token)
	m.Write([]byte(label))
	m.Write(cn)
	m.Write(sn)
	return m.Sum(nil)
}

// authClient runs the client side of the handshake on conn. token may be
// nil (no token). ctx bounds it: conn is closed when ctx ends.
func authClient(ctx context.Context, conn io.ReadWriteCloser, token []byte) (err error) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if !stop() { // ctx ended and closed conn
			err = fmt.Errorf("authentication: %w", ctx.Err())
		}
	}()
	hello := make([]byte, helloLen)
	copy(hello, authMagic)
	hello[4] = authVersion
	if token != nil {
		hello[5] = authFlagToken
	}
	cn := hello[6:]
	rand.Read(cn)
	if _, err := conn.Write(hello); err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	ch := make([]byte, helloLen)
	if _, err := io.ReadFull(conn, ch); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// Also what a server that drops the oldest handshakes under a
			// flood does: worth retrying.
			return &authError{reason: "the server closed the connection during the handshake " +
				"(busy, not a netmux forward server, or an older version without authentication?)", retry: true}
		}
		return fmt.Errorf("authentication: %w", err)
	}
	if string(ch[:4]) != authMagic || ch[4] != authVersion {
		return &authError{reason: "the server does not speak the tunnel's authentication handshake"}
	}
	switch ch[5] {
	case authChallenge:
	case authOpen:
		if token != nil {
			return &authError{reason: "the server has no token, so it cannot prove it is the server " +
				"that shares ours; refusing to connect (unset the token if the server is meant to be open)"}
		}
		return nil
	case authNeedToken:
		return &authError{reason: "the server requires a token: set " + tokenEnv + " or give --token-file"}
	case authLockedOut:
		return &authError{reason: "the server refuses this address for now after too many failed attempts", retry: true}
	default:
		return &authError{reason: fmt.Sprintf("unknown answer %q from the server", ch[5])}
	}
	if token == nil {
		return &authError{reason: "the server asked for a token and we have none"}
	}
	sn := ch[6:]
	if _, err := conn.Write(proof(token, clientLabel, cn, sn)); err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	verdict := make([]byte, 1+macLen)
	if _, err := io.ReadFull(conn, verdict); err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	switch verdict[0] {
	case authAccepted:
	case authWrongToken:
		return &authError{reason: "the server refused our token (wrong token)"}
	default:
		return &authError{reason: fmt.Sprintf("unknown verdict %q from the server", verdict[0])}
	}
	if !hmac.Equal(verdict[1:], proof(token, serverLabel, cn, sn)) {
		return &authError{reason: "the server's proof is wrong: it does not know the token (an impostor?)"}
	}
	return nil
}

// authDialer runs the client side of the handshake on every connection
// it dials.
type authDialer struct {
	transport.Dialer
	token []byte
}

// Dial dials addr and authenticates, bounded by ctx.
func (d authDialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	conn, err := d.Dialer.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if err := authClient(ctx, conn, d.token); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// authServer is the server side: it checks clients' proofs and slows
// down addresses that keep failing.
type authServer struct {
	token    []byte // nil: clients need no token
	log      *slog.Logger
	failures failureLimiter
}

// handshake runs the server side on conn (transport.WithHandshake): nil
// means the session may start.
func (a *authServer) handshake(ctx context.Context, conn io.ReadWriteCloser) error {
	from := remoteAddr(conn)
	log := a.log.With("from", from)
	hello := make([]byte, helloLen)
	if _, err := io.ReadFull(conn, hello); err != nil {
		if ctx.Err() == nil {
			log.Debug("connection closed before the authentication hello", "err", err)
		}
		return err
	}
	if string(hello[:4]) != authMagic || hello[4] != authVersion {
		log.Warn("authentication failed: the client does not speak the tunnel's handshake " +
			"(not a netmux forward client, or an older version)")
		return errors.New("bad authentication hello")
	}
	cn, hasToken := hello[6:], hello[5]&authFlagToken != 0
	answer := func(status byte, nonce []byte) error {
		ch := make([]byte, helloLen)
		copy(ch, authMagic)
		ch[4], ch[5] = authVersion, status
		copy(ch[6:], nonce)
		_, err := conn.Write(ch)
		return err
	}
	if a.token == nil {
		if hasToken {
			log.Warn("the client has a token but this server has none; the client will hang up")
		}
		return answer(authOpen, nil)
	}
	if !hasToken {
		log.Warn("authentication failed: the client has no token")
		answer(authNeedToken, nil)
		return errors.New("no token")
	}
	src := sourceKey(from)
	if wait := a.failures.locked(src); wait > 0 {
		// Debug: the Warn that started the lockout said it, and an
		// attacker must not be able to fill the log.
		log.Debug("authentication refused: too many failures from this address", "retry_in", wait.Round(time.Second))
		answer(authLockedOut, nil)
		return errors.New("locked out")
	}
	sn := make([]byte, nonceLen)
	rand.Read(sn)
	if err := answer(authChallenge, sn); err != nil {
		return err
	}
	got := make([]byte, macLen)
	if _, err := io.ReadFull(conn, got); err != nil {
		return err
	}
	verdict := make([]byte, 1+macLen)
	if !hmac.Equal(got, proof(a.token, clientLabel, cn, sn)) {
		n, lockout := a.failures.fail(src)
		if lockout > 0 {
			log.Warn("authentication failed: wrong token", "failures", n, "refused_for", lockout)
		} else {
			log.Warn("authentication failed: wrong token", "failures", n)
		}
		verdict[0] = authWrongToken
		conn.Write(verdict)
		return errors.New("wrong token")
	}
	a.failures.succeed(src)
	verdict[0] = authAccepted
	copy(verdict[1:], proof(a.token, serverLabel, cn, sn))
	_, err := conn.Write(verdict)
	log.Debug("client authenticated")
	return err
}

func remoteAddr(conn io.ReadWriteCloser) string {
	if c, ok := conn.(interface{ RemoteAddr() net.Addr }); ok && c.RemoteAddr() != nil {
		return c.RemoteAddr().String()
	}
	return "unknown"
}

// sourceKey is what failures are counted by: the IP address, or its /64
// for IPv6, where one host often has a whole prefix.
func sourceKey(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// Failure throttling: an address may fail freeFailures times in a row;
// each failure after that refuses it for twice as long as the last, from
// baseLockout up to maxLockout, and a success forgives it.
const (
	freeFailures = 3
	baseLockout  = time.Second
	maxLockout   = time.Minute
	maxTracked   = 10000 // addresses remembered at once
)

// failureLimiter counts consecutive authentication failures by address.
// The zero value is ready to use.
type failureLimiter struct {
	mu  sync.Mutex
	now func() time.Time // nil: time.Now
	m   map[string]*failureCount
}

type failureCount struct {
	n     int
	until time.Time // refused until then
	last  time.Time
}

func (f *failureLimiter) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}

// locked returns how long src is still refused (0: not refused).
func (f *failureLimiter) locked(src string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.m[src]
	if c == nil {
		return 0
	}
	return max(c.until.Sub(f.clock()), 0)
}

// fail records a failure of src and returns how many in a row, and for
// how long src is now refused (0: not).
func (f *failureLimiter) fail(src string) (int, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock()
	if f.m == nil {
		f.m = make(map[string]*failureCount)
	}
	c := f.m[src]
	if c == nil {
		f.makeRoomLocked(now)
		c = &failureCount{}
		f.m[src] = c
	}
	c.n++
	c.last = now
	var d time.Duration
	if over := c.n - freeFailures; over > 0 {
		d = maxLockout
		if over <= 10 {
			d = min(baseLockout<<(over-1), maxLockout)
		}
		c.until = now.Add(d)
	}
	return c.n, d
}

// succeed forgives src.
func (f *failureLimiter) succeed(src string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, src)
}

// makeRoomLocked keeps the table bounded: it forgets addresses idle for
// longer than the longest lockout and, if that is not enough, any.
func (f *failureLimiter) makeRoomLocked(now time.Time) {
	if len(f.m) < maxTracked {
		return
	}
	for k, c := range f.m {
		if now.Sub(c.last) > maxLockout && !c.until.After(now) {
			delete(f.m, k)
		}
	}
	for k := range f.m {
		if len(f.m) < maxTracked {
			break
		}
		delete(f.m, k)
	}
}

// checkExposure decides whether a forward server may start: one that
// listens on an address other than loopback must authenticate clients,
// with a token or client certificates (clientCerts: mutual TLS in
// force), unless noAuth says an open server is intended.
func checkExposure(ep endpoint, token, clientCerts, noAuth bool) error {
	if token || clientCerts || noAuth || isLoopback(ep.hostname()) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: anyone who can reach it could take "+
		"over the public ports and dial the --allow targets; set %s or --token-file (and the same on the "+
		"clients), require client certificates with --client-ca, or give --no-auth if an open server is "+
		"really intended", ep.host, tokenEnv)
}

// isLoopback reports a host that only this machine can reach: a loopback
// IP or "localhost". Other names are not resolved and count as exposed.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
