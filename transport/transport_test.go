package transport_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/internal/parked"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testTimeout bounds what must happen at once; generous, because other
// tests share the machine.
const testTimeout = 10 * time.Second

var listenerN atomic.Int64

func memListener(t *testing.T) (*mem.Listener, string) {
	name := fmt.Sprintf("%s-%d", t.Name(), listenerN.Add(1))
	ln, err := mem.Listen(name)
	require.NoError(t, err)
	return ln, name
}

func echoHandler(sess *core.Session) {
	for {
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			return
		}
		go func() {
			io.Copy(st, st)
			st.Close()
		}()
	}
}

func TestDialAndServe(t *testing.T) {
	ln, addr := memListener(t)
	srv := &transport.Server{Config: core.DefaultConfig(), Handler: echoHandler}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := transport.Dial(ctx, &mem.Dialer{}, addr, core.DefaultConfig())
	require.NoError(t, err)
	st, err := sess.OpenStream(ctx)
	require.NoError(t, err)
	_, err = st.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, st.CloseWrite())
	got, err := io.ReadAll(st)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))

	require.NoError(t, srv.Shutdown(ctx))
	require.ErrorIs(t, <-served, transport.ErrServerClosed)
	<-sess.Done() // the server's close reached the client
	require.NoError(t, sess.Close())
}

// A client that connects and never sends its preface neither blocks the
// next client nor lingers past the preface timeout.
func TestSilentClientDoesNotDelayOthers(t *testing.T) {
	const handshake = "github.com/netmux/netmux/transport.(*SessionListener).handshake"

	t.Run("NextClientServed", func(t *testing.T) {
		// The preface timeout outlasts the test: a listener that read
		// prefaces one at a time would never reach the second client.
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		ln, addr := memListener(t)
		sl, err := transport.NewListener(ln, core.DefaultConfig(), transport.WithPrefaceTimeout(time.Hour))
		require.NoError(t, err)
		defer sl.Close()
		silent, err := (&mem.Dialer{}).Dial(ctx, addr)
		require.NoError(t, err)
		defer silent.Close()
		require.NoError(t, parked.Wait(testTimeout, handshake), "the listener waits for the silent client's preface")

		type result struct {
			s   *core.Session
			err error
		}
		dialed, accepted := make(chan result, 1), make(chan result, 1)
		go func() {
			s, err := transport.Dial(ctx, &mem.Dialer{}, addr, core.DefaultConfig())
			dialed <- result{s, err}
		}()
		go func() {
			s, err := sl.Accept()
			accepted <- result{s, err}
		}()
		var srv result
		select {
		case srv = <-accepted:
		case <-time.After(testTimeout):
			t.Fatalf("the second client was not served in %v: it waits behind the silent one", testTimeout)
		}
		require.NoError(t, srv.err)
		srvSess := srv.s
		cl := <-dialed
		require.NoError(t, cl.err)
		client := cl.s
		assert.Equal(t, 1, parked.Count(handshake), "the silent client is still waiting for its preface")
		client.Close()
		srvSess.Close()
	})

	t.Run("SilentClosedAtTimeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		ln, addr := memListener(t)
		sl, err := transport.NewListener(ln, core.DefaultConfig(), transport.WithPrefaceTimeout(200*time.Millisecond))
		require.NoError(t, err)
		defer sl.Close()
		silent, err := (&mem.Dialer{}).Dial(ctx, addr)
		require.NoError(t, err)
		defer silent.Close()
		start := time.Now()
		_, err = silent.Read(make([]byte, 1)) // ctx bounds the test
		require.Error(t, err, "the silent connection is closed at its preface timeout")
		assert.Less(t, time.Since(start), testTimeout/2, "closed long after its 200 ms preface timeout")
	})
}

func TestBadPrefaceIsDropped(t *testing.T) {
	ln, addr := memListener(t)
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	require.NoError(t, err)
	defer sl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := (&mem.Dialer{}).Dial(ctx, addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	require.NoError(t, err)
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err, "the listener closes a connection that is not netmux")
}

func TestAcceptAfterClose(t *testing.T) {
	ln, _ := memListener(t)
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, sl.Close())
	_, err = sl.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}
