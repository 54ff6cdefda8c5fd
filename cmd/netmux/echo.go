package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
)

// echoServerCommand is "netmux echo server": it echoes every stream of
// every session until SIGINT or SIGTERM.
func echoServerCommand(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlagSet("netmux echo server", stderr, "--listen URL [flags]")
	listen := fs.String("listen", "", "transport `URL` to listen on, e.g. tcp://127.0.0.1:7777")
	drain := fs.Duration("drain", 10*time.Second, "on SIGINT/SIGTERM, let open streams finish for up to this `duration`")
	var common commonFlags
	common.register(fs, true)
	var tf serverTLS
	tf.register(fs)
	log, code := setup(fs, args, &common, stderr)
	if code >= 0 {
		return code
	}
	ep, code := endpointFlag(fs, "listen", *listen)
	if code >= 0 {
		return code
	}
	tlsConf, cfg, code := sessionSetup(fs, ep, &tf, &common, log)
	if code >= 0 {
		return code
	}
	ln, err := ep.listen(tlsConf)
	if err != nil {
		return fail(log, "listen failed", err)
	}
	log.Info("listening", "url", ep.bound(ln).String())
	srv := &transport.Server{Config: cfg, Handler: func(sess *core.Session) { serveEcho(sess, log) }}
	if err := serveUntilDone(ctx, srv, ln, *drain, log, nil); err != nil {
		return fail(log, "serve failed", err)
	}
	return exitOK
}

// serveEcho echoes every stream of sess: each byte back, then a
// half-close once the peer's data has ended.
func serveEcho(sess *core.Session, log *slog.Logger) {
	log = log.With("remote", sess.RemoteAddr().String())
	log.Info("session started")
	var wg sync.WaitGroup
	for {
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			if gracefulEnd(err) {
				log.Info("session ended", "end", "graceful")
			} else {
				log.Warn("session ended", "err", err)
			}
			break
		}
		wg.Go(func() {
			n, err := io.Copy(st, st)
			if err == nil {
				err = st.CloseWrite()
			}
			log.Debug("stream echoed", "stream", st.ID(), "bytes", n, "err", err)
			st.Close()
		})
	}
	wg.Wait()
}

// echoClientCommand is "netmux echo client": each line of stdin goes out
// on a stream of its own; the replies are printed in input order.
func echoClientCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("netmux echo client", stderr, "--connect URL [flags] < lines")
	connect := fs.String("connect", "", "transport `URL` of the echo server, e.g. tcp://127.0.0.1:7777")
	parallel := fs.Int("parallel", 16, "lines in flight at once, each on its own stream")
	dialTimeout := fs.Duration("dial-timeout", 10*time.Second, "bound on connecting")
	var common commonFlags
	common.register(fs, true)
	var tf clientTLS
	tf.register(fs)
	log, code := setup(fs, args, &common, stderr)
	if code >= 0 {
		return code
	}
	ep, code := endpointFlag(fs, "connect", *connect)
	if code >= 0 {
		return code
	}
	if *parallel < 1 {
		return usageError(fs, "--parallel must be at least 1")
	}
	tlsConf, cfg, code := sessionSetup(fs, ep, &tf, &common, log)
	if code >= 0 {
		return code
	}
	d, addr := ep.dialer(tlsConf)
	dctx, cancel := context.WithTimeout(ctx, *dialTimeout)
	sess, err := transport.Dial(dctx, d, addr, cfg)
	cancel()
	if err != nil {
		return fail(log, "connect failed", err)
	}
	log.Debug("connected", "url", ep.String())
	err = echoLines(ctx, sess, stdin, stdout, *parallel)
	if cerr := sess.Close(); err == nil && cerr != nil && !errors.Is(cerr, core.ErrSessionClosed) {
		err = cerr
	}
	if err != nil {
		return fail(log, "echo failed", err)
	}
	return exitOK
}

type echoReply struct {
	reply []byte
	err   error
}

// echoLines sends each line of in on its own stream (up to parallel at
// once) and writes the replies to out in input order.
func echoLines(ctx context.Context, sess *core.Session, in io.Reader, out io.Writer, parallel int) error {
	lines := make(chan []byte)
	done := make(chan struct{})
	var scanErr error
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := append(append([]byte(nil), sc.Bytes()...), '\n')
			select {
			case lines <- line:
			case <-done:
				return
			}
		}
		scanErr = sc.Err()
	}()
	var workers sync.WaitGroup
	defer workers.Wait()
	defer close(done)
	var pending []chan echoReply // replies in input order
	for lines != nil || len(pending) > 0 {
		in := lines
		if len(pending) >= parallel {
			in = nil
		}
		var next chan echoReply
		if len(pending) > 0 {
			next = pending[0]
		}
		select {
		case line, ok := <-in:
			if !ok {
				lines = nil
				if scanErr != nil {
					return scanErr
				}
				continue
			}
			reply := make(chan echoReply, 1)
			pending = append(pending, reply)
			workers.Go(func() { reply <- echoOne(ctx, sess, line) })
		case r := <-next:
			pending = pending[1:]
			if r.err != nil {
				return r.err
			}
			if _, err := out.Write(r.reply); err != nil {
				return err
			}
		}
	}
	return nil
}

// echoOne sends msg on a new stream, half-closes it and returns what
// comes back.
func echoOne(ctx context.Context, sess *core.Session, msg []byte) echoReply {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return echoReply{err: err}
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset(core.CodeCancel) })
	defer stop()
	if _, err := st.Write(msg); err != nil {
		return echoReply{err: err}
	}
	if err := st.CloseWrite(); err != nil {
		return echoReply{err: err}
	}
	reply, err := io.ReadAll(st)
	return echoReply{reply: reply, err: err}
}
