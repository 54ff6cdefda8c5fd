package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedReply is a TCP service that answers every connection with reply
// and closes: the service an intruder would like the public port to
// reach.
func fixedReply(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(reply))
			c.Close()
		}
	})
	return ln.Addr().String()
}

// Over every carrier: a client with the right token is served; clients
// with a wrong token or none are refused with a clear error and exit;
// neither takes over the mapping the first client serves; the server's
// log names the failures but never the token.
func TestForwardTokenOverEveryCarrier(t *testing.T) {
	t.Setenv(tokenEnv, "") // the token comes from files here
	pki := newTestPKI(t)
	good, bad := tokenFile(t, goodToken), tokenFile(t, badToken)
	target := backend(t)
	intruder := fixedReply(t, "intruder")
	for _, scheme := range schemes {
		t.Run(scheme, func(t *testing.T) {
			listen := scheme + "://127.0.0.1:0"
			if scheme == "ws" || scheme == "wss" {
				listen += "/tunnel"
			}
			srv := startCommand(t, "", append([]string{"forward", "server", "--listen", listen,
				"--public", "web=127.0.0.1:0", "--token-file", good}, pki.serverFlags(scheme)...)...)
			url := waitMatch(t, srv.stderr, listeningRE, 1, 20*time.Second)[1]
			web := waitMatch(t, srv.stderr, publicRE, 1, 20*time.Second)[2]
			client := func(token ...string) []string {
				return append(append([]string{"forward", "client", "--connect", url, "--retry-min", "20ms",
					"--retry-max", "200ms"}, token...), pki.clientFlags(scheme)...)
			}

			owner := startCommand(t, "", append(client("--token-file", good), "--target", "web="+target)...)
			waitMatch(t, owner.stderr, readyRE, 1, 20*time.Second)
			checkRoundTrips(t, web, 4, 10<<10)

			for _, tc := range []struct {
				name, want string
				args       []string
			}{
				{"wrong token", "the server refused our token (wrong token)", []string{"--token-file", bad}},
				{"no token", "the server requires a token: set NETMUX_TOKEN or give --token-file", nil},
			} {
				c := startCommand(t, "", append(client(tc.args...), "--target", "web="+intruder)...)
				assert.Equal(t, exitFail, c.wait(t), "%s: the client gives up", tc.name)
				assert.Contains(t, c.stderr.String(), tc.want, tc.name)
				assert.NotRegexp(t, readyRE, c.stderr.String(), tc.name)
			}
			// The mapping still reaches the owner's service.
			checkRoundTrips(t, web, 4, 10<<10)

			log := srv.stderr.String()
			assert.Contains(t, log, "authentication failed: wrong token")
			assert.Contains(t, log, "authentication failed: the client has no token")
			assert.Equal(t, 1, strings.Count(log, `msg="reverse tunnels registered"`), "only the owner registered")
			assert.NotContains(t, log, goodToken)
			assert.NotContains(t, log, badToken)
			assert.Equal(t, exitOK, owner.stop(t))
			assert.Equal(t, exitOK, srv.stop(t))
		})
	}
}

// A client with a token refuses a server that has none (it cannot prove
// the token), and an intruder without a token can use neither --allow
// nor the public port of a server that has one.
func TestForwardTokenMismatchedSides(t *testing.T) {
	t.Setenv(tokenEnv, "")
	target := backend(t)
	open := startCommand(t, "", "forward", "server", "--listen", "tcp://127.0.0.1:0", "--public", "127.0.0.1:0")
	url := waitMatch(t, open.stderr, listeningRE, 1, 10*time.Second)[1]
	c := startCommand(t, "", "forward", "client", "--connect", url, "--target", target,
		"--token-file", tokenFile(t, goodToken))
	assert.Equal(t, exitFail, c.wait(t))
	assert.Contains(t, c.stderr.String(), "the server has no token")

	srv := startCommand(t, "", "forward", "server", "--listen", "tcp://127.0.0.1:0", "--allow", target,
		"--token-file", tokenFile(t, goodToken))
	url = waitMatch(t, srv.stderr, listeningRE, 1, 10*time.Second)[1]
	intruder := startCommand(t, "", "forward", "client", "--connect", url, "--local", "127.0.0.1:0",
		"--remote", target)
	waitMatch(t, intruder.stderr, localRE, 1, 10*time.Second)
	assert.Equal(t, exitFail, intruder.wait(t))
	assert.NotContains(t, srv.stderr.String(), `msg="session started"`, "no session, so no stream to --allow")
	assert.Equal(t, exitOK, srv.stop(t))
	assert.Equal(t, exitOK, open.stop(t))
}

// Mutual TLS alone still authenticates clients: a client with a
// certificate from --client-ca is served without a token, one without a
// certificate gets no session.
func TestForwardMutualTLSAlone(t *testing.T) {
	t.Setenv(tokenEnv, "")
	pki := newTestPKI(t)
	target := backend(t)
	srv := startCommand(t, "", append([]string{"forward", "server", "--listen", "tls://127.0.0.1:0",
		"--public", "web=127.0.0.1:0"}, pki.serverFlags("tls")...)...)
	url := waitMatch(t, srv.stderr, listeningRE, 1, 10*time.Second)[1]
	web := waitMatch(t, srv.stderr, publicRE, 1, 10*time.Second)[2]
	assert.Contains(t, srv.stderr.String(), "clients must present a certificate from --client-ca")

	owner := startCommand(t, "", append([]string{"forward", "client", "--connect", url, "--target", "web=" + target},
		pki.clientFlags("tls")...)...)
	waitMatch(t, owner.stderr, readyRE, 1, 10*time.Second)
	checkRoundTrips(t, web, 2, 10<<10)

	stranger := startCommand(t, "", "forward", "client", "--connect", url, "--target", "web="+target,
		"--ca", pki.ca, "--retry-min", "20ms", "--retry-max", "200ms")
	waitMatch(t, stranger.stderr, regexpQuote("certificate required"), 1, 10*time.Second)
	assert.Equal(t, 1, strings.Count(srv.stderr.String(), `msg="session started"`), "only the owner has a session")
	assert.Equal(t, exitOK, stranger.stop(t))
	assert.Equal(t, exitOK, owner.stop(t))
	assert.Equal(t, exitOK, srv.stop(t))
}
