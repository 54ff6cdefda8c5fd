package kcp_test

import (
	"context"
	"fmt"
	"io"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/kcp"
)

// A netmux echo over KCP: the server serves sessions from a KCP
// listener (transport.NewListener checks each one's preface), the
// client dials with transport.Dial. Keepalive, on by default, is what
// notices a dead peer: KCP never does.
func Example() {
	ln, err := kcp.Listen("127.0.0.1:0", kcp.Options{})
	if err != nil {
		panic(err)
	}
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	if err != nil {
		panic(err)
	}
	served := make(chan struct{})
	go func() { // echo the first stream of the first session
		defer close(served)
		sess, err := sl.Accept()
		if err != nil {
			return
		}
		defer sess.Close()
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			return
		}
		io.Copy(st, st)
		st.Close()
		<-sess.Done() // until the client closes the session
	}()

	ctx := context.Background()
	sess, err := transport.Dial(ctx, kcp.Dialer{}, ln.Addr().String(), core.DefaultConfig())
	if err != nil {
		panic(err)
	}
	st, err := sess.OpenStream(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Fprint(st, "hello over KCP")
	st.CloseWrite()
	b, _ := io.ReadAll(st)
	fmt.Println(string(b))

	sess.Close() // GoAway|FIN handshake, then the KCP session is dropped
	<-served
	sl.Close()
	// Output: hello over KCP
}
