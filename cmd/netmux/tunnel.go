package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/netmux/netmux/core"
)

// Every tunnel stream starts with a header that says what the stream is
// for. The opener writes it and may go on writing data at once; the
// accepting side reads it before anything else:
//
//	+---------+--------+--------------------+-------------------+
//	| version | kind   | length (uint16 BE) | text (length B)   |
//	| 0x01    | 1 byte | 0..headerMaxText   | UTF-8             |
//	+---------+--------+--------------------+-------------------+
//
// Kinds:
//
//	'T' target  client → server, local forward (ssh -L): text is the
//	            host:port the server dials; the server checks it against
//	            its --allow list. The rest of the stream is the connection.
//	'M' mapping server → client, reverse forward (ssh -R): text is the
//	            name of the --public mapping the connection arrived on; the
//	            client dials its --target of that name. The rest of the
//	            stream is the connection.
//	'H' hello   client → server, once per session: text is the
//	            comma-separated names of the reverse mappings the client
//	            serves. The server answers with an 'A' header and closes.
//	'A' ack     server → client on the hello stream: the names the server
//	            publishes and routes to this session (a subset).
//
// There is no success reply on 'T' and 'M' streams: bytes flow at once.
// A stream that cannot be served is reset with one of the codes below,
// which the opening side turns into a TCP reset of its connection.
const (
	headerVersion = 1
	headerMaxText = 1024

	kindTarget  = 'T'
	kindMapping = 'M'
	kindHello   = 'H'
	kindAck     = 'A'
)

// Stream reset codes of the tunnel (application codes, above the
// protocol's 0x00-0xFF).
const (
	codeBadHeader  core.ErrorCode = 0x100 // the header is malformed or of the wrong kind
	codeRefused    core.ErrorCode = 0x101 // target not allowed, or no such mapping
	codeDialFailed core.ErrorCode = 0x102 // the target refused or could not be reached
	codeAborted    core.ErrorCode = 0x103 // the TCP connection at the other end failed
)

// writeHeader writes a tunnel header in one Write.
func writeHeader(w io.Writer, kind byte, text string) error {
	if len(text) > headerMaxText {
		return fmt.Errorf("tunnel header text too long (%d bytes)", len(text))
	}
	b := make([]byte, 4, 4+len(text))
	b[0], b[1] = headerVersion, kind
	binary.BigEndian.PutUint16(b[2:], uint16(len(text)))
	_, err := w.Write(append(b, text...))
	return err
}

// errBadHeader is returned by readHeader for a malformed header.
var errBadHeader = errors.New("bad tunnel header")

// readHeader reads a tunnel header.
func readHeader(r io.Reader) (kind byte, text string, err error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, "", err
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if h[0] != headerVersion || n > headerMaxText {
		return 0, "", fmt.Errorf("%w: version %d, length %d", errBadHeader, h[0], n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, "", err
	}
	return h[1], string(b), nil
}

// join carries a TCP connection over a stream until both directions have
// ended. An end of data (FIN) in either direction is passed on as a
// half-close: the stream's CloseWrite one way, the connection's
// CloseWrite the other. An error in either direction aborts both: the
// stream is reset with codeAborted and the connection closed with a TCP
// reset. join closes both before it returns.
func join(c net.Conn, st *core.Stream) error {
	var once sync.Once
	abort := func() {
		once.Do(func() {
			st.Reset(codeAborted)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		})
	}
	up := make(chan error, 1)
	go func() {
		_, err := io.Copy(st, c)
		if err == nil {
			err = st.CloseWrite()
		}
		if err != nil {
			abort()
		}
		up <- err
	}()
	_, err := io.Copy(c, st)
	if err == nil {
		err = closeWrite(c)
	}
	if err != nil {
		abort()
	}
	err = errors.Join(err, <-up)
	st.Close()
	c.Close()
	return err
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// abortConn closes c with a TCP reset, so its peer fails at once.
func abortConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// listFlag is a repeatable flag whose values may also be comma lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// defaultMapping names an unnamed --public or --target.
const defaultMapping = "default"

// namedAddr is one NAME=ADDR of --public or --target.
type namedAddr struct{ name, addr string }

// parseNamed parses [NAME=]HOST:PORT values; names must be unique.
func parseNamed(flagName string, vals []string) ([]namedAddr, error) {
	var out []namedAddr
	seen := map[string]bool{}
	for _, v := range vals {
		name, addr, ok := strings.Cut(v, "=")
		if !ok {
			name, addr = defaultMapping, v
		}
		if name == "" || strings.ContainsAny(name, ", ") {
			return nil, fmt.Errorf("--%s %q: bad mapping name", flagName, v)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--%s %q: %w", flagName, v, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("--%s: mapping %q given twice", flagName, name)
		}
		seen[name] = true
		out = append(out, namedAddr{name, addr})
	}
	return out, nil
}

// localMap is one local forward: connections to local are carried to
// the server, which dials remote.
type localMap struct{ local, remote string }

// parseMaps parses LOCAL=REMOTE values. A LOCAL that is only a port
// listens on 127.0.0.1, as ssh -L does; ":PORT" listens on every
// interface.
func parseMaps(vals []string) ([]localMap, error) {
	var out []localMap
	for _, v := range vals {
		local, remote, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("--map %q: want LOCAL=REMOTE, e.g. 127.0.0.1:9000=127.0.0.1:8000", v)
		}
		if !strings.Contains(local, ":") {
			local = "127.0.0.1:" + local
		}
		for _, a := range []string{local, remote} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("--map %q: %w", v, err)
			}
		}
		if len(remote) > headerMaxText {
			return nil, fmt.Errorf("--map %q: remote address too long", v)
		}
		out = append(out, localMap{local, remote})
	}
	return out, nil
}

// allowList is the server's --allow: the targets clients may ask it to
// dial. Entries are HOST:PORT, *:PORT, HOST:* or *; hosts compare
// literally (case-insensitively), no name resolution.
type allowList []string

func (a allowList) permits(target string) bool {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return false
	}
	for _, rule := range a {
		if rule == "*" {
			return true
		}
		rh, rp, err := net.SplitHostPort(rule)
		if err != nil {
			continue
		}
		if (rh == "*" || strings.EqualFold(rh, host)) && (rp == "*" || rp == port) {
			return true
		}
	}
	return false
}

func (a allowList) validate() error {
	for _, rule := range a {
		if rule == "*" {
			continue
		}
		if _, _, err := net.SplitHostPort(rule); err != nil {
			return fmt.Errorf("--allow %q: want HOST:PORT, *:PORT, HOST:* or *", rule)
		}
	}
	return nil
}

// carry sends the stream header on a freshly opened stream st (openErr is
// OpenStream's error) and joins it with the TCP connection c; on failure
// it resets the stream and aborts c.
func carry(log *slog.Logger, what string, c net.Conn, st *core.Stream, openErr error, kind byte, text string) {
	err := openErr
	if err == nil {
		err = writeHeader(st, kind, text)
	}
	if err != nil {
		log.Warn(what+" failed", "err", err)
		if st != nil {
			st.Reset(core.CodeCancel)
		}
		abortConn(c)
		return
	}
	log.Debug(what, "stream", st.ID())
	err = join(c, st)
	log.Debug(what+" done", "stream", st.ID(), "err", err)
}
