// Command forward_client is the client half of a reverse tunnel: it
// connects out to examples/forward_server and forwards every stream the
// server opens to -target, a service reachable from here. It reconnects
// when the session drops. See examples/forward_server for a walk-through.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"net"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

func main() {
	server := flag.String("server", "127.0.0.1:7000", "address of the forward server")
	target := flag.String("target", "127.0.0.1:8000", "service that public connections are forwarded to")
	flag.Parse()

	for {
		sess, err := transport.Dial(context.Background(), tcp.Dialer{}, *server, core.DefaultConfig())
		if err != nil {
			log.Printf("connect: %v; retrying in 1s", err)
			time.Sleep(time.Second)
			continue
		}
		log.Printf("connected to %s; forwarding to %s", *server, *target)
		for {
			st, err := sess.AcceptStream(context.Background())
			if err != nil {
				log.Printf("session ended: %v", err)
				break
			}
			go forward(st, *target)
		}
		sess.Close()
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
