package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
)

// An echo of more than the two stream windows. Written the naive way
// (Write everything, CloseWrite, then read the echo), this deadlocks past
// 512 KiB with the default configuration: the echo server blocks writing
// to the client once the client's receive window is full, so it stops
// reading, and the client blocks writing once the server's window is
// full. Flow control bounds what each side holds, so a bidirectional
// protocol must read and write at once, as here: the Write runs in its
// own goroutine while the main one reads.
func Example_echoLargerThanWindows() {
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
	msg := bytes.Repeat([]byte("netmux "), 4<<20/7) // about 4 MiB

	wrote := make(chan error, 1)
	go func() { // write, then half-close, while the echo is read below
		_, err := st.Write(msg)
		wrote <- errors.Join(err, st.CloseWrite())
	}()
	reply, err := io.ReadAll(st)
	if err := errors.Join(err, <-wrote); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(reply) == len(msg), bytes.Equal(reply, msg))
	// Output: true true
}
