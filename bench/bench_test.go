package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	os.Exit(m.Run())
}

// TestSmoke runs every scenario over every mux with tiny sizes. Each
// scenario checks that the bytes it sent arrived (lengths, echoes, stream
// counts) and fails otherwise; no timing is asserted.
func TestSmoke(t *testing.T) {
	p := shortParams()
	for _, sc := range scenarios {
		if sc.optIn {
			continue // their own tests run them
		}
		for _, name := range allMuxNames {
			t.Run(sc.Name+"/"+name, func(t *testing.T) {
				m, err := newMux(name)
				if err != nil {
					t.Fatal(err)
				}
				if !runsScenario(m, sc.Name) {
					t.Skipf("%s does not run %s", name, sc.Name)
				}
				res, err := runOnce(m, sc, p)
				if err != nil {
					t.Fatal(err)
				}
				for _, mt := range sc.Metrics {
					v, ok := res[mt.Key]
					if !ok {
						t.Errorf("metric %s missing", mt.Key)
						continue
					}
					// Rates and latencies must be positive; the idle and
					// allocs counts may be zero.
					if !mt.Lower && v <= 0 {
						t.Errorf("%s = %v, want > 0", mt.Key, v)
					}
				}
			})
		}
	}
}

// runClean runs the command's loop with tiny sizes and fails the test if
// any run failed. It returns the report and the printed tables.
func runClean(t *testing.T, scenarios, muxes string, rounds int) (report, string) {
	t.Helper()
	cfg, err := makeConfig(scenarios, muxes, rounds, true)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep := run(cfg, &out)
	if rep.Failures != 0 {
		t.Fatalf("%d failures:\n%s", rep.Failures, out.String())
	}
	return rep, out.String()
}

// TestRunReport runs the command's loop on two muxes and checks the table
// and the JSON report.
func TestRunReport(t *testing.T) {
	rep, out := runClean(t, "bulk1,fair,allocs", "tcp,netmux", 2)
	for _, want := range []string{"== bulk1:", "== fair:", "== allocs:", "netmux", "xtcp", "fraction of the same mux's bulk1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	file := filepath.Join(t.TempDir(), "r.json")
	if err := writeJSON(file, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Scenarios) != 3 || len(back.Scenarios[0].Results) != 2 {
		t.Fatalf("report has %d scenarios", len(back.Scenarios))
	}
	for _, sr := range back.Scenarios {
		for _, r := range sr.Results {
			s := r.Metrics[sr.Metrics[0].Key]
			if len(s.Samples) != 2 {
				t.Errorf("%s/%s: %d samples, want 2", sr.Name, r.Mux, len(s.Samples))
			}
			// Ratios are left out against a raw median near zero
			// (allocations per op); elsewhere raw TCP's is 1.
			ratio, ok := r.RatioToTCP[sr.Metrics[0].Key]
			if r.Mux == "tcp" && (ok && ratio != 1 || !ok && sr.Name == "bulk1") {
				t.Errorf("%s: tcp ratio %v (present %v), want 1", sr.Name, ratio, ok)
			}
		}
	}
}

// TestCarrierRatio checks the per-transport comparison: netmux over TLS
// gets a ratio to bare TLS, and the bare carrier sits out the scenarios it
// does not run.
func TestCarrierRatio(t *testing.T) {
	rep, out := runClean(t, "bulk1,open", "bare+tls,netmux+tls", 1)
	bulk1, open := rep.Scenarios[0], rep.Scenarios[1]
	if len(bulk1.Results) != 2 || len(open.Results) != 1 || open.Results[0].Mux != "netmux+tls" {
		t.Fatalf("bulk1 has %d results, open %+v; want bare+tls only in bulk1", len(bulk1.Results), open.Results)
	}
	r := bulk1.Results[1]
	if r.Mux != "netmux+tls" || r.RatioToCarrier["mibps"] <= 0 {
		t.Errorf("%s: ratio to carrier %v, want > 0", r.Mux, r.RatioToCarrier)
	}
	if !strings.Contains(out, "netmux+tls xbare+tls: MiB/s") {
		t.Errorf("output lacks the carrier ratio:\n%s", out)
	}
}

func TestProfiler(t *testing.T) {
	dir := t.TempDir()
	cfg, err := makeConfig("bulk1", "netmux,tcp", 2, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.prof = newProfiler("netmux", filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof"))
	rep := run(cfg, new(bytes.Buffer))
	if rep.Failures != 0 {
		t.Fatalf("%d failures", rep.Failures)
	}
	files, err := cfg.prof.write()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("wrote %v, want two files", files)
	}
	for _, f := range []string{"cpu-bulk1.pprof", "mem-bulk1.pprof"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{3, 1, 2, 10})
	if s.Median != 2.5 || s.Min != 1 || s.Max != 10 {
		t.Errorf("summarize = %+v", s)
	}
	if s := summarize([]float64{5, 1, 3}); s.Median != 3 {
		t.Errorf("odd median = %v", s.Median)
	}
	lat := latencies{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	if p := percentile(lat, 0.5); p != 5 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(lat, 0.99); p != 10 {
		t.Errorf("p99 = %v", p)
	}
}

func TestParseMuxes(t *testing.T) {
	ms, err := parseMuxes("peers,netmux+kcp,tcp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.name())
	}
	want := strings.Join(append(append([]string{}, peerMuxes...), "netmux+kcp"), ",")
	if got := strings.Join(names, ","); got != want {
		t.Errorf("muxes %s, want %s", got, want)
	}
	if _, err := parseMuxes("nope"); err == nil {
		t.Error("unknown mux accepted")
	}
	if _, err := makeConfig("nope", "tcp", 1, true); err == nil {
		t.Error("unknown scenario accepted")
	}
}

// TestIdlePastAcceptBacklog opens more streams at once than netmux's
// accept backlog (256): admission makes the openers wait, so nothing is
// refused and no goroutine is left per stream.
func TestIdlePastAcceptBacklog(t *testing.T) {
	p := shortParams()
	p.IdleStreams = 600
	sc, _ := findScenario("idle")
	res, err := runOnce(netmuxMux{carrier: "tcp"}, sc, p)
	if err != nil {
		t.Fatal(err)
	}
	if res["goroutines_per_stream"] > 0.01 {
		t.Errorf("%v goroutines per stream", res["goroutines_per_stream"])
	}
}

func TestCPUTimes(t *testing.T) {
	before, ok := parseCPUTimes("cpu  1257666 0 746233 2086674 3538 0 147847 66584 0 0")
	require.True(t, ok)
	after, ok := parseCPUTimes("cpu  1277489 0 762723 2101844 3538 0 154044 69882 0 0")
	require.True(t, ok)
	pct, ok := after.stealPercentSince(before)
	require.True(t, ok)
	// 3298 stolen ticks of 3298+19823+16490+15170+6197 = 60978.
	assert.InDelta(t, 100*3298.0/60978, pct, 1e-9)

	_, ok = parseCPUTimes("cpu0 1 2 3 4 5 6 7 8")
	assert.False(t, ok, "a per-CPU line")
	_, ok = parseCPUTimes("cpu 1 2 3")
	assert.False(t, ok, "too few fields (an old kernel without steal)")
	_, ok = before.stealPercentSince(after)
	assert.False(t, ok, "time going backwards")
}
