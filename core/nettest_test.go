package core_test

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestNetConn runs x/net/nettest's conformance tests on a pair of streams
// over the buffered in-memory pipe, with either end as c1.
func TestNetConn(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		name := "opener-first"
		if reverse {
			name = "acceptor-first"
		}
		t.Run(name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				client, server := pair(t)
				a, b := streamPair(t, client, server)
				stop = func() {
					a.Close()
					b.Close()
					client.Close()
					server.Close()
				}
				if reverse {
					return b, a, stop, nil
				}
				return a, b, stop, nil
			})
		})
	}
}
