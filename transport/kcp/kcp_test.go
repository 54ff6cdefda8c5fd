package kcp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/kcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kcpgo "github.com/xtaci/kcp-go/v5"
)

var (
	_ transport.Dialer   = kcp.Dialer{}
	_ transport.Listener = (*kcp.Listener)(nil)
)

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// serve starts a netmux server over a KCP listener on 127.0.0.1:0 that
// echoes every stream of every session. It is shut down by t.Cleanup.
func serve(t *testing.T, opts kcp.Options, cfg core.Config) (addr string) {
	t.Helper()
	ln, err := kcp.Listen("127.0.0.1:0", opts)
	require.NoError(t, err)
	srv := &transport.Server{Config: cfg, Handler: func(s *core.Session) {
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			st, err := s.AcceptStream(context.Background())
			if err != nil {
				return
			}
			wg.Go(func() {
				defer st.Close()
				if _, err := io.Copy(st, st); err == nil {
					st.CloseWrite()
				}
			})
		}
	}}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.ErrorIs(t, <-served, transport.ErrServerClosed)
	})
	return ln.Addr().String()
}

// echo round-trips data over a new stream of sess.
func echo(ctx context.Context, sess *core.Session, data []byte) error {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(data)
		if err == nil {
			err = st.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(st)
	if err := errors.Join(err, <-werr); err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return errors.New("echo differs")
	}
	return nil
}

// testEcho runs sessions concurrent sessions of streams concurrent echo
// streams of size bytes each through one listener.
func testEcho(t *testing.T, opts kcp.Options, sessions, streams, size int) {
	addr := serve(t, opts, core.DefaultConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			sess, err := transport.Dial(ctx, kcp.Dialer{Options: opts}, addr, core.DefaultConfig())
			if !assert.NoError(t, err) {
				return
			}
			defer sess.Close()
			var swg sync.WaitGroup
			for j := range streams {
				swg.Go(func() {
					assert.NoError(t, echo(ctx, sess, randomBytes(uint64(i*100+j), size)))
				})
			}
			swg.Wait()
		})
	}
	wg.Wait()
}

func TestEcho(t *testing.T) {
	testEcho(t, kcp.Options{}, 2, 4, 256<<10)
}

// TestEchoAESFEC runs four sessions at once through one listener, so
// that the listener's sessions encrypt concurrently. kcp-go hands them
// one block crypt whose Encrypt uses a scratch buffer inside it: shared,
// it corrupts packets (dozens of checksum failures in this test; the
// race detector cannot see it, the buffer is written by assembly). The
// adapter gives each call its own instance, so none may fail.
func TestEchoAESFEC(t *testing.T) {
	key := sha256.Sum256([]byte("netmux kcp test key"))
	before := atomic.LoadUint64(&kcpgo.DefaultSnmp.InCsumErrors)
	testEcho(t, kcp.Options{Key: key[:], DataShards: 10, ParityShards: 3}, 4, 4, 256<<10)
	assert.Zero(t, atomic.LoadUint64(&kcpgo.DefaultSnmp.InCsumErrors)-before, "packets failed their checksum")
}

// TestGracefulClose is the lossless-close proof over KCP: 20 times in a
// row the client writes 1 MiB, closes the stream and the session at
// once, and the server reads every byte. KCP's own Close discards
// unsent data; the session's GoAway|FIN handshake is what makes this
// pass, with or without the adapter's linger as a safety net.
func TestGracefulClose(t *testing.T) {
	t.Run("linger", func(t *testing.T) { testGracefulClose(t, kcp.Options{}) })
	// Without the adapter's linger, the handshake alone must suffice.
	t.Run("no linger", func(t *testing.T) { testGracefulClose(t, kcp.Options{Linger: -1}) })
}

func testGracefulClose(t *testing.T, opts kcp.Options) {
	ln, err := kcp.Listen("127.0.0.1:0", opts)
	require.NoError(t, err)
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	require.NoError(t, err)
	defer sl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for i := range 20 {
		data := randomBytes(uint64(i), 1<<20)
		client, err := transport.Dial(ctx, kcp.Dialer{Options: opts}, ln.Addr().String(), core.DefaultConfig())
		require.NoError(t, err)
		server, err := sl.Accept()
		require.NoError(t, err)

		closed := make(chan error, 1)
		go func() {
			st, err := client.OpenStream(ctx)
			if err == nil {
				_, err = st.Write(data)
			}
			if err == nil {
				err = st.Close()
			}
			if err == nil {
				err = client.Close() // at once: nobody waits for the reader
			}
			closed <- err
		}()
		st, err := server.AcceptStream(ctx)
		require.NoError(t, err, "round %d", i)
		got, err := io.ReadAll(st)
		require.NoError(t, err, "round %d", i)
		require.NoError(t, <-closed, "round %d", i)
		require.Equal(t, len(data), len(got), "round %d: bytes lost at close", i)
		require.Equal(t, sha256.Sum256(data), sha256.Sum256(got), "round %d", i)
		<-server.Done()
		require.ErrorIs(t, server.Err(), core.ErrSessionClosed, "round %d", i)
		require.NotErrorIs(t, server.Err(), core.ErrKeepaliveTimeout, "round %d", i)
		server.Close()
	}
}

// TestCloseLingers: raw KCP, no netmux. Data written just before Close
// still arrives, because Close keeps the session alive for the linger.
// (kcp-go's own Close lost all of 64 KiB written right before it.)
func TestCloseLingers(t *testing.T) {
	for i := range 5 {
		c1, c2 := pipe(t, kcp.Options{})
		data := randomBytes(uint64(i), 64<<10)
		_, err := c1.Write(data)
		require.NoError(t, err)
		require.NoError(t, c1.Close())
		got := make([]byte, len(data))
		_, err = io.ReadFull(c2, got)
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
}

// TestConnClose: Close unblocks a pending Read and a Write blocked on a
// full window; afterwards everything fails with net.ErrClosed; closing
// twice is safe.
func TestConnClose(t *testing.T) {
	small := kcp.Options{SendWindow: 16, ReceiveWindow: 16}
	c1, _ := pipe(t, small) // nobody reads c2: c1's window fills
	readErr, writeErr := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := c1.Read(make([]byte, 1))
		readErr <- err
	}()
	go func() {
		_, err := c1.Write(make([]byte, 8<<20))
		writeErr <- err
	}()
	select {
	case err := <-writeErr:
		t.Fatalf("8 MiB fitted in a 16-packet window: %v", err)
	case err := <-readErr:
		t.Fatalf("Read returned with nothing sent: %v", err)
	case <-time.After(100 * time.Millisecond): // a failure bound, not synchronisation
	}
	require.NoError(t, c1.Close())
	assert.ErrorIs(t, <-readErr, net.ErrClosed)
	assert.ErrorIs(t, <-writeErr, net.ErrClosed)
	_, err := c1.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = c1.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.ErrorIs(t, c1.Close(), net.ErrClosed)
}

func TestAddrs(t *testing.T) {
	c1, c2 := pipe(t, kcp.Options{})
	type addrs interface {
		LocalAddr() net.Addr
		RemoteAddr() net.Addr
	}
	a, b := c1.(addrs), c2.(addrs)
	// The dialer's socket is bound to the unspecified address.
	assert.Equal(t, a.LocalAddr().(*net.UDPAddr).Port, b.RemoteAddr().(*net.UDPAddr).Port)
	assert.Equal(t, b.LocalAddr().String(), a.RemoteAddr().String())
	assert.Equal(t, "udp", a.LocalAddr().Network())
}

// TestListenerClose: Close unblocks Accept and refuses new sessions, but
// a session accepted before keeps working over the shared socket.
func TestListenerClose(t *testing.T) {
	ln, err := kcp.Listen("127.0.0.1:0", kcp.Options{})
	require.NoError(t, err)
	c1, err := kcp.Dialer{}.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	defer c1.Close()
	_, err = c1.Write([]byte("a"))
	require.NoError(t, err)
	c2, err := ln.Accept()
	require.NoError(t, err)
	defer c2.Close()

	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	require.NoError(t, ln.Close())
	assert.ErrorIs(t, <-accepted, net.ErrClosed)
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.ErrorIs(t, ln.Close(), net.ErrClosed)

	// The accepted session still works both ways.
	_, err = c1.Write([]byte("b"))
	require.NoError(t, err)
	got := make([]byte, 2)
	_, err = io.ReadFull(c2, got)
	require.NoError(t, err)
	assert.Equal(t, "ab", string(got))
	_, err = c2.Write([]byte("c"))
	require.NoError(t, err)
	_, err = io.ReadFull(c1, got[:1])
	require.NoError(t, err)
	assert.Equal(t, "c", string(got[:1]))

	// A new client is refused: nothing ever answers it.
	c3, err := kcp.Dialer{}.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	defer c3.Close()
	_, err = c3.Write([]byte("late"))
	require.NoError(t, err)
}

// countingListener reports each connection the inner Listener returns
// and each Close of one.
type countingListener struct {
	transport.Listener
	accepted chan struct{}
	closed   chan struct{}
}

func (l *countingListener) Accept() (io.ReadWriteCloser, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted <- struct{}{}
	return &closeSignal{ReadWriteCloser: c, closed: l.closed}, nil
}

type closeSignal struct {
	io.ReadWriteCloser
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignal) Close() error {
	err := c.ReadWriteCloser.Close()
	c.once.Do(func() { c.closed <- struct{}{} })
	return err
}

// preface is a netmux version-1 client preface: a Ping SYN.
var preface = []byte{1, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}

// TestGhostSession: after the server drops a session, the client's late
// packets make kcp-go create a new session with the same conversation
// (a ghost). It never yields a netmux preface, so transport.NewListener
// drops it and Accept never returns it.
func TestGhostSession(t *testing.T) {
	ln, err := kcp.Listen("127.0.0.1:0", kcp.Options{})
	require.NoError(t, err)
	cl := &countingListener{Listener: ln, accepted: make(chan struct{}, 4), closed: make(chan struct{}, 4)}
	cfg := core.DefaultConfig()
	cfg.CloseTimeout = 100 * time.Millisecond // the raw client never answers GoAway
	sl, err := transport.NewListener(cl, cfg, transport.WithPrefaceTimeout(300*time.Millisecond))
	require.NoError(t, err)
	defer sl.Close()

	raw, err := kcp.Dialer{}.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Write(preface)
	require.NoError(t, err)
	sess, err := sl.Accept()
	require.NoError(t, err)
	<-cl.accepted
	sess.Close() // the server drops its KCP session
	<-cl.closed

	_, err = raw.Write([]byte("late bytes after the server closed"))
	require.NoError(t, err)
	<-cl.accepted // the ghost
	<-cl.closed   // dropped: no preface before the timeout

	got := make(chan *core.Session, 1)
	go func() {
		s, _ := sl.Accept()
		got <- s
	}()
	require.NoError(t, sl.Close())
	assert.Nil(t, <-got, "the ghost became a session")
}

func TestOptionsValidate(t *testing.T) {
	assert.NoError(t, kcp.Options{}.Validate())
	assert.NoError(t, kcp.Options{Key: make([]byte, 16), DataShards: 10, ParityShards: 3, MTU: 1500}.Validate())
	for name, o := range map[string]kcp.Options{
		"key length":    {Key: make([]byte, 15)},
		"empty key":     {Key: []byte{}},
		"data only":     {DataShards: 10},
		"parity only":   {ParityShards: 3},
		"many shards":   {DataShards: 200, ParityShards: 100},
		"negative":      {DataShards: -1, ParityShards: -1},
		"MTU too big":   {MTU: 1501},
		"MTU too small": {MTU: 60, Key: make([]byte, 32)},
		"interval":      {Interval: time.Millisecond},
		"window":        {SendWindow: -1},
	} {
		assert.Error(t, o.Validate(), name)
		_, err := kcp.Listen("127.0.0.1:0", o)
		assert.Error(t, err, name)
		_, err = kcp.Dialer{Options: o}.Dial(context.Background(), "127.0.0.1:9")
		assert.Error(t, err, name)
	}
}

func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := kcp.Dialer{}.Dial(ctx, "127.0.0.1:9")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = kcp.Dialer{}.Dial(context.Background(), "no port")
	assert.Error(t, err)

	// KCP has no handshake: Dial succeeds with nobody listening, and
	// transport.Dial fails when the first ping goes unanswered.
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer ln.Close() // a silent UDP socket
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cfg := core.DefaultConfig()
	cfg.CloseTimeout = 100 * time.Millisecond // nobody answers the GoAway either
	_, err = transport.Dial(ctx, kcp.Dialer{}, ln.LocalAddr().String(), cfg)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// BenchmarkSessionEcho measures one stream of one session over KCP on
// loopback: 32 KiB writes echoed back at once; bytes/s counts one
// direction.
func BenchmarkSessionEcho(b *testing.B) {
	key := sha256.Sum256([]byte("netmux kcp bench key"))
	b.Run("plain", func(b *testing.B) { benchEcho(b, kcp.Options{}) })
	b.Run("AES+FEC10/3", func(b *testing.B) {
		benchEcho(b, kcp.Options{Key: key[:], DataShards: 10, ParityShards: 3})
	})
}

func benchEcho(b *testing.B, opts kcp.Options) {
	ln, err := kcp.Listen("127.0.0.1:0", opts)
	require.NoError(b, err)
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	require.NoError(b, err)
	defer sl.Close()
	ctx := context.Background()
	client, err := transport.Dial(ctx, kcp.Dialer{Options: opts}, ln.Addr().String(), core.DefaultConfig())
	require.NoError(b, err)
	defer client.Close()
	server, err := sl.Accept()
	require.NoError(b, err)
	defer server.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, err := server.AcceptStream(ctx)
		if err != nil {
			return
		}
		io.Copy(st, st)
		st.Close()
	}()
	st, err := client.OpenStream(ctx)
	require.NoError(b, err)

	const size = 16 << 20
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		werr := make(chan error, 1)
		go func() {
			for sent := 0; sent < size; sent += len(buf) {
				if _, err := st.Write(buf); err != nil {
					werr <- err
					return
				}
			}
			werr <- nil
		}()
		_, err := io.CopyN(io.Discard, st, size)
		require.NoError(b, err)
		require.NoError(b, <-werr)
	}
	b.StopTimer()
	st.CloseWrite()
	io.Copy(io.Discard, st)
	<-done
}
