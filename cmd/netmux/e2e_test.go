//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTunnelEndToEnd builds the binary and runs forward server and client
// as separate processes over every transport, with an HTTP service
// behind the client, both ends proving a token from NETMUX_TOKEN:
// requests through the server's public port (reverse tunnel) and through
// the client's local port (local forward) must all work; after the
// client is killed the server must notice and refuse the public port; a
// new client process must bring it back; SIGTERM must stop both with
// exit code 0. -short runs tcp only.
func TestTunnelEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	pki := newTestPKI(t)
	backendURL, big := httpBackend(t)
	run := schemes
	if testing.Short() {
		run = []string{"tcp"}
	}
	for _, scheme := range run {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			tunnelE2E(t, bin, pki, scheme, backendURL, big)
		})
	}
}

func tunnelE2E(t *testing.T, bin string, pki *testPKI, scheme, backendURL string, big []byte) {
	network := "tcp"
	if scheme == "kcp" || scheme == "quic" {
		network = "udp"
	}
	url := scheme + "://" + freePort(t, network)
	if scheme == "ws" || scheme == "wss" {
		url += "/tunnel"
	}
	target := strings.TrimPrefix(backendURL, "http://")
	public, local := freePort(t, "tcp"), freePort(t, "tcp")
	// Short keepalive: over UDP, a killed peer sends nothing at all and
	// only the session's keepalive notices.
	keepalive := []string{"--keepalive", "250ms", "--keepalive-timeout", "2s"}

	server := startProcess(t, bin, append(append([]string{"forward", "server", "--listen", url,
		"--public", public, "--allow", target, "--drain", "5s"}, keepalive...), pki.serverFlags(scheme)...)...)
	waitMatch(t, server.log, listeningRE, 1, 20*time.Second)
	clientArgs := append(append([]string{"forward", "client", "--connect", url, "--target", target,
		"--local", local, "--remote", target, "--retry-min", "50ms", "--retry-max", "500ms"},
		keepalive...), pki.clientFlags(scheme)...)
	client := startProcess(t, bin, clientArgs...)
	waitMatch(t, client.log, readyRE, 1, 20*time.Second)

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	fetchAll(t, hc, "http://"+public, big)
	fetchAll(t, hc, "http://"+local, big)
	hc.CloseIdleConnections()

	// SIGKILL the client: the server must notice the session is gone and
	// then refuse the public port at once.
	require.NoError(t, client.cmd.Process.Kill())
	<-client.done
	waitMatch(t, server.log, endedRE, 1, 15*time.Second)
	start := time.Now()
	_, err := fetch(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		"http://"+public+"/small?i=dead")
	assert.Error(t, err, "no client: the public port must fail")
	assert.Less(t, time.Since(start), 3*time.Second, "and fail fast: %v", err)

	// A new client process takes over.
	client = startProcess(t, bin, clientArgs...)
	waitMatch(t, client.log, readyRE, 1, 20*time.Second)
	fetchAll(t, hc, "http://"+public, big)
	fetchAll(t, hc, "http://"+local, big)
	hc.CloseIdleConnections()

	// SIGTERM: the server drains and exits 0; the client sees its
	// session end, keeps retrying, and exits 0 on its own SIGTERM.
	assert.Equal(t, 0, server.stop(t), server.log.String())
	assert.Regexp(t, stoppedRE, server.log.String())
	waitMatch(t, client.log, endedRE, 1, 15*time.Second)
	assert.Equal(t, 0, client.stop(t), client.log.String())
	assert.Regexp(t, stoppedRE, client.log.String())
}

// fetchAll makes concurrent small requests, downloads the big body and
// uploads a large body, all through base, and checks every body.
func fetchAll(t *testing.T, hc *http.Client, base string, big []byte) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			body, err := fetch(hc, fmt.Sprintf("%s/small?i=%d", base, i))
			if assert.NoError(t, err) {
				assert.Equal(t, fmt.Sprintf("hello %d", i), string(body))
			}
		})
	}
	wg.Go(func() {
		body, err := fetch(hc, base+"/big")
		if assert.NoError(t, err) {
			assert.Equal(t, len(big), len(body))
			assert.True(t, bytes.Equal(big, body), "the big body differs")
		}
	})
	wg.Go(func() {
		up := big[:2<<20]
		resp, err := hc.Post(base+"/upload", "application/octet-stream", bytes.NewReader(up))
		if !assert.NoError(t, err) {
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		assert.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("%d %08x", len(up), crc32.ChecksumIEEE(up)), string(body))
	})
	wg.Wait()
}

func fetch(hc *http.Client, url string) ([]byte, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// httpBackend is the service behind the tunnel, on 127.0.0.1.
func httpBackend(t *testing.T) (url string, big []byte) {
	big = payload(42, 8<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("i"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big)
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %08x", len(body), crc32.ChecksumIEEE(body))
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	require.True(t, strings.HasPrefix(hs.URL, "http://127.0.0.1:"), hs.URL)
	return hs.URL, big
}

// buildBinary builds cmd/netmux (without -race: the processes under test
// need not be instrumented) into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "netmux")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// process is a running netmux binary.
type process struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error // from Wait, once done is closed
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	// Both ends prove the token from the environment, as the README's
	// tunnel example does.
	p.cmd.Env = append(os.Environ(), "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true", tokenEnv+"="+goodToken)
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("netmux %s:\n%s", strings.Join(args, " "), p.log)
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30 s after SIGTERM")
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}
