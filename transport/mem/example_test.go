package mem_test

import (
	"context"
	"fmt"
	"io"

	"github.com/netmux/netmux/transport/mem"
)

func Example() {
	c1, c2 := mem.Pipe()
	defer c1.Close()
	defer c2.Close()

	// Writes are buffered, so they complete without a concurrent reader.
	fmt.Fprint(c1, "hello, ")
	fmt.Fprint(c1, "world")
	c1.CloseWrite() // c2 reads the buffered data, then io.EOF

	b, err := io.ReadAll(c2)
	fmt.Printf("%q %v\n", b, err)
	// Output: "hello, world" <nil>
}

func ExampleListen() {
	l, err := mem.Listen("echo")
	if err != nil {
		panic(err)
	}
	defer l.Close()

	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client half-closes
	}()

	var d mem.Dialer
	c, err := d.Dial(context.Background(), "echo")
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Fprint(c, "ping")
	c.(*mem.Conn).CloseWrite()
	b, _ := io.ReadAll(c)
	fmt.Println(string(b))
	// Output: ping
}
