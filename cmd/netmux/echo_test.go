package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEcho(t *testing.T) {
	for _, scheme := range []string{"tcp", "kcp"} {
		t.Run(scheme, func(t *testing.T) {
			srv := startCommand(t, "", "echo", "server", "--listen", scheme+"://127.0.0.1:0")
			url := waitMatch(t, srv.stderr, listeningRE, 1, 10*time.Second)[1]

			var in strings.Builder
			for i := range 100 {
				fmt.Fprintf(&in, "line %d %s\n", i, strings.Repeat("x", i*100))
			}
			in.WriteString("\nno newline at the end")
			cli := startCommand(t, in.String(), "echo", "client", "--connect", url, "--parallel", "8")
			require.Equal(t, exitOK, cli.wait(t), cli.stderr.String())
			assert.Equal(t, in.String()+"\n", cli.stdout.String(), "every line, in order")

			assert.Equal(t, exitOK, srv.stop(t), srv.stderr.String())
			assert.Regexp(t, stoppedRE, srv.stderr.String())
		})
	}
}

func TestEchoMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := startCommand(t, "", append([]string{"echo", "server", "--listen", "tls://127.0.0.1:0"},
		pki.serverFlags("tls")...)...)
	url := waitMatch(t, srv.stderr, listeningRE, 1, 10*time.Second)[1]

	cli := startCommand(t, "hello\n", append([]string{"echo", "client", "--connect", url}, pki.clientFlags("tls")...)...)
	require.Equal(t, exitOK, cli.wait(t), cli.stderr.String())
	assert.Equal(t, "hello\n", cli.stdout.String())

	// Without a client certificate the server refuses the session.
	cli = startCommand(t, "hello\n", "echo", "client", "--connect", url, "--ca", pki.ca, "--dial-timeout", "5s")
	assert.Equal(t, exitFail, cli.wait(t))
	assert.Contains(t, cli.stderr.String(), "connect failed")

	// Nor does a client that does not trust the server get through.
	cli = startCommand(t, "hello\n", "echo", "client", "--connect", url, "--dial-timeout", "5s",
		"--client-cert", pki.clientCert, "--client-key", pki.clientKey)
	assert.Equal(t, exitFail, cli.wait(t))
	assert.Contains(t, cli.stderr.String(), "certificate")
	assert.Equal(t, exitOK, srv.stop(t))
}

func TestCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nonsense"},
		{"echo"},
		{"echo", "sideways"},
		{"echo", "server"}, // --listen missing
		{"echo", "server", "--listen", "udp://x:1"},                        // bad scheme
		{"echo", "client", "--connect", "tcp://x"},                         // no port
		{"forward", "server", "--listen", "tcp://127.0.0.1:0"},             // nothing to forward
		{"forward", "client", "--connect", "tcp://x:1"},                    // nothing to forward
		{"forward", "client", "--connect", "tcp://x:1", "--local", "9000"}, // --remote missing
		{"forward", "server", "--listen", "tcp://127.0.0.1:0", "--allow", "nope"},
		{"echo", "server", "--listen", "tcp://127.0.0.1:0", "--log-level", "loud"},
		{"echo", "server", "--listen", "tcp://127.0.0.1:0", "--keepalive", "1s", "--keepalive-timeout", "0"},
	} {
		var out, errOut syncBuffer
		assert.Equal(t, exitUsage, run(t.Context(), args, strings.NewReader(""), &out, &errOut), "%q", args)
		assert.NotEmpty(t, errOut.String(), "%q", args)
	}
	var out, errOut syncBuffer
	assert.Equal(t, exitOK, run(t.Context(), []string{"help"}, nil, &out, &errOut))
	assert.Contains(t, out.String(), "netmux forward server")
	assert.Equal(t, exitOK, run(t.Context(), []string{"forward", "client", "-h"}, nil, &out, &errOut))
	assert.Contains(t, errOut.String(), "-map LOCAL=REMOTE")
	assert.Contains(t, errOut.String(), "Running a tunnel on an untrusted network", "the help says how to run safely")

	// A TLS scheme without a certificate is a runtime failure, logged.
	var logged syncBuffer
	assert.Equal(t, exitFail, run(t.Context(), []string{"echo", "server", "--listen", "quic://127.0.0.1:0"}, nil, &out, &logged))
	assert.Contains(t, logged.String(), "--insecure-generate")
}

// Every flag's placeholder in -h says what to give: a duration flag
// reads "-drain duration", never the "long" that flag takes from a
// back-quoted word in the help text.
func TestFlagPlaceholders(t *testing.T) {
	bad := regexp.MustCompile(`(?m)^\s+-\S+ long$`)
	for _, cmd := range [][]string{
		{"demo"}, {"echo", "server"}, {"echo", "client"}, {"forward", "server"}, {"forward", "client"},
	} {
		var out, help syncBuffer
		require.Equal(t, exitOK, run(t.Context(), append(cmd, "-h"), nil, &out, &help), "%q", cmd)
		assert.NotRegexp(t, bad, help.String(), "%q", cmd)
		assert.Contains(t, help.String(), " duration\n", "%q", cmd)
	}
}
