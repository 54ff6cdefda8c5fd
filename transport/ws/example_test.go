package ws_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/ws"
)

// echoStreams echoes every stream of sess until the session ends.
func echoStreams(sess *core.Session) {
	for {
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			return
		}
		go func() {
			io.Copy(st, st) // until the client's CloseWrite
			st.Close()
		}()
	}
}

// A netmux server on a standalone WebSocket listener, and a client that
// dials its URL.
func Example() {
	ln, err := ws.Listen("127.0.0.1:0") // serves ws://127.0.0.1:<port>/netmux
	if err != nil {
		log.Fatal(err)
	}
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		sess, err := sl.Accept()
		if err != nil {
			return
		}
		echoStreams(sess)
		sess.Close()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := transport.Dial(ctx, ws.Dialer{}, ln.Addr().String(), core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	st, err := sess.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	st.Write([]byte("hello over WebSocket"))
	st.CloseWrite()
	reply, err := io.ReadAll(st)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))

	sess.Close() // the server's session ends too
	<-served
	sl.Close() // closes ln
	// Output: hello over WebSocket
}

// The Handler mounted on an application's own http.ServeMux, next to an
// ordinary route: one port serves both the web application and netmux.
func ExampleHandler() {
	h := ws.NewHandler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from the web app")
	})
	mux.Handle("/netmux", h)

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	web := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go web.Serve(tcp)
	defer web.Close()

	srv := &transport.Server{Config: core.DefaultConfig(), Handler: echoStreams}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(h) }() // the Handler is the Listener

	base := "http://" + tcp.Addr().String()
	resp, err := http.Get(base + "/hello")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := transport.Dial(ctx, ws.Dialer{}, "ws://"+tcp.Addr().String()+"/netmux", core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	st, err := sess.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	st.Write([]byte("hello over the same port"))
	st.CloseWrite()
	reply, _ := io.ReadAll(st)
	fmt.Println(string(reply))

	sess.Close()
	srv.Shutdown(ctx) // closes h; the web server keeps running until web.Close
	<-served
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// hello from the web app
	// hello over the same port
}
