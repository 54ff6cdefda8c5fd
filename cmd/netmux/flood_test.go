package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/kcp"
	"github.com/netmux/netmux/transport/quic"
	"github.com/netmux/netmux/transport/tcp"
	nmtls "github.com/netmux/netmux/transport/tls"
	"github.com/netmux/netmux/transport/ws"
)

// silentFlood opens n connections that send nothing (or, over KCP, one
// byte: a KCP session exists only once a packet arrives) and returns a
// function that closes them.
func silentFlood(t *testing.T, scheme, addr string, n int) func() {
	t.Helper()
	conns := make([]io.Closer, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 { // a few at a time, so the accept backlog keeps up
		wg.Go(func() {
			for i := range next {
				c, err := silentConn(scheme, addr)
				if assert.NoError(t, err) {
					conns[i] = c
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}
}

func silentConn(scheme, addr string) (io.Closer, error) {
	switch scheme {
	case "quic":
		// A QUIC connection that never opens its stream.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		qc, err := quicgo.DialAddr(ctx, addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{quic.ALPN}}, nil)
		if err != nil {
			return nil, err
		}
		return closerFunc(func() error { return qc.CloseWithError(0, "") }), nil
	case "kcp":
	default:
		return net.DialTimeout("tcp", addr, 10*time.Second)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	// A KCP PUSH segment (no encryption, no FEC) carrying one byte:
	// conv, cmd, frg, wnd, ts, sn, una, len, data, little-endian.
	seg := make([]byte, 25)
	binary.LittleEndian.PutUint32(seg, 0x4e4d5801)
	seg[4] = 81 // IKCP_CMD_PUSH
	binary.LittleEndian.PutUint16(seg[6:], 128)
	binary.LittleEndian.PutUint32(seg[20:], 1)
	seg[24] = 'N'
	_, err = c.Write(seg)
	return c, err
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// honestDialer is what a forward client with the right token dials with.
func honestDialer(t *testing.T, scheme string, pki *testPKI) transport.Dialer {
	t.Helper()
	token := []byte(goodToken)
	switch scheme {
	case "tls", "wss":
		pem, err := os.ReadFile(pki.ca)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(pem))
		cfg := &tls.Config{RootCAs: pool}
		if scheme == "wss" {
			return authDialer{Dialer: ws.Dialer{TLSConfig: cfg}, token: token}
		}
		return authDialer{Dialer: nmtls.Dialer{Config: cfg}, token: token}
	case "ws":
		return authDialer{Dialer: ws.Dialer{}, token: token}
	case "kcp":
		return authDialer{Dialer: kcp.Dialer{}, token: token}
	case "quic":
		pem, err := os.ReadFile(pki.ca)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(pem))
		return authDialer{Dialer: quic.Dialer{TLSConfig: &tls.Config{RootCAs: pool}}, token: token}
	}
	return authDialer{Dialer: tcp.Dialer{}, token: token}
}

// TestForwardServerSilentFlood floods a forward server (with a token)
// with connections that never authenticate: its goroutines and heap stay
// bounded by the handshake limit, and a client with the token still gets
// a session within a second.
func TestForwardServerSilentFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections per carrier")
	}
	t.Setenv(tokenEnv, "")
	pki := newTestPKI(t)
	good := tokenFile(t, goodToken)
	for _, tc := range []struct {
		scheme string
		flood  int
		// goroutines allowed per connection the listener holds in its
		// handshake, beyond the test's own: 1 (the handshake), 2 over
		// KCP (kcp-go runs a sender per session).
		perConn int
	}{
		{"tcp", 10_000, 1},
		{"tls", 10_000, 1},
		{"ws", 10_000, 1},  // held by net/http before the upgrade
		{"wss", 10_000, 1}, // the same, TLS never started
		{"kcp", 10_000, 2},
		// Each QUIC connection is a full handshake on both sides, and the
		// test's own side keeps goroutines for each: fewer, and the
		// goroutine bound includes the flooder's.
		{"quic", 1_000, 4},
	} {
		scheme, flood := tc.scheme, tc.flood
		t.Run(scheme, func(t *testing.T) {
			flags := []string{"--cert", pki.serverCert, "--key", pki.serverKey}
			if scheme == "kcp" || scheme == "tcp" || scheme == "ws" {
				flags = nil
			}
			listen := scheme + "://127.0.0.1:0"
			if scheme == "ws" || scheme == "wss" {
				listen += "/tunnel"
			}
			srv := startCommand(t, "", append([]string{"forward", "server", "--listen", listen,
				"--public", "127.0.0.1:0", "--token-file", good}, flags...)...)
			ep, err := parseEndpoint(waitMatchListening(t, srv))
			require.NoError(t, err)

			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			base := runtime.NumGoroutine()
			var closeFlood func()
			peak := peakGoroutines(func() { closeFlood = silentFlood(t, scheme, ep.host, flood) })
			defer closeFlood()
			runtime.GC()
			var during runtime.MemStats
			runtime.ReadMemStats(&during)

			// The flood is in place once the server has accepted it: the
			// honest client then meets a server whose handshake slots are
			// all taken, not a kernel queue still full of the flood.
			if scheme != "kcp" && scheme != "quic" {
				waitAcceptQueueEmpty(t, ep.host)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d := honestDialer(t, scheme, pki)
			addr := ep.host
			if ep.isWebSocket() {
				addr = ep.String()
			}
			start := time.Now()
			sess, err := transport.Dial(ctx, d, addr, core.DefaultConfig())
			elapsed := time.Since(start)
			require.NoError(t, err)
			sess.Close()

			t.Logf("%s: %d silent connections: at most %d goroutines (+%d), heap %.1f MiB (+%.1f MiB), "+
				"stacks %.1f MiB (+%.1f MiB); an honest client's session in %v", scheme, flood,
				peak, peak-base, mib(during.HeapInuse), mibDelta(during.HeapInuse, before.HeapInuse),
				mib(during.StackInuse), mibDelta(during.StackInuse, before.StackInuse), elapsed.Round(time.Millisecond))
			bound := tc.perConn*transport.DefaultMaxHandshakes + 300
			if scheme == "quic" {
				bound = tc.perConn*flood + 300
			}
			assert.Less(t, peak-base, bound, "goroutines bounded")
			assert.Less(t, during.HeapInuse, before.HeapInuse+128<<20, "heap bounded")
			assert.Less(t, elapsed, time.Second, "the honest client gets in at once")
			closeFlood()
			assert.Equal(t, exitOK, srv.stop(t))
		})
	}
}

// waitAcceptQueueEmpty waits until the TCP listener at addr (on
// 127.0.0.1) has no connection left in its kernel accept queue: Linux
// shows the queue's length as rx_queue of the listening socket in
// /proc/net/tcp. Elsewhere it returns at once.
func waitAcceptQueueEmpty(t *testing.T, addr string) {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	local := fmt.Sprintf("0100007F:%04X", p)
	queued := func() (int, bool) {
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			return 0, false
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && f[1] == local && f[3] == "0A" { // LISTEN
				_, rx, _ := strings.Cut(f[4], ":")
				n, err := strconv.ParseInt(rx, 16, 64)
				return int(n), err == nil
			}
		}
		return 0, false
	}
	ok := poll(60*time.Second, func() bool {
		n, known := queued()
		return !known || n == 0
	})
	require.True(t, ok, "the server did not drain its accept queue")
}

func waitMatchListening(t *testing.T, c *command) string {
	t.Helper()
	return waitMatch(t, c.stderr, listeningRE, 1, 20*time.Second)[1]
}

// peakGoroutines runs f and returns the most goroutines seen meanwhile.
func peakGoroutines(f func()) int {
	stop := make(chan struct{})
	sampled := make(chan int)
	go func() {
		peak := 0
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, runtime.NumGoroutine())
			select {
			case <-tick.C:
			case <-stop:
				sampled <- max(peak, runtime.NumGoroutine())
				return
			}
		}
	}()
	f()
	close(stop)
	return <-sampled
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func mibDelta(after, before uint64) float64 { return (float64(after) - float64(before)) / (1 << 20) }
