//go:build !race

package transport_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

// The default bounds serve thousands of honest clients: 3,000 connect,
// 256 at a time as in a reconnect storm, and all 3,000 sessions are
// live together at the end, none dropped. (Not under -race: the race
// detector allows only 8128 live goroutines, and 3,000 session pairs run
// 18,000.)
func TestThousandsOfHonestClients(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 sessions")
	}
	const clients, atOnce = 3000, 256
	ln, err := tcp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	require.NoError(t, err)
	defer sl.Close()
	accepted := make(chan *core.Session, clients)
	go func() {
		for {
			s, err := sl.Accept()
			if err != nil {
				return
			}
			accepted <- s
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sessions := make([]*core.Session, clients)
	var wg sync.WaitGroup
	next := make(chan int)
	start := time.Now()
	for range atOnce {
		wg.Go(func() {
			for i := range next {
				s, err := transport.Dial(ctx, tcp.Dialer{}, ln.Addr().String(), core.DefaultConfig())
				if assert.NoError(t, err, "client %d", i) {
					sessions[i] = s
				}
			}
		})
	}
	for i := range clients {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	for range clients {
		s := <-accepted
		defer s.Close()
	}
	_, dropped := sl.Handshakes()
	t.Logf("%d clients, %d at a time: all sessions in %v, %d dropped", clients, atOnce,
		elapsed.Round(time.Millisecond), dropped)
	assert.Zero(t, dropped)
	for _, s := range sessions {
		if s != nil {
			select {
			case <-s.Done():
				t.Error("a session ended")
			default:
			}
			s.Close()
		}
	}
}
