package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		tls      bool
	}{
		{"tcp://127.0.0.1:7000", "tcp://127.0.0.1:7000", false},
		{"127.0.0.1:7000", "tcp://127.0.0.1:7000", false},
		{"TLS://example.net:443", "tls://example.net:443", true},
		{"kcp://[::1]:7000", "kcp://[::1]:7000", false},
		{"ws://127.0.0.1:8080", "ws://127.0.0.1:8080/netmux", false},
		{"ws://127.0.0.1:8080/tunnel", "ws://127.0.0.1:8080/tunnel", false},
		{"wss://example.net:443/t?token=x", "wss://example.net:443/t?token=x", true},
		{"quic://127.0.0.1:7000", "quic://127.0.0.1:7000", true},
		{"tcp://:7000", "tcp://:7000", false},
	} {
		e, err := parseEndpoint(tc.in)
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, tc.want, e.String(), tc.in)
			assert.Equal(t, tc.tls, e.needsTLS(), tc.in)
		}
	}
	for _, bad := range []string{
		"udp://127.0.0.1:7000", // unknown scheme
		"tcp://127.0.0.1",      // no port
		"tcp://127.0.0.1:7000/path",
		"quic://127.0.0.1:7000?x=1",
		"tcp://user@127.0.0.1:7000",
		"tcp://%zz",
	} {
		_, err := parseEndpoint(bad)
		assert.Error(t, err, bad)
	}
	e, err := parseEndpoint("ws://127.0.0.1:0/a%20b?x=1")
	require.NoError(t, err)
	assert.Equal(t, "/a b", e.listenPath())
}

// Every scheme listens and dials through the URL machinery, with the
// tool's own TLS flags.
func TestEndpointsCarrySessions(t *testing.T) {
	pki := newTestPKI(t)
	log := slog.New(slog.DiscardHandler)
	for _, scheme := range schemes {
		t.Run(scheme, func(t *testing.T) {
			ep, err := parseEndpoint(scheme + "://127.0.0.1:0/x")
			if !ep.isWebSocket() {
				ep, err = parseEndpoint(scheme + "://127.0.0.1:0")
			}
			require.NoError(t, err)
			st := serverTLS{}
			ct := clientTLS{}
			flags(t, &st, pki.serverFlags(scheme))
			flags(t, &ct, pki.clientFlags(scheme))
			scfg, err := st.config(ep, log)
			require.NoError(t, err)
			ccfg, err := ct.config(ep, log)
			require.NoError(t, err)
			ln, err := ep.listen(scfg)
			require.NoError(t, err)
			srv := &transport.Server{Config: core.DefaultConfig(), Handler: func(s *core.Session) { serveEcho(s, log) }}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			defer func() {
				require.NoError(t, srv.Shutdown(context.Background()))
				<-served
			}()

			b := ep.bound(ln)
			if ep.isWebSocket() {
				assert.Equal(t, "/x", b.path)
			}
			d, addr := b.dialer(ccfg)
			sess, err := transport.Dial(context.Background(), d, addr, core.DefaultConfig())
			require.NoError(t, err)
			defer sess.Close()
			r := echoOne(context.Background(), sess, []byte("hello "+scheme))
			require.NoError(t, r.err)
			assert.Equal(t, "hello "+scheme, string(r.reply))
		})
	}
}

// flags applies command-line flags to a TLS flag set.
func flags(t *testing.T, o interface{ register(*flag.FlagSet) }, args []string) {
	t.Helper()
	fs := newFlagSet("test", io.Discard, "")
	o.register(fs)
	require.NoError(t, fs.Parse(args))
}

func TestTLSFlagErrors(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tlsEP, _ := parseEndpoint("tls://127.0.0.1:0")
	tcpEP, _ := parseEndpoint("tcp://127.0.0.1:0")

	_, err := (&serverTLS{}).config(tlsEP, log)
	assert.ErrorContains(t, err, "needs a certificate")
	_, err = (&serverTLS{cert: "x.pem"}).config(tlsEP, log)
	assert.ErrorContains(t, err, "go together")
	_, err = (&serverTLS{cert: "missing.pem", key: "missing.key"}).config(tlsEP, log)
	assert.Error(t, err)
	_, err = (&clientTLS{clientCert: "x.pem"}).config(tlsEP, log)
	assert.ErrorContains(t, err, "go together")
	_, err = (&clientTLS{ca: "missing.pem"}).config(tlsEP, log)
	assert.Error(t, err)

	cfg, err := (&serverTLS{generate: true}).config(tcpEP, log)
	assert.NoError(t, err)
	assert.Nil(t, cfg, "tcp uses no TLS")
	cfg, err = (&serverTLS{generate: true}).config(tlsEP, log)
	require.NoError(t, err)
	assert.Len(t, cfg.Certificates, 1)
}
