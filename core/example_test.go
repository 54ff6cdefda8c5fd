package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
)

// A client and a server session over one connection (here an in-memory
// pipe; in practice TCP, TLS, QUIC...). The client opens a stream, the
// server echoes it.
func Example() {
	c1, c2 := mem.Pipe()
	server, err := core.Server(c2, core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	go func() {
		for {
			st, err := server.AcceptStream(context.Background())
			if err != nil {
				return // session closed
			}
			go func() {
				io.Copy(st, st) // echo until the client's FIN
				st.Close()
			}()
		}
	}()

	client, err := core.Client(c1, core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	st, err := client.OpenStream(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	st.Write([]byte("hello, netmux"))
	st.CloseWrite() // the server's io.Copy sees EOF
	reply, err := io.ReadAll(st)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output: hello, netmux
}

// CloseWrite half-closes a stream: the peer reads io.EOF, and the other
// direction keeps working.
func ExampleStream_CloseWrite() {
	c1, c2 := mem.Pipe()
	client, _ := core.Client(c1, core.DefaultConfig())
	server, _ := core.Server(c2, core.DefaultConfig())
	defer client.Close()
	defer server.Close()

	st, _ := client.OpenStream(context.Background())
	st.Write([]byte("request"))
	st.CloseWrite()

	peer, _ := server.AcceptStream(context.Background())
	req, err := io.ReadAll(peer) // ends at the client's FIN
	fmt.Println(string(req), err)
	peer.Write([]byte("response"))
	peer.Close()

	resp, err := io.ReadAll(st)
	fmt.Println(string(resp), err)
	// Output:
	// request <nil>
	// response <nil>
}

// Reset aborts a stream with a code the peer can read.
func ExampleStream_Reset() {
	c1, c2 := mem.Pipe()
	client, _ := core.Client(c1, core.DefaultConfig())
	server, _ := core.Server(c2, core.DefaultConfig())
	defer client.Close()
	defer server.Close()

	st, _ := client.OpenStream(context.Background())
	st.Write([]byte("x"))
	peer, _ := server.AcceptStream(context.Background())
	peer.Reset(0x42)

	_, err := st.Read(make([]byte, 1))
	var se *core.StreamError
	if errors.As(err, &se) {
		fmt.Printf("stream %d reset by peer: %v, code 0x%x\n", se.StreamID, se.Remote, uint32(se.Code))
	}
	// Output: stream 1 reset by peer: true, code 0x42
}

// Ping measures the round-trip time; keepalive uses the same frames.
func ExampleSession_Ping() {
	c1, c2 := mem.Pipe()
	client, _ := core.Client(c1, core.DefaultConfig())
	server, _ := core.Server(c2, core.DefaultConfig())
	defer client.Close()
	defer server.Close()

	rtt, err := client.Ping(context.Background())
	fmt.Println(err == nil && rtt > 0)
	// Output: true
}
