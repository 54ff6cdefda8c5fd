// Command tcp_server is the server half of the echo example: every stream
// a client opens carries one line, which it echoes back before closing
// the stream. Pair it with examples/tcp_client:
//
//	go run ./examples/tcp_server                      # listens on 127.0.0.1:7777
//	printf 'hello\nworld\n' | go run ./examples/tcp_client
//
// SIGINT (Ctrl-C) or SIGTERM shuts it down gracefully: clients get
// GoAway and open streams finish.
package main

import (
	"context"
	"errors"
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
				if errors.Is(err, core.ErrGoAway) {
					log.Printf("session from %s closed by the client", sess.RemoteAddr())
					return
				}
				if err != nil {
					log.Printf("session from %s ended: %v", sess.RemoteAddr(), err)
					return
				}
				go func() {
					defer st.Close()
					io.Copy(st, st) // the line, until the client's CloseWrite
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
