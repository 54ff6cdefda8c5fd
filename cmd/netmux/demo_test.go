package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo passes over every transport, wss included, with small sizes.
func TestDemoAllTransports(t *testing.T) {
	var out syncBuffer
	opts := demoOptions{transports: schemes, streams: 8, size: 64 << 10, pings: 5, timeout: time.Minute}
	require.NoError(t, runDemo(context.Background(), &out, false, opts, slog.New(slog.DiscardHandler)), out.String())

	lines := strings.Split(out.String(), "\n")
	var table []string
	for i, l := range lines {
		if strings.HasPrefix(l, "transport") {
			table = lines[i : i+1+len(schemes)]
		}
	}
	require.NotNil(t, table, out.String())
	assert.Equal(t, []string{"transport", "streams", "MB/s", "RTT", "p50", "RTT", "p99", "p99", "loaded", "result"},
		strings.Fields(table[0]))
	for i, s := range schemes {
		f := strings.Fields(table[i+1])
		require.Len(t, f, 7, table[i+1])
		assert.Equal(t, s, f[0])
		assert.Equal(t, "8", f[1], "duration 0: each stream echoes once")
		assert.Equal(t, "ok", f[6])
	}
	assert.NotContains(t, out.String(), "\x1b[", "plain output has no escape sequences")
	assert.Contains(t, out.String(), "tcp: echoing on 8 streams at a time\n")
}

func TestDemoLiveProgress(t *testing.T) {
	var out syncBuffer
	opts := demoOptions{transports: []string{"tcp"}, streams: 2, size: 1 << 10, duration: 150 * time.Millisecond,
		pings: 1, timeout: time.Minute}
	require.NoError(t, runDemo(context.Background(), &out, true, opts, slog.New(slog.DiscardHandler)))
	s := out.String()
	assert.Contains(t, s, "\r\x1b[2K  tcp   waiting", "one line per transport, rewritten in place")
	assert.Contains(t, s, "\x1b[1A", "cursor moves up to redraw")
	assert.Contains(t, s, "\x1b[1A\x1b[J", "the block is erased before the table")
	assert.Regexp(t, `(?m)^tcp +\d+ +[\d.]+ .* ok$`, s)
}

func TestDemoFailureExitCode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing can succeed
	var out, errOut syncBuffer
	code := demoCommand(ctx, []string{"-transports", "tcp", "-pings", "1", "-duration", "0"}, &out, &errOut)
	assert.Equal(t, exitFail, code)
	assert.Regexp(t, `(?m)^tcp .* FAIL: `, out.String())
	assert.Contains(t, errOut.String(), "1 of 1 transports failed")
}

func TestDemoCommandFlags(t *testing.T) {
	var out, errOut syncBuffer
	code := demoCommand(context.Background(), []string{"-transports", "tcp", "-streams", "2", "-size", "4K",
		"-duration", "0", "-pings", "2", "-progress", "plain"}, &out, &errOut)
	require.Equal(t, exitOK, code, "%s%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "each echoing 4 KiB")

	for _, args := range [][]string{
		{"-transports", "udp"},
		{"-transports", ""},
		{"-streams", "0"},
		{"-size", "lots"},
		{"-progress", "fancy"},
		{"extra"},
	} {
		assert.Equal(t, exitUsage, demoCommand(context.Background(), args, &out, &errOut), args)
	}
	assert.Equal(t, exitOK, demoCommand(context.Background(), []string{"-h"}, &out, &errOut))
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int{"65536": 65536, "64K": 64 << 10, "1MiB": 1 << 20, "2 MB": 2 << 20, "1g": 1 << 30, "10B": 10} {
		var b byteSize
		if assert.NoError(t, b.Set(in), in) {
			assert.Equal(t, want, int(b), in)
		}
	}
	var b byteSize
	assert.Error(t, b.Set("-1"))
	assert.Error(t, b.Set("1T"))
	assert.Equal(t, "1 MiB", byteSize(1<<20).String())
	assert.Equal(t, "1500 B", byteSize(1500).String())
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	assert.Equal(t, time.Duration(50), percentile(d, 50))
	assert.Equal(t, time.Duration(99), percentile(d, 99))
	assert.Equal(t, time.Duration(0), percentile(nil, 50))
	assert.Equal(t, "-", fmtRTT(0))
	assert.Equal(t, "250µs", fmtRTT(250*time.Microsecond))
	assert.Equal(t, "1.5ms", fmtRTT(1500*time.Microsecond))
}
