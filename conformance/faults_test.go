package conformance_test

import (
	"io"
	"testing"
	"time"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/transport/mem"
)

// The mux checks over the in-memory transport through each fault. The
// keepalive check stalls the transport and AbruptClose cuts it mid-frame
// in every run, whatever the carrier.
func TestMemThroughFaults(t *testing.T) {
	profiles := []struct {
		name   string
		faults conformance.Faults
	}{
		{"Latency", conformance.Faults{Latency: 200 * time.Microsecond}},
		{"Bandwidth", conformance.Faults{Bandwidth: 200 << 20}},
		{"SplitReadsWrites", conformance.Faults{Split: 1500, Seed: 1}},
	}
	opts := []conformance.Option{conformance.WithScale(8)}
	if testing.Short() {
		opts = append(opts, conformance.Skip("NetConn", "-short: nettest through each fault profile runs in the full suite"))
	}
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			conformance.RunMux(t, func(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
				c1, c2 := mem.Pipe()
				f1 := conformance.Faulty(c1, p.faults)
				f2 := conformance.Faulty(c2, p.faults)
				t.Cleanup(func() {
					f1.Close()
					f2.Close()
				})
				return f1, f2
			}, opts...)
		})
	}
}
