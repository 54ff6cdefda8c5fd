package mem_test

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/transport/mem"
)

// listen returns a Listener that is closed when the test ends.
func listen(t *testing.T, name string) *mem.Listener {
	t.Helper()
	l, err := mem.Listen(name)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestListenDialAccept(t *testing.T) {
	l := listen(t, "TestListenDialAccept")
	assert.Equal(t, mem.Addr("TestListenDialAccept"), l.Addr())
	assert.Equal(t, "mem", l.Addr().Network())

	var d mem.Dialer
	rwc, err := d.Dial(context.Background(), "TestListenDialAccept")
	require.NoError(t, err)
	client := rwc.(*mem.Conn)
	defer client.Close()

	rwc, err = l.Accept()
	require.NoError(t, err)
	server := rwc.(*mem.Conn)
	defer server.Close()

	assert.Equal(t, l.Addr(), client.RemoteAddr())
	assert.Equal(t, l.Addr(), server.LocalAddr())
	assert.Equal(t, client.LocalAddr(), server.RemoteAddr())

	_, err = client.Write([]byte("hi"))
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = io.ReadFull(server, buf)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(buf))
	_, err = server.Write([]byte("yo"))
	require.NoError(t, err)
	_, err = io.ReadFull(client, buf)
	require.NoError(t, err)
	assert.Equal(t, "yo", string(buf))
}

func TestListenNameInUse(t *testing.T) {
	l := listen(t, "TestListenNameInUse")
	_, err := mem.Listen("TestListenNameInUse")
	require.ErrorIs(t, err, mem.ErrAddrInUse)

	// Close releases the name.
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	listen(t, "TestListenNameInUse")

	_, err = mem.Listen("")
	require.Error(t, err)
}

func TestDialRefused(t *testing.T) {
	var d mem.Dialer
	_, err := d.Dial(context.Background(), "TestDialRefused")
	require.ErrorIs(t, err, mem.ErrConnRefused)

	l := listen(t, "TestDialRefused")
	require.NoError(t, l.Close())
	_, err = d.Dial(context.Background(), "TestDialRefused")
	require.ErrorIs(t, err, mem.ErrConnRefused)
}

func TestDialBufferSize(t *testing.T) {
	l := listen(t, "TestDialBufferSize")
	d := mem.Dialer{BufferSize: 8}
	rwc, err := d.Dial(context.Background(), "TestDialBufferSize")
	require.NoError(t, err)
	c := rwc.(*mem.Conn)
	defer c.Close()
	rwc, err = l.Accept()
	require.NoError(t, err)
	defer rwc.Close()

	require.NoError(t, c.SetWriteDeadline(time.Now().Add(20*time.Millisecond)))
	n, err := c.Write(make([]byte, 10))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Equal(t, 8, n)
}

// withFullBacklog runs f in a synctest bubble with a Listener whose accept
// queue is full; queued holds the client ends of the queued connections.
func withFullBacklog(t *testing.T, f func(t *testing.T, l *mem.Listener, queued []io.ReadWriteCloser)) {
	synctest.Test(t, func(t *testing.T) {
		l := listen(t, t.Name())
		var d mem.Dialer
		queued := make([]io.ReadWriteCloser, mem.Backlog)
		for i := range queued {
			c, err := d.Dial(context.Background(), t.Name())
			require.NoError(t, err)
			defer c.Close()
			queued[i] = c
		}
		f(t, l, queued)
	})
}

// dialAsync dials name in a new goroutine and reports the result on the
// returned channel.
func dialAsync(ctx context.Context, name string) <-chan error {
	done := make(chan error, 1)
	go func() {
		var d mem.Dialer
		c, err := d.Dial(ctx, name)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	return done
}

// requireBlocked fails if done has a result after all goroutines in the
// bubble have blocked.
func requireBlocked(t *testing.T, done <-chan error) {
	t.Helper()
	synctest.Wait()
	select {
	case err := <-done:
		t.Fatalf("Dial returned %v with a full backlog", err)
	default:
	}
}

func TestDialFullBacklog(t *testing.T) {
	t.Run("Canceled", func(t *testing.T) {
		withFullBacklog(t, func(t *testing.T, _ *mem.Listener, _ []io.ReadWriteCloser) {
			ctx, cancel := context.WithCancel(context.Background())
			done := dialAsync(ctx, t.Name())
			requireBlocked(t, done)
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
		})
	})

	t.Run("Timeout", func(t *testing.T) {
		withFullBacklog(t, func(t *testing.T, _ *mem.Listener, _ []io.ReadWriteCloser) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			var d mem.Dialer
			_, err := d.Dial(ctx, t.Name())
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, time.Second, time.Since(start))
		})
	})

	t.Run("AlreadyCanceled", func(t *testing.T) {
		withFullBacklog(t, func(t *testing.T, _ *mem.Listener, _ []io.ReadWriteCloser) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var d mem.Dialer
			_, err := d.Dial(ctx, t.Name())
			require.ErrorIs(t, err, context.Canceled)
		})
	})

	t.Run("AcceptMakesRoom", func(t *testing.T) {
		withFullBacklog(t, func(t *testing.T, l *mem.Listener, _ []io.ReadWriteCloser) {
			done := dialAsync(context.Background(), t.Name())
			requireBlocked(t, done)
			c, err := l.Accept()
			require.NoError(t, err)
			require.NoError(t, c.Close())
			require.NoError(t, <-done)
		})
	})

	t.Run("CloseUnblocks", func(t *testing.T) {
		withFullBacklog(t, func(t *testing.T, l *mem.Listener, queued []io.ReadWriteCloser) {
			done := dialAsync(context.Background(), t.Name())
			requireBlocked(t, done)
			require.NoError(t, l.Close())
			require.ErrorIs(t, <-done, mem.ErrConnRefused)

			// Close also closed the queued, never accepted connections.
			for _, c := range queued {
				n, err := c.Read(make([]byte, 1))
				assert.Zero(t, n)
				require.True(t, err == io.EOF, "got %v, want io.EOF", err)
			}
		})
	})
}

func TestCloseUnblocksAccept(t *testing.T) {
	l := listen(t, "TestCloseUnblocksAccept")
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			c, err := l.Accept()
			assert.Nil(t, c)
			assert.ErrorIs(t, err, net.ErrClosed)
		})
	}
	require.NoError(t, l.Close())
	wg.Wait()

	_, err := l.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}

func TestCloseUnblocksAcceptSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := listen(t, "TestCloseUnblocksAcceptSynctest")
		done := make(chan error)
		go func() {
			_, err := l.Accept()
			done <- err
		}()
		synctest.Wait() // Accept is durably blocked
		select {
		case err := <-done:
			t.Fatalf("Accept returned %v before Close", err)
		default:
		}
		require.NoError(t, l.Close())
		require.ErrorIs(t, <-done, net.ErrClosed)
	})
}

func TestConcurrentDialClose(t *testing.T) {
	// Dials racing with Close either fail or return a Conn that sees EOF
	// (or data) – never one that blocks forever.
	for range 50 {
		l, err := mem.Listen("TestConcurrentDialClose")
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				var d mem.Dialer
				c, err := d.Dial(context.Background(), "TestConcurrentDialClose")
				if err != nil {
					assert.ErrorIs(t, err, mem.ErrConnRefused)
					return
				}
				defer c.Close()
				_, err = io.ReadAll(c) // must end: accepted-and-closed or drained by Close
				assert.NoError(t, err)
			})
		}
		wg.Go(func() {
			if c, err := l.Accept(); err == nil {
				c.Close()
			}
		})
		require.NoError(t, l.Close())
		wg.Wait()
	}
}
