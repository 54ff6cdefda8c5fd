package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/transport/mem"
)

const (
	goodToken = "correct horse battery staple 0123456789"
	badToken  = "incorrect horse battery staple 9876543210"
)

// tokenFile writes token to a file only the owner may read.
func tokenFile(t testing.TB, token string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(f, []byte(token+"\n"), 0o600))
	return f
}

func TestTokenLoad(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Setenv(tokenEnv, "")
	tok, err := (&tokenFlags{}).load(log)
	require.NoError(t, err)
	assert.Nil(t, tok, "no token configured")

	tok, err = (&tokenFlags{file: tokenFile(t, goodToken)}).load(log)
	require.NoError(t, err)
	assert.Equal(t, goodToken, string(tok), "the trailing newline is not part of the token")

	t.Setenv(tokenEnv, goodToken)
	tok, err = (&tokenFlags{}).load(log)
	require.NoError(t, err)
	assert.Equal(t, goodToken, string(tok))
	_, err = (&tokenFlags{file: tokenFile(t, goodToken)}).load(log)
	assert.ErrorContains(t, err, "give the token once")

	t.Setenv(tokenEnv, "short")
	_, err = (&tokenFlags{}).load(log)
	assert.ErrorContains(t, err, "too short")
	t.Setenv(tokenEnv, "")
	_, err = (&tokenFlags{file: filepath.Join(t.TempDir(), "missing")}).load(log)
	assert.Error(t, err)
}

// handshake runs both sides of the authentication over a mem pipe and
// returns their errors.
func handshake(t *testing.T, serverToken, clientToken string) (srvErr, cliErr error) {
	t.Helper()
	a, b := mem.Pipe()
	defer a.Close()
	defer b.Close()
	var st, ct []byte
	if serverToken != "" {
		st = []byte(serverToken)
	}
	if clientToken != "" {
		ct = []byte(clientToken)
	}
	srv := &authServer{token: st, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := srv.handshake(ctx, b)
		if err != nil {
			b.Close() // as the listener does
		}
		done <- err
	}()
	cliErr = authClient(ctx, a, ct)
	if cliErr != nil {
		a.Close()
	}
	return <-done, cliErr
}

func TestAuthHandshake(t *testing.T) {
	srvErr, cliErr := handshake(t, goodToken, goodToken)
	assert.NoError(t, srvErr)
	assert.NoError(t, cliErr, "the right token is served")

	srvErr, cliErr = handshake(t, "", "")
	assert.NoError(t, srvErr)
	assert.NoError(t, cliErr, "no token on either side: an open server")

	srvErr, cliErr = handshake(t, goodToken, badToken)
	assert.Error(t, srvErr)
	assert.ErrorIs(t, cliErr, errAuth)
	assert.ErrorContains(t, cliErr, "wrong token")

	srvErr, cliErr = handshake(t, goodToken, "")
	assert.Error(t, srvErr)
	assert.ErrorIs(t, cliErr, errAuth)
	assert.ErrorContains(t, cliErr, "requires a token")

	_, cliErr = handshake(t, "", goodToken)
	assert.ErrorIs(t, cliErr, errAuth, "a server that cannot prove the token is refused")
	assert.ErrorContains(t, cliErr, "has no token")
}

// A server that answers without knowing the token is caught by the
// client: authentication is mutual.
func TestAuthImpostorServer(t *testing.T) {
	a, b := mem.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		hello := make([]byte, helloLen)
		if _, err := io.ReadFull(b, hello); err != nil {
			return
		}
		ch := make([]byte, helloLen)
		copy(ch, authMagic)
		ch[4], ch[5] = authVersion, authChallenge
		b.Write(ch)
		io.ReadFull(b, make([]byte, macLen))
		verdict := make([]byte, 1+macLen)
		verdict[0] = authAccepted // and a proof it cannot compute
		b.Write(verdict)
	}()
	err := authClient(context.Background(), a, []byte(goodToken))
	assert.ErrorIs(t, err, errAuth)
	assert.ErrorContains(t, err, "does not know the token")
}

// A client that is not a tunnel client (here one that sends a netmux
// preface at once, as an older client would) is dropped; a client whose
// server does not answer in time fails with ctx's error.
func TestAuthWrongPeers(t *testing.T) {
	a, b := mem.Pipe()
	defer a.Close()
	defer b.Close()
	go a.Write(make([]byte, helloLen))
	srv := &authServer{token: []byte(goodToken), log: slog.New(slog.DiscardHandler)}
	assert.Error(t, srv.handshake(context.Background(), b))

	c, d := mem.Pipe()
	defer c.Close()
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := authClient(ctx, c, []byte(goodToken)) // d never answers
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, errors.Is(err, errAuth), "a timeout is worth retrying")
}

// Failures from one address beyond the free ones lock it out for
// doubling times, capped; a success forgives it; other addresses are not
// affected.
func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1e9, 0)
	f := failureLimiter{now: func() time.Time { return now }}
	for i := range freeFailures {
		assert.Zero(t, f.locked("10.0.0.1"), "failure %d is free", i)
		f.fail("10.0.0.1")
	}
	assert.Zero(t, f.locked("10.0.0.1"))
	want := baseLockout
	for range 10 {
		_, lockout := f.fail("10.0.0.1")
		assert.Equal(t, want, lockout)
		assert.Equal(t, want, f.locked("10.0.0.1"))
		assert.Zero(t, f.locked("10.0.0.2"), "other addresses are not slowed down")
		now = now.Add(want)
		assert.Zero(t, f.locked("10.0.0.1"), "the lockout ends")
		want = min(2*want, maxLockout)
	}
	assert.Equal(t, maxLockout, want)
	f.succeed("10.0.0.1")
	f.fail("10.0.0.1")
	assert.Zero(t, f.locked("10.0.0.1"), "a success forgives")

	for i := range maxTracked + 10 {
		f.fail(string(rune(i)))
	}
	assert.LessOrEqual(t, len(f.m), maxTracked, "the table is bounded")

	assert.Equal(t, "192.0.2.7", sourceKey("192.0.2.7:4242"))
	assert.Equal(t, "2001:db8:1:2::/64", sourceKey("[2001:db8:1:2:3:4:5:6]:4242"))
}

// Repeated wrong tokens from one address are refused without a check
// once it is locked out, and the client is told to come back later.
func TestAuthLockout(t *testing.T) {
	srv := &authServer{token: []byte(goodToken), log: slog.New(slog.DiscardHandler)}
	for range freeFailures + 1 {
		srv.failures.fail(sourceKey("mem"))
	}
	a, b := mem.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() { done <- srv.handshake(context.Background(), b) }()
	err := authClient(context.Background(), a, []byte(goodToken))
	assert.ErrorContains(t, err, "too many failed attempts")
	assert.False(t, errors.Is(err, errAuth), "worth retrying later")
	assert.Error(t, <-done)
}

func TestCheckExposure(t *testing.T) {
	for _, tc := range []struct {
		url                        string
		token, clientCerts, noAuth bool
		ok                         bool
	}{
		{url: "tcp://127.0.0.1:7000", ok: true},
		{url: "tcp://localhost:7000", ok: true},
		{url: "tcp://[::1]:7000", ok: true},
		{url: "ws://127.0.0.2:7000/t", ok: true},
		{url: "tcp://0.0.0.0:7000"},
		{url: "tcp://:7000"},
		{url: "quic://[::]:7000"},
		{url: "tls://192.0.2.1:7000"},
		{url: "kcp://tunnel.example:7000"}, // names are not resolved
		{url: "tcp://0.0.0.0:7000", token: true, ok: true},
		{url: "tls://0.0.0.0:7000", clientCerts: true, ok: true},
		{url: "tcp://0.0.0.0:7000", noAuth: true, ok: true},
	} {
		ep, err := parseEndpoint(tc.url)
		require.NoError(t, err)
		err = checkExposure(ep, tc.token, tc.clientCerts, tc.noAuth)
		if tc.ok {
			assert.NoError(t, err, "%+v", tc)
		} else {
			assert.ErrorContains(t, err, "--no-auth", "%+v", tc)
		}
	}
}

// The refusal comes before anything is bound: the command never logs
// "listening" and exits with a usage error.
func TestForwardServerRefusesExposedWithoutAuth(t *testing.T) {
	t.Setenv(tokenEnv, "")
	for _, args := range [][]string{
		{"--listen", "tcp://0.0.0.0:0", "--public", "127.0.0.1:0"},
		{"--listen", "tls://0.0.0.0:0", "--public", "127.0.0.1:0", "--insecure-generate"},
		// --client-ca does nothing over tcp://, so it does not count.
		{"--listen", "tcp://0.0.0.0:0", "--public", "127.0.0.1:0", "--client-ca", "ca.pem"},
	} {
		var out, errOut syncBuffer
		code := run(t.Context(), append([]string{"forward", "server"}, args...), nil, &out, &errOut)
		assert.Equal(t, exitUsage, code, "%q", args)
		assert.Contains(t, errOut.String(), "refusing to listen on 0.0.0.0:0 without authentication", "%q", args)
		assert.NotContains(t, errOut.String(), "listening", "%q", args)
	}
	var out, errOut syncBuffer
	code := run(t.Context(), []string{"forward", "server", "--listen", "tcp://127.0.0.1:0", "--public", "127.0.0.1:0",
		"--no-auth", "--token-file", tokenFile(t, goodToken)}, nil, &out, &errOut)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut.String(), "contradict")
}
