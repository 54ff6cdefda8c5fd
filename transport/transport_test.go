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
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
	ln, addr := memListener(t)
	sl, err := transport.NewListener(ln, core.DefaultConfig(), transport.WithPrefaceTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer sl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	silent, err := (&mem.Dialer{}).Dial(ctx, addr)
	require.NoError(t, err)
	defer silent.Close()

	dialed := make(chan *core.Session, 1)
	go func() {
		s, err := transport.Dial(ctx, &mem.Dialer{}, addr, core.DefaultConfig())
		assert.NoError(t, err)
		dialed <- s
	}()
	srvSess, err := sl.Accept()
	require.NoError(t, err)
	client := <-dialed
	require.NotNil(t, client)

	// The silent connection is closed at its preface timeout.
	_, err = silent.Read(make([]byte, 1))
	require.Error(t, err)
	client.Close()
	srvSess.Close()
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
