package mem_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/nettest"

	"github.com/netmux/netmux/transport/mem"
)

// failAfter bounds how long a test waits for something that should happen
// promptly. It is never used to synchronise.
const failAfter = 10 * time.Second

// newPipe returns a pipe that is closed when the test ends.
func newPipe(t *testing.T, opts ...mem.Option) (c1, c2 *mem.Conn) {
	t.Helper()
	c1, c2 = mem.Pipe(opts...)
	t.Cleanup(func() {
		c1.Close()
		c2.Close()
	})
	return c1, c2
}

// requireTimeout checks err the way nettest does (direct type assertion).
func requireTimeout(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	ne, ok := err.(net.Error)
	require.Truef(t, ok, "%T is not a net.Error", err)
	require.True(t, ne.Timeout(), "Timeout() = false for %v", err)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

func TestBasicIO(t *testing.T) {
	c1, c2 := newPipe(t)

	// Writes are buffered: no reader is needed for them to complete.
	n, err := c1.Write([]byte("ping"))
	require.NoError(t, err)
	require.Equal(t, 4, n)
	n, err = c2.Write([]byte("pong!"))
	require.NoError(t, err)
	require.Equal(t, 5, n)
	assert.Equal(t, 4, c2.Buffered())
	assert.Equal(t, 5, c1.Buffered())

	buf := make([]byte, 16)
	n, err = c2.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf[:n]))
	n, err = c1.Read(buf[:2]) // short buffer: partial read
	require.NoError(t, err)
	assert.Equal(t, "po", string(buf[:n]))
	n, err = c1.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ng!", string(buf[:n]))
	assert.Zero(t, c1.Buffered())

	n, err = c1.Read(nil) // zero-length Read does not block
	assert.NoError(t, err)
	assert.Zero(t, n)
	n, err = c1.Write(nil)
	assert.NoError(t, err)
	assert.Zero(t, n)
}

func TestAddrs(t *testing.T) {
	c1, c2 := newPipe(t)
	assert.Equal(t, c1.LocalAddr(), c2.RemoteAddr())
	assert.Equal(t, c2.LocalAddr(), c1.RemoteAddr())
	assert.NotEqual(t, c1.LocalAddr(), c2.LocalAddr())
	assert.Equal(t, "mem", c1.LocalAddr().Network())
	assert.Regexp(t, `^mem:\d+$`, c1.LocalAddr().String())

	a, b := newPipe(t, mem.WithAddrs("client", "server"))
	assert.Equal(t, mem.Addr("client"), a.LocalAddr())
	assert.Equal(t, mem.Addr("server"), a.RemoteAddr())
	assert.Equal(t, "server", b.LocalAddr().String())
	assert.Equal(t, "client", b.RemoteAddr().String())
}

func TestWriteDoesNotRetainSlice(t *testing.T) {
	c1, c2 := newPipe(t)
	p := []byte("hello")
	_, err := c1.Write(p)
	require.NoError(t, err)
	copy(p, "XXXXX")
	got := make([]byte, 5)
	_, err = io.ReadFull(c2, got)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
}

func TestRingWrapAround(t *testing.T) {
	c1, c2 := newPipe(t, mem.WithBufferSize(7))
	var want, got bytes.Buffer
	buf := make([]byte, 7)
	for i := range 100 {
		chunk := bytes.Repeat([]byte{byte(i)}, 1+i%7)
		for c2.Buffered()+len(chunk) > 7 { // make room with odd-sized reads
			n, err := c2.Read(buf[:1+i%5])
			require.NoError(t, err)
			got.Write(buf[:n])
		}
		want.Write(chunk)
		_, err := c1.Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, c1.CloseWrite())
	rest, err := io.ReadAll(c2)
	require.NoError(t, err)
	got.Write(rest)
	assert.Equal(t, want.Bytes(), got.Bytes())
}

func TestBackpressure(t *testing.T) {
	t.Run("Deadline", func(t *testing.T) {
		c1, c2 := newPipe(t, mem.WithBufferSize(16))
		n, err := c1.Write(make([]byte, 10))
		require.NoError(t, err)
		require.Equal(t, 10, n)

		// The buffer is full after 6 more bytes: Write blocks until the
		// deadline and reports the partial count.
		require.NoError(t, c1.SetWriteDeadline(time.Now().Add(20*time.Millisecond)))
		n, err = c1.Write(make([]byte, 10))
		requireTimeout(t, err)
		assert.Equal(t, 6, n)
		assert.Equal(t, 16, c2.Buffered())

		// Draining makes room again.
		require.NoError(t, c1.SetWriteDeadline(time.Time{}))
		_, err = io.ReadFull(c2, make([]byte, 4))
		require.NoError(t, err)
		n, err = c1.Write(make([]byte, 4))
		require.NoError(t, err)
		assert.Equal(t, 4, n)
	})

	t.Run("Synctest", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c1, c2 := mem.Pipe(mem.WithBufferSize(16))
			defer c1.Close()
			defer c2.Close()

			want := make([]byte, 40)
			for i := range want {
				want[i] = byte(i)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				n, err := c1.Write(want)
				assert.NoError(t, err)
				assert.Equal(t, len(want), n)
			}()
			synctest.Wait() // the writer is durably blocked on a full buffer
			select {
			case <-done:
				t.Fatal("Write returned although the buffer is full")
			default:
			}
			require.Equal(t, 16, c2.Buffered())

			got := make([]byte, len(want))
			_, err := io.ReadFull(c2, got)
			require.NoError(t, err)
			<-done
			assert.Equal(t, want, got)
		})
	})
}

func TestConcurrentWritesDoNotInterleave(t *testing.T) {
	c1, c2 := newPipe(t, mem.WithBufferSize(10))
	const writers, size = 8, 1000
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, err := c1.Write(bytes.Repeat([]byte{byte('a' + i)}, size))
			assert.NoError(t, err)
		})
	}
	got := make([]byte, writers*size)
	_, err := io.ReadFull(c2, got)
	require.NoError(t, err)
	wg.Wait()
	for i := 0; i < len(got); i += size {
		require.Equal(t, bytes.Repeat(got[i:i+1], size), got[i:i+size], "write at offset %d interleaved", i)
	}
}

func TestCloseWrite(t *testing.T) {
	c1, c2 := newPipe(t)
	_, err := c1.Write([]byte("request"))
	require.NoError(t, err)
	require.NoError(t, c1.CloseWrite())
	require.NoError(t, c1.CloseWrite()) // idempotent

	got, err := io.ReadAll(c2) // buffered data, then EOF
	require.NoError(t, err)
	assert.Equal(t, "request", string(got))
	n, err := c2.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.True(t, err == io.EOF, "got %v, want exactly io.EOF", err)

	_, err = c1.Write([]byte("x"))
	assert.ErrorIs(t, err, io.ErrClosedPipe)

	// The other direction still works both ways.
	_, err = c2.Write([]byte("response"))
	require.NoError(t, err)
	require.NoError(t, c2.CloseWrite())
	got, err = io.ReadAll(c1)
	require.NoError(t, err)
	assert.Equal(t, "response", string(got))

	require.NoError(t, c1.Close())
	assert.ErrorIs(t, c1.CloseWrite(), net.ErrClosed)
}

func TestClose(t *testing.T) {
	c1, c2 := newPipe(t)
	_, err := c1.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, c1.Close())
	require.NoError(t, c1.Close()) // second Close is a no-op

	// Local operations fail with net.ErrClosed.
	_, err = c1.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = c1.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
	assert.Equal(t, "write", opErr.Op)
	assert.Equal(t, "mem", opErr.Net)
	assert.ErrorIs(t, c1.SetDeadline(time.Now()), net.ErrClosed)
	assert.ErrorIs(t, c1.SetReadDeadline(time.Now()), net.ErrClosed)
	assert.ErrorIs(t, c1.SetWriteDeadline(time.Now()), net.ErrClosed)

	// The peer reads what was buffered, then exactly io.EOF.
	got, err := io.ReadAll(c2)
	require.NoError(t, err)
	assert.Equal(t, "last words", string(got))
	_, err = c2.Read(make([]byte, 1))
	assert.True(t, err == io.EOF, "got %v, want exactly io.EOF", err)

	// The peer's writes fail.
	_, err = c2.Write([]byte("anyone?"))
	assert.ErrorIs(t, err, io.ErrClosedPipe)
	assert.NotErrorIs(t, err, net.ErrClosed)
	assert.Zero(t, c1.Buffered())
}

func TestCloseUnblocksPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1, c2 := mem.Pipe(mem.WithBufferSize(4))
		defer c2.Close()
		var wg sync.WaitGroup
		// c1 blocks in Read (nothing buffered) and in Write (buffer full).
		wg.Go(func() {
			_, err := c1.Read(make([]byte, 1))
			assert.ErrorIs(t, err, net.ErrClosed)
		})
		wg.Go(func() {
			n, err := c1.Write(make([]byte, 10))
			assert.ErrorIs(t, err, net.ErrClosed)
			assert.Equal(t, 4, n)
		})
		synctest.Wait()
		require.NoError(t, c1.Close())
		wg.Wait()

		// The peer still gets what c1 buffered, then EOF.
		got, err := io.ReadAll(c2)
		require.NoError(t, err)
		assert.Len(t, got, 4)
	})
}

func TestPeerCloseUnblocksPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1, c2 := mem.Pipe(mem.WithBufferSize(4))
		defer c2.Close()
		var wg sync.WaitGroup
		// c2 blocks in Read (nothing buffered) and in Write (buffer full).
		wg.Go(func() {
			_, err := c2.Read(make([]byte, 1))
			assert.True(t, err == io.EOF, "got %v, want exactly io.EOF", err)
		})
		wg.Go(func() {
			n, err := c2.Write(make([]byte, 10))
			assert.ErrorIs(t, err, io.ErrClosedPipe)
			assert.Equal(t, 4, n)
		})
		synctest.Wait()
		require.NoError(t, c1.Close())
		wg.Wait()
	})
}

func TestDeadlines(t *testing.T) {
	t.Run("Past", func(t *testing.T) {
		c1, c2 := newPipe(t)
		_, err := c2.Write([]byte("data"))
		require.NoError(t, err)

		require.NoError(t, c1.SetDeadline(time.Now().Add(-time.Second)))
		// Both fail at once, even though data is buffered and there is room.
		_, err = c1.Read(make([]byte, 4))
		requireTimeout(t, err)
		n, err := c1.Write([]byte("x"))
		requireTimeout(t, err)
		assert.Zero(t, n)

		// The zero time clears the deadline.
		require.NoError(t, c1.SetDeadline(time.Time{}))
		got := make([]byte, 4)
		_, err = io.ReadFull(c1, got)
		require.NoError(t, err)
		assert.Equal(t, "data", string(got))
		_, err = c1.Write([]byte("x"))
		require.NoError(t, err)
	})

	t.Run("Present", func(t *testing.T) {
		c1, _ := newPipe(t)
		require.NoError(t, c1.SetReadDeadline(time.Now()))
		_, err := c1.Read(make([]byte, 1))
		requireTimeout(t, err)
	})

	t.Run("Future", func(t *testing.T) {
		c1, _ := newPipe(t, mem.WithBufferSize(1))
		require.NoError(t, c1.SetDeadline(time.Now().Add(20*time.Millisecond)))
		_, err := c1.Read(make([]byte, 1))
		requireTimeout(t, err)
		require.NoError(t, c1.SetWriteDeadline(time.Now().Add(20*time.Millisecond)))
		n, err := c1.Write([]byte("ab"))
		requireTimeout(t, err)
		assert.Equal(t, 1, n)
	})

	t.Run("FakeClock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c1, c2 := mem.Pipe()
			defer c1.Close()
			defer c2.Close()
			start := time.Now()
			require.NoError(t, c1.SetReadDeadline(start.Add(time.Second)))
			_, err := c1.Read(make([]byte, 1))
			requireTimeout(t, err)
			assert.Equal(t, time.Second, time.Since(start))
		})
	})

	t.Run("ChangedWhileBlocked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c1, c2 := mem.Pipe()
			defer c1.Close()
			defer c2.Close()
			start := time.Now()
			require.NoError(t, c1.SetReadDeadline(start.Add(time.Second)))
			done := make(chan error)
			go func() {
				_, err := c1.Read(make([]byte, 1))
				done <- err
			}()
			synctest.Wait()
			// Extend the deadline while Read is blocked: the old timer must not fire.
			require.NoError(t, c1.SetReadDeadline(start.Add(3*time.Second)))
			requireTimeout(t, <-done)
			assert.Equal(t, 3*time.Second, time.Since(start))

			// Clearing it while blocked: Read waits for data instead.
			require.NoError(t, c1.SetReadDeadline(start.Add(4*time.Second)))
			go func() {
				_, err := c1.Read(make([]byte, 1))
				done <- err
			}()
			synctest.Wait()
			require.NoError(t, c1.SetReadDeadline(time.Time{}))
			time.Sleep(10 * time.Second) // fake time
			_, err := c2.Write([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, <-done)

			// Setting a past deadline while blocked wakes the Read at once.
			go func() {
				_, err := c1.Read(make([]byte, 1))
				done <- err
			}()
			synctest.Wait()
			before := time.Now()
			require.NoError(t, c1.SetReadDeadline(before.Add(-time.Second)))
			requireTimeout(t, <-done)
			assert.Equal(t, before, time.Now())
		})
	})

	t.Run("WriteWhileBlocked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c1, c2 := mem.Pipe(mem.WithBufferSize(8))
			defer c1.Close()
			defer c2.Close()
			start := time.Now()
			done := make(chan error)
			go func() {
				n, err := c1.Write(make([]byte, 20))
				assert.Equal(t, 8, n)
				done <- err
			}()
			synctest.Wait()
			require.NoError(t, c1.SetWriteDeadline(start.Add(time.Minute)))
			requireTimeout(t, <-done)
			assert.Equal(t, time.Minute, time.Since(start))
		})
	})
}

func TestLargeConcurrentTransfer(t *testing.T) {
	const size = 32 << 20
	c1, c2 := newPipe(t)
	rng := rand.NewChaCha8([32]byte{1})
	data1, data2 := make([]byte, size), make([]byte, size)
	rng.Read(data1)
	rng.Read(data2)

	// send writes data in random-sized chunks.
	send := func(c *mem.Conn, data []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 0))
		for len(data) > 0 {
			n := min(len(data), 1+rng.IntN(100_000))
			_, err := c.Write(data[:n])
			if !assert.NoError(t, err) {
				return
			}
			data = data[n:]
		}
		assert.NoError(t, c.CloseWrite())
	}
	// recv reads with random-sized buffers until EOF.
	recv := func(c *mem.Conn, want []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 1))
		got := make([]byte, 0, len(want))
		buf := make([]byte, 100_000)
		for {
			n, err := c.Read(buf[:1+rng.IntN(len(buf))])
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if !assert.NoError(t, err) {
				return
			}
		}
		assert.True(t, bytes.Equal(want, got), "data corrupted (got %d bytes, want %d)", len(got), len(want))
	}

	var wg sync.WaitGroup
	wg.Go(func() { send(c1, data1, 1) })
	wg.Go(func() { send(c2, data2, 2) })
	wg.Go(func() { recv(c2, data1, 3) })
	wg.Go(func() { recv(c1, data2, 4) })
	wg.Wait()
}

func TestNoAllocsPerWrite(t *testing.T) {
	c1, c2 := newPipe(t)
	wbuf, rbuf := make([]byte, 1024), make([]byte, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c1.Write(wbuf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c2, rbuf); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestNettest(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []mem.Option
	}{
		{"Default", nil},
		{"SmallBuffer", []mem.Option{mem.WithBufferSize(512)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				a, b := mem.Pipe(tc.opts...)
				stop = func() {
					a.Close()
					b.Close()
				}
				return a, b, stop, nil
			})
		})
	}
}

func BenchmarkPipe(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 32 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c1, c2 := mem.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = io.Copy(io.Discard, c2)
			}()
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := c1.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c1.Close()
			<-done
			c2.Close()
		})
	}
}
