package tcp_test

import (
	"context"
	"fmt"
	"io"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

func Example() {
	ctx := context.Background()

	// Server: an echo service on a free loopback port.
	ln, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &transport.Server{
		Config: core.DefaultConfig(),
		Handler: func(sess *core.Session) {
			for {
				st, err := sess.AcceptStream(ctx)
				if err != nil {
					return
				}
				go func() {
					io.Copy(st, st)
					st.Close()
				}()
			}
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// Client: one session, one stream.
	sess, err := transport.Dial(ctx, tcp.Dialer{}, ln.Addr().String(), core.DefaultConfig())
	if err != nil {
		panic(err)
	}
	st, err := sess.OpenStream(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Fprint(st, "hello over TCP")
	st.CloseWrite()
	reply, err := io.ReadAll(st)
	fmt.Printf("%s %v\n", reply, err)

	sess.Close()
	srv.Shutdown(ctx)
	fmt.Println(<-served)
	// Output:
	// hello over TCP <nil>
	// netmux: server closed
}
