// Command netmux shows the multiplexer at work and carries TCP through it.
//
//	netmux demo [flags]                                  every transport, in one process
//	netmux echo server --listen URL [flags]              echo every stream
//	netmux echo client --connect URL [flags]             one stream per line of stdin
//	netmux forward server --listen URL [--public [NAME=]ADDR]... [--allow TARGET]...
//	netmux forward client --connect URL [--target [NAME=]ADDR]... [--map LOCAL=REMOTE]...
//
// A transport URL is tcp://, tls://, kcp://, ws://, wss:// or quic://
// followed by host:port (and a path for ws and wss). Run a command with
// -h for its flags. SIGINT and SIGTERM shut servers and clients down
// gracefully (GoAway, open streams drain) and exit 0.
//
// demo starts a server and a client inside one process on loopback over
// every transport, opens many concurrent streams, echoes checksummed
// data, measures throughput and round-trip time, checks half-close, reset
// and graceful close, and prints a table. It exits 1 if any transport
// failed.
//
// forward server and forward client build TCP tunnels over one session,
// in both directions. Reverse (ssh -R): a connection to the server's
// --public port is carried to the client, which dials its --target of the
// same name. Local (ssh -L): a connection to the client's --map LOCAL
// address is carried to the server, which dials REMOTE if its --allow list
// permits it. Every TCP connection is one stream, and a half-close is
// passed on in both directions. The client reconnects with exponential
// backoff. The header that opens each tunnel stream is described in
// tunnel.go.
//
// Before its session starts, a forward client and the server prove to
// each other that they share a token (NETMUX_TOKEN or --token-file),
// and a client that fails gets no session; auth.go describes the
// exchange. A server listening beyond loopback with neither a token nor
// client certificates refuses to start unless given --no-auth.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usageText = `netmux: a stream multiplexer over tcp, tls, kcp, ws, wss and quic.

usage:
  netmux demo [flags]                          server and client in one process, every transport
  netmux echo server --listen URL [flags]      echo every stream
  netmux echo client --connect URL [flags]     send each line of stdin on its own stream
  netmux forward server --listen URL [flags]   tunnel server: --public ports, --allow targets
  netmux forward client --connect URL [flags]  tunnel client: --target services, --map local ports
                                               (both: a shared token in NETMUX_TOKEN or --token-file)

URLs: tcp://HOST:PORT tls://HOST:PORT kcp://HOST:PORT ws://HOST:PORT/PATH
      wss://HOST:PORT/PATH quic://HOST:PORT (a bare HOST:PORT is tcp)

Run "netmux COMMAND -h" for the flags of a command.
`

// run is the whole program: it returns the exit code. ctx ends on SIGINT
// or SIGTERM.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return demoCommand(ctx, rest, stdout, stderr)
	case "echo", "forward":
		if len(rest) == 0 || (rest[0] != "server" && rest[0] != "client") {
			fmt.Fprintf(stderr, "usage: netmux %s server|client [flags]\n", cmd)
			return exitUsage
		}
		switch cmd + " " + rest[0] {
		case "echo server":
			return echoServerCommand(ctx, rest[1:], stderr)
		case "echo client":
			return echoClientCommand(ctx, rest[1:], stdin, stdout, stderr)
		case "forward server":
			return forwardServerCommand(ctx, rest[1:], stderr)
		default:
			return forwardClientCommand(ctx, rest[1:], stderr)
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "netmux: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
}

// newFlagSet returns a flag set that reports errors to stderr instead of
// exiting. Its -h prints the synopsis, the flags, then notes (if any).
func newFlagSet(name string, stderr io.Writer, synopsis string, notes ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
		for _, n := range notes {
			fmt.Fprintf(stderr, "\n%s", n)
		}
	}
	return fs
}

// tunnelSecurityHelp ends the -h of both forward commands.
const tunnelSecurityHelp = `Running a tunnel on an untrusted network:
  - Give the server and every client the same long random token, in the
    NETMUX_TOKEN environment variable or a file named by --token-file
    (never as a flag value, which ps shows):
        openssl rand -hex 32 > token && chmod 600 token
    Each side proves the token to the other (HMAC challenge-response; the
    token never crosses the wire). A client without it gets nothing: no
    session, no public connection, no --allow target.
  - Carry the tunnel over TLS: tls://, wss:// or quic:// with --cert and
    --key on the server and --ca on the clients (--client-ca on the
    server adds client certificates, alone or with the token). The token
    does not encrypt: over tcp://, ws:// or kcp:// anyone on the path can
    read and change the traffic.
  - A server listening on an address other than loopback with neither a
    token nor --client-ca refuses to start unless --no-auth is given.
`

// parseFlags parses args and returns the exit code to use, or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	return -1
}

// commonFlags are the logging and session flags every command shares.
type commonFlags struct {
	verbose          bool
	logLevel         string
	keepAlive        time.Duration
	keepAliveTimeout time.Duration
}

func (c *commonFlags) register(fs *flag.FlagSet, session bool) {
	fs.BoolVar(&c.verbose, "v", false, "verbose: same as --log-level debug")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	if session {
		def := core.DefaultConfig()
		fs.DurationVar(&c.keepAlive, "keepalive", def.KeepAliveInterval, "session keepalive ping `interval` (0: off)")
		fs.DurationVar(&c.keepAliveTimeout, "keepalive-timeout", def.KeepAliveTimeout,
			"end a session whose peer has been silent for this `duration`")
	}
}

// logger returns the structured logger the flags ask for, writing text
// records to w.
func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if c.verbose {
		level = slog.LevelDebug
	} else if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// config returns the session configuration: the defaults with the flags'
// keepalive, logging protocol events to log.
func (c *commonFlags) config(log *slog.Logger) (core.Config, error) {
	cfg := core.DefaultConfig()
	cfg.KeepAliveInterval = c.keepAlive
	cfg.KeepAliveTimeout = c.keepAliveTimeout
	cfg.Logger = log.With("component", "mux")
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// setup parses the flags and builds the logger: the common prologue of
// the echo and forward commands. It returns the exit code to use, or -1.
func setup(fs *flag.FlagSet, args []string, common *commonFlags, stderr io.Writer) (*slog.Logger, int) {
	if code := parseFlags(fs, args); code >= 0 {
		return nil, code
	}
	log, err := common.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return nil, exitUsage
	}
	return log, -1
}

// fail logs err and returns exitFail.
func fail(log *slog.Logger, msg string, err error) int {
	log.Error(msg, "err", err)
	return exitFail
}

// usageError reports a flag problem and returns exitUsage.
func usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	return exitUsage
}

// joinNames formats names for a log line.
func joinNames(names []string) string { return strings.Join(names, ",") }

// serveUntilDone serves sessions from ln until ctx ends, then shuts the
// server down gracefully: stop runs first (if not nil), then listeners
// close, sessions get GoAway and their open streams have drain to finish.
// It returns an error only if the listener failed.
func serveUntilDone(ctx context.Context, srv *transport.Server, ln transport.Listener, drain time.Duration,
	log *slog.Logger, stop func()) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down", "drain", drain)
	}
	if stop != nil {
		stop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Warn("streams still open after the drain time; closed them", "err", serr)
	}
	if err == nil {
		err = <-served
	}
	if errors.Is(err, transport.ErrServerClosed) {
		err = nil
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// endpointFlag checks the command's required transport URL (--listen or
// --connect) and parses it. A code of 0 or more means exit with it.
func endpointFlag(fs *flag.FlagSet, name, raw string) (endpoint, int) {
	if raw == "" {
		return endpoint{}, usageError(fs, "--%s is required", name)
	}
	ep, err := parseEndpoint(raw)
	if err != nil {
		return endpoint{}, usageError(fs, "%v", err)
	}
	return ep, -1
}

// tlsFlags is serverTLS or clientTLS.
type tlsFlags interface {
	config(e endpoint, log *slog.Logger) (*tls.Config, error)
}

// sessionSetup builds what every command needs after its flags are
// checked: the TLS configuration for ep and the session configuration. A
// code of 0 or more means exit with it.
func sessionSetup(fs *flag.FlagSet, ep endpoint, tf tlsFlags, common *commonFlags, log *slog.Logger) (*tls.Config, core.Config, int) {
	tlsConf, err := tf.config(ep, log)
	if err != nil {
		return nil, core.Config{}, fail(log, "TLS setup failed", err)
	}
	cfg, err := common.config(log)
	if err != nil {
		return nil, core.Config{}, usageError(fs, "%v", err)
	}
	return tlsConf, cfg, -1
}
