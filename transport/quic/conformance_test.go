package quic_test

import (
	"io"
	"testing"

	"github.com/netmux/netmux/conformance"
)

// scale divides the suite's data volumes: QUIC on loopback moves a few
// hundred MiB/s, and far less under -race on two cores. Counts and
// semantics are unchanged; TestGracefulCloseLossless keeps full 1 MiB
// transfers.
var scale = conformance.WithScale(4)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t testing.TB) (c1, c2 io.ReadWriteCloser) {
		return rawPair(t, nil)
	}, scale)
}

// TestConformanceAcceptorFirst runs the raw-connection checks with the
// accepted end as c1 (the end they close first and write from).
func TestConformanceAcceptorFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: which end is c1 changes only the raw checks; TestConformance covers them")
	}
	conformance.RunTransport(t, func(t testing.TB) (c1, c2 io.ReadWriteCloser) {
		client, server := rawPair(t, nil)
		return server, client
	}, scale)
}
