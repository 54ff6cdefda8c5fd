package conformance

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var transportChecks = []check{
	{"BulkBothWays", checkBulkBothWays},
	{"SmallWrites", checkSmallWrites},
	{"CloseReachesPeer", checkCloseReachesPeer},
	{"CloseUnblocksRead", checkCloseUnblocksRead},
	{"DoubleClose", checkDoubleClose},
}

// randomBytes returns n seeded pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc908))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		b[i], b[i+1], b[i+2], b[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		b[i+4], b[i+5], b[i+6], b[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	return b[:n]
}

// checkBulkBothWays sends 32 MiB of random bytes each way at once. A
// direction that stops moving fails the check after the progress timeout,
// with its byte counts, rather than at the check timeout.
func checkBulkBothWays(e *env) {
	c1, c2 := e.pipe()
	n := e.size(32 << 20)
	a, b := randomBytes(1, n), randomBytes(2, n)
	type result struct {
		sum [32]byte
		n   int
		err error
	}
	recv := func(r io.Reader) <-chan result {
		ch := make(chan result, 1)
		go func() {
			h := sha256.New()
			got, err := io.CopyN(h, r, int64(n))
			var s [32]byte
			copy(s[:], h.Sum(nil))
			ch <- result{s, int(got), err}
		}()
		return ch
	}
	send := func(w io.Writer, p []byte) <-chan error {
		ch := make(chan error, 1)
		go func() {
			for len(p) > 0 { // a mix of write sizes
				k := min(len(p), 1+len(p)%(64<<10))
				if _, err := w.Write(p[:k]); err != nil {
					ch <- err
					return
				}
				p = p[k:]
			}
			ch <- nil
		}()
		return ch
	}
	f1, f2 := newFlow("c1→c2", n), newFlow("c2→c1", n)
	defer e.watchProgress(f1, f2)()
	r1, r2 := recv(f1.reader(c2)), recv(f2.reader(c1))
	s1, s2 := send(f1.writer(c1), a), send(f2.writer(c2), b)
	require.NoError(e, <-s1)
	require.NoError(e, <-s2)
	got1, got2 := <-r1, <-r2
	require.NoError(e, got1.err, "%v", f1)
	require.NoError(e, got2.err, "%v", f2)
	assert.Equal(e, sha256.Sum256(a), got1.sum, "c1→c2 bytes differ")
	assert.Equal(e, sha256.Sum256(b), got2.sum, "c2→c1 bytes differ")
}

// checkSmallWrites: a small write must arrive on its own, without more
// data behind it or a close.
func checkSmallWrites(e *env) {
	c1, c2 := e.pipe()
	for i := range 10 {
		msg := []byte{byte(i), 'x', 'y'}
		_, err := c1.Write(msg)
		require.NoError(e, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(c2, got)
		require.NoError(e, err)
		require.Equal(e, msg, got)
		_, err = c2.Write(got) // and back
		require.NoError(e, err)
		_, err = io.ReadFull(c1, got)
		require.NoError(e, err)
		require.Equal(e, msg, got)
	}
}

// checkCloseReachesPeer: closing one end ends the other's Read.
func checkCloseReachesPeer(e *env) {
	if e.opts.noCloseEOF != "" {
		e.Skip(e.opts.noCloseEOF)
	}
	c1, c2 := e.pipe()
	_, err := c1.Write([]byte("last"))
	require.NoError(e, err)
	require.NoError(e, c1.Close())
	got, err := io.ReadAll(c2)
	if err != nil {
		e.Logf("Read after the peer closed ended with %v (an error is acceptable)", err)
	}
	assert.True(e, bytes.HasPrefix([]byte("last"), got), "bytes before the close: %q", got)
}

// checkCloseUnblocksRead: Close unblocks a pending Read on the same end.
func checkCloseUnblocksRead(e *env) {
	c1, _ := e.pipe()
	done := make(chan error, 1)
	go func() {
		_, err := c1.Read(make([]byte, 1))
		done <- err
	}()
	select {
	case <-done:
		e.Fatal("Read returned before anything was sent or closed")
	case <-time.After(50 * time.Millisecond): // give Read time to block (a failure bound, not a sync)
	}
	require.NoError(e, c1.Close())
	require.Error(e, <-done)
}

// checkDoubleClose: closing twice is safe.
func checkDoubleClose(e *env) {
	c1, c2 := e.pipe()
	assert.NoError(e, c1.Close())
	assert.NotPanics(e, func() { c1.Close() })
	assert.NoError(e, c2.Close())
	assert.NotPanics(e, func() { c2.Close() })
}
