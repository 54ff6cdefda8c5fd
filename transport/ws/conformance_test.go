package ws_test

import (
	"io"
	"testing"
	"time"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/transport/ws"
)

// suiteOptions adapts the suite to WebSocket under the race detector:
// coder/websocket masks client frames in pure Go (its assembly is off in
// v1.8.15), which -race instruments per word, so a masked byte costs
// about ten times what it costs over TCP. The data volumes are halved and
// the hang watchdog lengthened; counts and semantics are unchanged, and
// without -race the suite runs at full size.
func suiteOptions(scale int) []conformance.Option {
	if raceEnabled {
		return []conformance.Option{
			conformance.WithScale(2 * scale),
			conformance.WithCheckTimeout(3 * time.Minute),
		}
	}
	return []conformance.Option{conformance.WithScale(scale)}
}

// TestConformance runs the conformance suite over ws:// on 127.0.0.1,
// each pair on its own standalone Listener.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t testing.TB) (c1, c2 io.ReadWriteCloser) {
		ln := listen(t)
		return dialAccept(t, ln, ln.Addr().String(), ws.Dialer{})
	}, suiteOptions(1)...)
}

// TestConformanceTLS runs it over wss://, with a quarter of the data
// volumes: the TLS layer changes how connections end, not the data path.
func TestConformanceTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the ws:// run covers the adapter; TLS only adds a layer")
	}
	srvTLS, cliTLS := testCert(t)
	conformance.Run(t, func(t testing.TB) (c1, c2 io.ReadWriteCloser) {
		ln := listen(t, ws.WithTLSConfig(srvTLS))
		return dialAccept(t, ln, ln.Addr().String(), ws.Dialer{TLSConfig: cliTLS})
	}, suiteOptions(4)...)
}
