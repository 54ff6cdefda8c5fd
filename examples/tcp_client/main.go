// Command tcp_client is the client half of the echo example: it reads
// lines from standard input, sends each one over a fresh stream of one
// netmux session to examples/tcp_server, and prints the reply, in order.
// At the end of its input it closes the session gracefully.
//
//	go run ./examples/tcp_server                      # listens on 127.0.0.1:7777
//	printf 'hello\nworld\n' | go run ./examples/tcp_client
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"os"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7777", "address of the echo server")
	flag.Parse()
	ctx := context.Background()

	// Dial returns once the server has answered the session's first ping.
	sess, err := transport.Dial(ctx, tcp.Dialer{}, *addr, core.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("connected to %s", sess.RemoteAddr())

	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			reply, err := echo(ctx, sess, line)
			if err != nil {
				log.Fatal(err)
			}
			out.Write(reply)
			out.Flush()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	// Graceful: flushes, sends GoAway, waits for the server's answer.
	if err := sess.Close(); err != nil {
		log.Fatal(err)
	}
}

// echo sends line over a new stream and returns what comes back. It
// writes and reads at once: a line longer than the two stream windows
// (512 KiB by default) would otherwise deadlock, the server blocked
// writing its echo to us while we are still blocked writing to it.
func echo(ctx context.Context, sess *core.Session, line []byte) ([]byte, error) {
	st, err := sess.OpenStream(ctx) // no round trip: write at once
	if err != nil {
		return nil, err
	}
	defer st.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(line)
		if err == nil {
			err = st.CloseWrite() // the server reads io.EOF; we can still read
		}
		werr <- err
	}()
	reply, err := io.ReadAll(st)
	return reply, errors.Join(err, <-werr)
}
