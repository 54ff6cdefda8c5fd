// Command forward_server is the server half of a reverse tunnel. It
// listens for tunnel clients (examples/forward_client) on -listen and for
// the public on -public, and carries each public TCP connection over one
// stream of the newest client's session; the client forwards it to a
// service on its side. To publish a local web server:
//
//	python3 -m http.server 8000 --bind 127.0.0.1   # the service
//	go run ./examples/forward_server               # -listen 127.0.0.1:7777 -public 127.0.0.1:8001
//	go run ./examples/forward_client               # -server 127.0.0.1:7777 -target 127.0.0.1:8000
//	curl http://127.0.0.1:8001/
//
// A public connection that arrives while no client is connected is
// closed. cmd/netmux's "forward" command is the full version: every
// transport, TLS, several mappings, local forwarding and graceful
// shutdown.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"sync"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7777", "address tunnel clients connect to")
	public := flag.String("public", "127.0.0.1:8001", "public address whose connections go through the tunnel")
	flag.Parse()

	ln, err := tcp.Listen(*listen)
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := transport.NewListener(ln, core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	pub, err := net.Listen("tcp", *public)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("tunnel clients connect to %s; public port %s", ln.Addr(), pub.Addr())

	// The newest live client session carries the public connections.
	var mu sync.Mutex
	var current *core.Session
	go func() {
		for {
			sess, err := sessions.Accept()
			if err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			current = sess
			mu.Unlock()
			log.Printf("client %s connected", sess.RemoteAddr())
			go func() {
				<-sess.Done()
				mu.Lock()
				if current == sess {
					current = nil
				}
				mu.Unlock()
				if err := sess.Err(); errors.Is(err, core.ErrGoAway) {
					log.Printf("client %s disconnected", sess.RemoteAddr())
				} else {
					log.Printf("client %s lost: %v", sess.RemoteAddr(), err)
				}
				sess.Close()
			}()
		}
	}()

	for {
		c, err := pub.Accept()
		if err != nil {
			log.Fatal(err)
		}
		mu.Lock()
		sess := current
		mu.Unlock()
		go forward(c, sess)
	}
}

// forward carries c over a new stream of sess.
func forward(c net.Conn, sess *core.Session) {
	defer c.Close()
	if sess == nil {
		log.Print("no tunnel client connected")
		return
	}
	st, err := sess.OpenStream(context.Background())
	if err != nil {
		log.Print(err)
		return
	}
	defer st.Close()
	pipe(c.(*net.TCPConn), st)
}

// pipe copies both ways and passes each direction's end on as a
// half-close, so request/response protocols see their EOFs. An error
// either way tears both down.
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
