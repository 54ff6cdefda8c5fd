// Command tcp_server is a netmux echo server over TCP: every stream a
// client opens is echoed back until the client half-closes it. Pair it
// with examples/tcp_client:
//
//	go run ./examples/tcp_server -addr 127.0.0.1:7777
//	go run ./examples/tcp_client -addr 127.0.0.1:7777
//
// Ctrl-C shuts it down gracefully: clients get GoAway and open streams
// finish.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7777", "address to listen on")
	flag.Parse()

	ln, err := tcp.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &transport.Server{
		Config: core.DefaultConfig(),
		// Handler runs once per client session; streams are accepted
		// until the session ends.
		Handler: func(sess *core.Session) {
			log.Printf("session from %s", sess.RemoteAddr())
			for {
				st, err := sess.AcceptStream(context.Background())
				if err != nil {
					log.Printf("session from %s ended: %v", sess.RemoteAddr(), err)
					return
				}
				go func() {
					defer st.Close()
					io.Copy(st, st) // until the client's CloseWrite
					st.CloseWrite() // then the client reads io.EOF
				}()
			}
		},
	}
	go srv.Serve(ln)
	log.Printf("echo server listening on %s", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Print(err)
	}
}
