// Command forward_client is the client half of a reverse tunnel: it
// connects out to examples/forward_server (-server, default
// 127.0.0.1:7777) and forwards every stream the server opens to -target
// (default 127.0.0.1:8000), a service reachable from here. It reconnects
// when the session drops. SIGINT (Ctrl-C) or SIGTERM ends it gracefully:
// the server gets GoAway, open connections get up to -drain to finish,
// and the session closes with the GoAway handshake. See
// examples/forward_server for a walk-through.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

func main() {
	server := flag.String("server", "127.0.0.1:7777", "address of the forward server")
	target := flag.String("target", "127.0.0.1:8000", "service that public connections are forwarded to")
	drain := flag.Duration("drain", 5*time.Second, "how long open connections may take to finish at shutdown")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for ctx.Err() == nil {
		sess, err := transport.Dial(ctx, tcp.Dialer{}, *server, core.DefaultConfig())
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Printf("connect: %v; retrying in 1s", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		log.Printf("connected to %s; forwarding to %s", *server, *target)
		serve(ctx, sess, *target)
		if ctx.Err() != nil {
			// Shutdown: GoAway, let open connections finish (up to
			// -drain), then close with the GoAway handshake.
			log.Print("shutting down")
			shut, cancel := context.WithTimeout(context.Background(), *drain)
			err := sess.Shutdown(shut)
			cancel()
			if err != nil {
				log.Printf("shutdown: %v", err)
			}
			return
		}
		sess.Close()
	}
	log.Print("shutting down")
}

// serve forwards the streams of sess until it ends or ctx is done.
func serve(ctx context.Context, sess *core.Session, target string) {
	for {
		st, err := sess.AcceptStream(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Printf("session ended: %v", err)
			}
			return
		}
		go forward(st, target)
	}
}

// forward carries st to a new connection to target.
func forward(st *core.Stream, target string) {
	defer st.Close()
	c, err := net.Dial("tcp", target)
	if err != nil {
		log.Print(err)
		st.Reset(core.CodeCancel) // the public connection fails at once
		return
	}
	defer c.Close()
	pipe(c.(*net.TCPConn), st)
}

// pipe copies both ways and passes each direction's end on as a
// half-close. An error either way tears both down.
func pipe(c *net.TCPConn, st *core.Stream) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := io.Copy(st, c); err != nil {
			st.Reset(core.CodeCancel)
			return
		}
		st.CloseWrite()
	}()
	if _, err := io.Copy(c, st); err != nil {
		c.Close()
	} else {
		c.CloseWrite()
	}
	<-done
}
