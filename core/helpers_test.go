package core_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/require"
)

// testTimeout bounds every wait in these tests; hitting it is a failure.
const testTimeout = 20 * time.Second

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pair starts a client and a server session over a buffered in-memory
// pipe; both are closed at cleanup.
func pair(t testing.TB, mod ...func(*core.Config)) (client, server *core.Session) {
	t.Helper()
	cfg := core.DefaultConfig()
	for _, m := range mod {
		m(&cfg)
	}
	c1, c2 := mem.Pipe()
	client, err := core.Client(c1, cfg)
	require.NoError(t, err)
	server, err = core.Server(c2, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// streamPair opens a stream from a and accepts it on b.
func streamPair(t testing.TB, a, b *core.Session) (opened, accepted *core.Stream) {
	t.Helper()
	ctx := ctxT(t)
	opened, err := a.OpenStream(ctx)
	require.NoError(t, err)
	// The peer sees the stream once its SYN arrives; nudge with a byte-free
	// frame by writing nothing: SYN is sent at open.
	accepted, err = b.AcceptStream(ctx)
	require.NoError(t, err)
	return opened, accepted
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// echo copies everything st reads back to it, then closes its write half.
func echo(st *core.Stream) error {
	if _, err := io.Copy(st, st); err != nil {
		return err
	}
	return st.CloseWrite()
}

func requireEqualBytes(t testing.TB, want, got []byte) {
	t.Helper()
	if !bytes.Equal(want, got) {
		require.Failf(t, "bytes differ", "want %d bytes (sum %x), got %d bytes (sum %x)",
			len(want), sum(want), len(got), sum(got))
	}
}

var errDeadlineExceeded = os.ErrDeadlineExceeded
