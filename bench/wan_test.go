package main

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWANShort runs the 8-stream wan scenario briefly over a short, fast
// link for raw TCP, netmux over each carrier and the peers. It checks
// what the link guarantees, never how the muxes compare: every byte sent
// arrived (runWAN fails otherwise), an RPC took at least the link's round
// trip, and raw TCP got about the link's rate.
func TestWANShort(t *testing.T) {
	p := shortParams()
	sc, ok := findScenario("wan50x8")
	require.True(t, ok)
	link := p.WANLinks[0]
	for _, m := range []wanMux{
		{"tcp", "tcp"}, {"netmux", "tcp"}, {"yamux-16m", "tcp"}, {"smux-v1", "tcp"},
		{"netmux", "tls"}, {"netmux", "ws"}, {"netmux", "opaque"}, {"yamux", "tls"}, {"tcp", "ws"},
	} {
		t.Run(m.name(), func(t *testing.T) {
			res, err := runOnce(m, sc, p)
			require.NoError(t, err)
			for _, mt := range sc.Metrics {
				assert.Contains(t, res, mt.Key)
			}
			assert.Positive(t, res["mibps"])
			assert.Positive(t, res["heap_peak_mib"], "the sampler saw the sessions' buffers")
			assert.GreaterOrEqual(t, res["rpc_p50_ms"], float64(2*link.Delay)/float64(time.Millisecond),
				"an RPC is faster than the link's round trip")
			assert.LessOrEqual(t, res["fair_dev"], float64(p.WANStreams-1), "shares out of range")
			var sum float64
			for i := range p.WANStreams {
				sum += res[fmt.Sprintf("share%d", i)]
			}
			assert.InDelta(t, 1, sum, 1e-9, "the streams' shares")
			if m.name() == "tcp" {
				// Generous: the window is 300 ms on a loaded machine.
				assert.InDelta(t, 1, res["link_frac"], 0.5, "raw TCP through the link: %.1f MiB/s", res["mibps"])
			}
		})
	}
}

// TestHeapSamplerSeesTransientHeap: heap that is gone by the end of a
// run, which a measure after a GC misses, shows in the sampled peak.
func TestHeapSamplerSeesTransientHeap(t *testing.T) {
	base := heapInuse()
	h := sampleHeap(base, nil)
	buf := make([]byte, 64<<20)
	buf[len(buf)-1] = 1
	h.sample() // as the ticker does, while buf is in use
	runtime.KeepAlive(buf)
	peak := h.end()
	assert.GreaterOrEqual(t, peak, int64(64<<20))
	assert.Less(t, int64(heapInuse())-int64(base), int64(64<<20), "after a GC only the peak shows it")
}

// TestWANOneStream runs the one-stream scenario over raw TCP through the
// second short link.
func TestWANOneStream(t *testing.T) {
	p := shortParams()
	sc, ok := findScenario("wan200x1")
	require.True(t, ok)
	res, err := runOnce(wanMux{"tcp", "tcp"}, sc, p)
	require.NoError(t, err)
	assert.InDelta(t, 1, res["link_frac"], 0.5, "%.1f MiB/s", res["mibps"])
	assert.NotContains(t, res, "fair_dev")
}

func TestWANMuxes(t *testing.T) {
	ms, err := parseWANMuxes("tcp,netmux,yamux-16m", "tcp,ws")
	require.NoError(t, err)
	var names []string
	for _, m := range ms {
		names = append(names, m.name())
	}
	assert.Equal(t, []string{"tcp", "netmux", "yamux-16m", "bare+ws", "netmux+ws", "yamux-16m+ws"}, names)
	_, err = parseWANMuxes("quic-go", "tcp")
	assert.Error(t, err)
	_, err = parseWANMuxes("tcp", "kcp")
	assert.Error(t, err)
	ms, err = parseWANMuxes("netmux", "opaque")
	require.NoError(t, err)
	assert.Equal(t, "netmux+opaque", ms[0].name())
	assert.Equal(t, "bare+opaque", carrierOf(ms[0].name()))

	target, rewrite := throughLink("ws://127.0.0.1:1234/netmux")
	assert.Equal(t, "127.0.0.1:1234", target)
	assert.Equal(t, "ws://127.0.0.1:99/netmux", rewrite("127.0.0.1:99"))
	target, rewrite = throughLink("127.0.0.1:1234")
	assert.Equal(t, "127.0.0.1:1234", target)
	assert.Equal(t, "127.0.0.1:99", rewrite("127.0.0.1:99"))
}

// TestOptInScenarios: "all" leaves the opt-in scenarios out, "wan"
// selects its four, and they run their own muxes.
func TestOptInScenarios(t *testing.T) {
	cfg, err := makeConfig("all", "peers", 1, true)
	require.NoError(t, err)
	for _, sc := range cfg.scenarios {
		assert.False(t, sc.optIn, sc.Name)
	}
	cfg, err = makeConfig("wan,sessions", "peers", 1, true)
	require.NoError(t, err)
	var names []string
	for _, sc := range cfg.scenarios {
		names = append(names, sc.Name)
	}
	assert.Equal(t, []string{"wan50x1", "wan50x8", "wan200x1", "wan200x8", "sessions"}, names)
	assert.Len(t, muxesFor(&cfg, cfg.scenarios[0]), 15, "5 wan muxes over 3 carriers")
	var sessionMuxes []string
	for _, m := range muxesFor(&cfg, cfg.scenarios[4]) {
		sessionMuxes = append(sessionMuxes, m.name())
	}
	assert.Equal(t, []string{"netmux", "yamux", "smux-v1", "smux-v2"}, sessionMuxes)
}

// TestFairShares: each stream's share of what arrived between two counts,
// and the largest deviation from an equal share relative to it.
func TestFairShares(t *testing.T) {
	shares, dev := fairShares([]int64{100, 0}, []int64{130, 10})
	assert.Equal(t, []float64{0.75, 0.25}, shares)
	assert.InDelta(t, 0.5, dev, 1e-9, "0.75 is half again an equal share")
	shares, dev = fairShares([]int64{5, 5}, []int64{5, 5})
	assert.Equal(t, []float64{0, 0}, shares, "nothing arrived")
	assert.Zero(t, dev)
}
