// Command tcp_client opens one netmux session to examples/tcp_server,
// sends a message on each of several concurrent streams and prints the
// echoes:
//
//	go run ./examples/tcp_server -addr 127.0.0.1:7777
//	go run ./examples/tcp_client -addr 127.0.0.1:7777 -streams 5
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"sync"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7777", "address of the echo server")
	streams := flag.Int("streams", 3, "streams to open at once")
	flag.Parse()
	ctx := context.Background()

	// Dial returns once the server has answered the session's first ping.
	sess, err := transport.Dial(ctx, tcp.Dialer{}, *addr, core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close() // graceful: flushes, GoAway, waits for the server

	rtt, err := sess.Ping(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("connected to %s, round trip %v\n", sess.RemoteAddr(), rtt)

	var wg sync.WaitGroup
	for i := range *streams {
		wg.Go(func() {
			st, err := sess.OpenStream(ctx) // no round trip: write at once
			if err != nil {
				log.Print(err)
				return
			}
			defer st.Close()
			fmt.Fprintf(st, "hello #%d", i)
			st.CloseWrite() // the server reads io.EOF; we can still read
			reply, err := io.ReadAll(st)
			if err != nil {
				log.Print(err)
				return
			}
			fmt.Printf("stream %d: %s\n", st.ID(), reply)
		})
	}
	wg.Wait()
}
