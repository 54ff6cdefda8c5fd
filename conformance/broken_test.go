package conformance_test

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A conformance suite that passes anything is worthless: run it over
// deliberately broken transports, each in a child test process, and
// require that it fails them, naming the checks that caught the fault.
func TestSuiteFailsBrokenTransports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for _, c := range []struct {
		kind   string
		caught []string // checks that must report the fault
	}{
		{"corrupt", []string{"BulkBothWays"}},
		{"drop", []string{"BulkBothWays"}},
		{"noeof", []string{"CloseReachesPeer"}},
	} {
		t.Run(c.kind, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBrokenTransport$", "-test.v", "-test.timeout=4m")
			cmd.Env = append(os.Environ(), "NETMUX_BROKEN="+c.kind)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a %s transport:\n%s", c.kind, out)
			for _, name := range c.caught {
				assert.Contains(t, string(out), "--- FAIL: TestBrokenTransport/"+name,
					"check %s did not catch the %s transport", name, c.kind)
			}
		})
	}
}

// TestBrokenTransport is the child process of TestSuiteFailsBrokenTransports.
func TestBrokenTransport(t *testing.T) {
	kind := os.Getenv("NETMUX_BROKEN")
	if kind == "" {
		t.Skip("run by TestSuiteFailsBrokenTransports")
	}
	opts := []conformance.Option{conformance.WithCheckTimeout(10 * time.Second), conformance.WithScale(4)}
	if kind == "dropbyte" {
		// The default check timeout: the progress timeout must beat it.
		opts = nil
		if d, err := time.ParseDuration(os.Getenv("NETMUX_PROGRESS")); err == nil {
			opts = append(opts, conformance.WithProgressTimeout(d))
		}
	}
	conformance.RunTransport(t, func(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
		c1, c2 := mem.Pipe()
		t.Cleanup(func() {
			c1.Close()
			c2.Close()
		})
		return &broken{Conn: c1, kind: kind}, &broken{Conn: c2, kind: kind}
	}, opts...)
}

// A transport that loses one byte per MiB must fail BulkBothWays within
// seconds, saying which direction stopped and how many bytes went
// missing, not hang until the 2-minute check timeout. The full run uses
// the default 10 s progress timeout; -short sets 2 s.
func TestLostBytesFailFast(t *testing.T) {
	t.Parallel()
	progress := "10s"
	if testing.Short() {
		progress = "2s"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBrokenTransport$/^BulkBothWays$", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), "NETMUX_BROKEN=dropbyte", "NETMUX_PROGRESS="+progress)
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	require.Error(t, err, "the suite passed a transport that loses bytes:\n%s", out)
	assert.Contains(t, string(out), "--- FAIL: TestBrokenTransport/BulkBothWays")
	assert.Regexp(t, `no progress: c[12]→c[12] moved no byte for `+progress+` \([1-9][0-9]* bytes missing\)`, string(out))
	assert.Regexp(t, `c1→c2: sent \d+ and received \d+ of \d+ bytes`, string(out))
	assert.NotContains(t, string(out), "hung for", "the check timeout fired first")
	assert.Less(t, elapsed, time.Minute, "the failure took %v:\n%s", elapsed, out)
	t.Logf("failed after %v:\n%s", elapsed, out)
}

// broken misbehaves in one way: corrupt flips a byte now and then, drop
// loses a write now and then, dropbyte loses one byte per MiB, noeof never
// lets the peer see Close.
type broken struct {
	*mem.Conn
	kind string

	mu      sync.Mutex
	written int
	closed  bool
}

func (b *broken) Write(p []byte) (int, error) {
	b.mu.Lock()
	before := b.written
	b.written += len(p)
	crossed := before/(1<<20) != b.written/(1<<20) // once per MiB
	b.mu.Unlock()
	switch {
	case b.kind == "corrupt" && crossed:
		q := append([]byte(nil), p...)
		q[len(q)/2] ^= 0x40
		return b.Conn.Write(q)
	case b.kind == "drop" && crossed:
		return len(p), nil
	case b.kind == "dropbyte" && crossed:
		q := append(append([]byte(nil), p[:len(p)/2]...), p[len(p)/2+1:]...)
		if _, err := b.Conn.Write(q); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *broken) Read(p []byte) (int, error) {
	n, err := b.Conn.Read(p)
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	return n, err
}

func (b *broken) Close() error {
	if b.kind != "noeof" {
		return b.Conn.Close()
	}
	// Unblock our own Read and Write, but never tell the peer. (The
	// pipe itself is closed at cleanup.)
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.Conn.SetDeadline(time.Unix(1, 0))
	return nil
}
