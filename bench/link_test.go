package main

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linkTo starts a link to a fresh loopback listener whose accepted
// connections are handed to serve, one goroutine each.
func linkTo(t *testing.T, spec linkSpec, serve func(net.Conn)) *link {
	t.Helper()
	ln, err := net.Listen("tcp", loopback)
	require.NoError(t, err)
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	l, err := newLink(ln.Addr().String(), spec)
	require.NoError(t, err)
	t.Cleanup(func() {
		l.Close()
		ln.Close()
		<-served
	})
	return l
}

// TestLinkDelay: a one-byte ping through the link takes at least twice
// the one-way delay, and not much more on an idle link.
func TestLinkDelay(t *testing.T) {
	spec := linkSpec{Rate: 10 << 20, Delay: 25 * time.Millisecond, Queue: 256 << 10}
	l := linkTo(t, spec, func(c net.Conn) { io.Copy(c, c) })
	c, err := net.Dial("tcp", l.Addr())
	require.NoError(t, err)
	defer c.Close()
	var rtts []time.Duration
	b := []byte{7}
	for range 5 {
		t0 := time.Now()
		_, err := c.Write(b)
		require.NoError(t, err)
		_, err = io.ReadFull(c, b)
		require.NoError(t, err)
		rtts = append(rtts, time.Since(t0))
	}
	slices.Sort(rtts)
	assert.GreaterOrEqual(t, rtts[0], 2*spec.Delay, "fastest ping %v", rtts)
	// Generous: other tests share two cores.
	assert.Less(t, rtts[len(rtts)/2], 2*spec.Delay+150*time.Millisecond, "median ping %v", rtts)
}

// TestLinkRate: a bulk copy through the link arrives whole, at the link's
// rate (within 10 %), and the bottleneck's queue never holds much more
// than its bound, however fast the sender writes.
func TestLinkRate(t *testing.T) {
	// A queue of 60 ms of the rate: a reader scheduled late on a loaded
	// machine still finds bytes queued, so the link's rate is measured,
	// not the scheduler.
	spec := linkSpec{Rate: 16 << 20, Delay: 5 * time.Millisecond, Queue: 1 << 20}
	const total = 16 << 20
	type result struct {
		n           int64
		first, last time.Time
		err         error
	}
	got := make(chan result, 1)
	l := linkTo(t, spec, func(c net.Conn) {
		var r result
		buf := make([]byte, 64<<10)
		for {
			k, err := c.Read(buf)
			if k > 0 {
				if r.n == 0 {
					r.first = time.Now()
				}
				r.n += int64(k)
				r.last = time.Now()
			}
			if err != nil {
				if err != io.EOF {
					r.err = err
				}
				break
			}
		}
		got <- r
	})
	c, err := net.Dial("tcp", l.Addr())
	require.NoError(t, err)
	buf := pattern(32 << 10)
	for sent := 0; sent < total; sent += len(buf) {
		_, err := c.Write(buf)
		require.NoError(t, err)
	}
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	var r result
	select {
	case r = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the copy did not end")
	}
	c.Close()
	require.NoError(t, r.err)
	require.EqualValues(t, total, r.n, "bytes delivered")
	// The first chunk's bytes arrive together; the rest follow at the rate.
	rate := float64(total-linkChunk) / r.last.Sub(r.first).Seconds()
	assert.InEpsilon(t, spec.Rate, rate, 0.10, "rate %.1f MiB/s, link %.1f MiB/s", rate/(1<<20), spec.mibps())
	assert.LessOrEqual(t, l.up.maxQueued(), int64(spec.Queue+linkChunk), "the queue's bound")
	assert.Greater(t, l.up.maxQueued(), int64(spec.Queue/2), "a sender faster than the link fills the queue")
}

// TestLinkClose: closing the link ends connections that are still busy.
func TestLinkClose(t *testing.T) {
	spec := linkSpec{Rate: 1 << 20, Delay: 50 * time.Millisecond, Queue: 64 << 10}
	l := linkTo(t, spec, func(c net.Conn) { io.Copy(io.Discard, c) })
	c, err := net.Dial("tcp", l.Addr())
	require.NoError(t, err)
	defer c.Close()
	wrote := make(chan error, 1)
	go func() {
		buf := pattern(32 << 10)
		for {
			if _, err := c.Write(buf); err != nil {
				wrote <- err
				return
			}
		}
	}()
	// Wait until the proxy is holding the sender back.
	require.Eventually(t, func() bool { return l.up.maxQueued() >= int64(spec.Queue) }, 10*time.Second, time.Millisecond)
	require.NoError(t, l.Close())
	select {
	case err := <-wrote:
		assert.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the writer was not released by Close")
	}
}
