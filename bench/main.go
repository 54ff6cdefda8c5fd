// Command bench runs netmux side by side with raw TCP and peer
// multiplexers (hashicorp/yamux, xtaci/smux v1 and v2, native quic-go
// streams) over loopback, with both ends in this process, and prints a
// table per scenario: median over rounds, min–max spread, and the ratio
// to raw TCP (one TCP connection per stream). It also writes the results
// as JSON.
//
//	cd bench && go run .                       # every scenario, default muxes, 3 rounds
//	go run -C bench . -scenarios bulk1,rpc -rounds 5
//	go run -C bench . -muxes transports        # netmux over tcp, tls, ws, quic, kcp
//	go run -C bench . -muxes netmux -scenarios bulk1 -rounds 10 -cpuprofile cpu.pprof
//	go run -C bench . -scenarios wan -rounds 1     # opt-in: over emulated 50 and 200 ms links (~7 min)
//	go run -C bench . -scenarios sessions -muxes netmux,yamux,smux-v1   # opt-in: 10,000 idle session pairs
//
// The opt-in scenarios are not in "all": wan (wan50x1, wan50x8, wan200x1,
// wan200x8) runs its own muxes (-wanmuxes over -wancarriers) through an
// emulated link (link.go) and takes about 7 minutes a round; sessions
// holds 20,000 sockets and, with today's netmux, gigabytes of heap.
//
// docs/benchmarks.md in the repository explains the scenarios and keeps
// the latest results.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/netmux/netmux/core"
)

// config is what the flags select.
type config struct {
	scenarios []scenario
	muxes     []mux
	wanMuxes  []mux // the wan scenarios' muxes, in place of muxes
	rounds    int
	params    params
	short     bool
	prof      *profiler
	progress  io.Writer // per-run lines; nil for none
}

func main() {
	// quic-go logs once when it cannot raise the UDP receive buffer to
	// 7 MiB; that is expected on an untuned machine.
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")

	scenarioList := flag.String("scenarios", "all", "comma list of scenarios: "+scenarioNames()+" (or all)")
	muxList := flag.String("muxes", "peers", "comma list of muxes: "+strings.Join(allMuxNames, ", ")+
		"; or the groups peers ("+strings.Join(peerMuxes, ",")+"), transports ("+strings.Join(transportMuxes, ",")+"), all")
	rounds := flag.Int("rounds", 3, "rounds; the mux order rotates between rounds")
	jsonFile := flag.String("json", "bench-results.json", "write results as JSON to this file (empty: don't)")
	short := flag.Bool("short", false, "tiny sizes: a smoke run, not a measurement")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the -profilemux runs, one file per scenario (cpu.pprof -> cpu-bulk1.pprof)")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the -profilemux runs, one file per scenario")
	profileMux := flag.String("profilemux", "netmux", "the mux whose runs -cpuprofile and -memprofile record")
	quiet := flag.Bool("q", false, "no per-run progress lines on stderr")
	wanMuxList := flag.String("wanmuxes", defaultWANBases, "the wan scenarios' muxes, each over every -wancarriers: "+strings.Join(wanBases, ", ")+
		" (tcp is the carrier alone, a connection per stream)")
	wanCarriers := flag.String("wancarriers", defaultWANCarriers, "the wan scenarios' carriers: tcp, tls, ws, and opaque (TCP through the tcp adapter behind a struct that hides the socket from core)")
	pairs := flag.Int("pairs", 0, "sessions: idle session pairs (0: 10,000, or 50 with -short)")
	flag.Parse()

	cfg, err := makeConfig(*scenarioList, *muxList, *rounds, *short)
	if err == nil {
		cfg.wanMuxes, err = parseWANMuxes(*wanMuxList, *wanCarriers)
	}
	if *pairs > 0 {
		cfg.params.SessionPairs = *pairs
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		flag.Usage()
		os.Exit(2)
	}
	cfg.prof = newProfiler(*profileMux, *cpuProfile, *memProfile)
	if !*quiet {
		cfg.progress = os.Stderr
	}

	rep := run(cfg, os.Stdout)

	if *jsonFile != "" {
		if err := writeJSON(*jsonFile, rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Printf("results written to %s\n", *jsonFile)
	}
	files, err := cfg.prof.write()
	for _, f := range files {
		fmt.Printf("profile written to %s\n", f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		os.Exit(1)
	}
	if rep.Failures > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d runs failed\n", rep.Failures)
		os.Exit(1)
	}
}

// scenarioNames lists the scenarios, the opt-in ones (which "all" leaves
// out) in brackets, and the groups.
func scenarioNames() string {
	var names, optIn, groups []string
	for _, sc := range scenarios {
		if !sc.optIn {
			names = append(names, sc.Name)
			continue
		}
		optIn = append(optIn, sc.Name)
		if g := sc.group; g != "" && !slices.Contains(groups, g) {
			groups = append(groups, g)
			optIn = append(optIn, g+" (every "+g+"*)")
		}
	}
	return strings.Join(names, ", ") + "; opt-in, not in all: " + strings.Join(optIn, ", ")
}

func makeConfig(scenarioList, muxList string, rounds int, short bool) (config, error) {
	cfg := config{rounds: rounds, short: short, params: fullParams()}
	if short {
		cfg.params = shortParams()
	}
	if rounds < 1 {
		return cfg, fmt.Errorf("-rounds %d: want at least 1", rounds)
	}
	for _, n := range strings.Split(scenarioList, ",") {
		switch n = strings.TrimSpace(n); n {
		case "":
		case "all":
			for _, sc := range scenarios {
				if !sc.optIn {
					cfg.scenarios = append(cfg.scenarios, sc)
				}
			}
		default:
			group := groupScenarios(n)
			if len(group) > 0 {
				cfg.scenarios = append(cfg.scenarios, group...)
				continue
			}
			sc, ok := findScenario(n)
			if !ok {
				return cfg, fmt.Errorf("unknown scenario %q (known: %s)", n, scenarioNames())
			}
			cfg.scenarios = append(cfg.scenarios, sc)
		}
	}
	if len(cfg.scenarios) == 0 {
		return cfg, fmt.Errorf("no scenarios selected")
	}
	var err error
	if cfg.muxes, err = parseMuxes(muxList); err != nil {
		return cfg, err
	}
	cfg.wanMuxes, err = parseWANMuxes(defaultWANBases, defaultWANCarriers)
	return cfg, err
}

// ---- the report ----

type report struct {
	Machine   machine          `json:"machine"`
	Short     bool             `json:"short"`
	Rounds    int              `json:"rounds"`
	Params    params           `json:"params"`
	Muxes     []string         `json:"muxes"`
	Scenarios []scenarioReport `json:"scenarios"`
	Failures  int              `json:"failures"`
}

type machine struct {
	CPU        string    `json:"cpu"`
	Cores      int       `json:"cores"`
	GoVersion  string    `json:"go_version"`
	OS         string    `json:"os"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	LoadBefore string    `json:"loadavg_before"`
	LoadAfter  string    `json:"loadavg_after"`
}

type scenarioReport struct {
	Name    string      `json:"name"`
	Desc    string      `json:"description"`
	Metrics []metric    `json:"metrics"`
	Results []muxResult `json:"results"`
	// StealPercent is the share of CPU time the hypervisor took from this
	// machine while the scenario ran (Linux guests; absent elsewhere).
	StealPercent *float64 `json:"steal_percent,omitempty"`
}

type muxResult struct {
	Mux     string             `json:"mux"`
	Metrics map[string]summary `json:"metrics"`
	// RatioToTCP is this mux's median over raw TCP's, per metric.
	RatioToTCP map[string]float64 `json:"ratio_to_tcp,omitempty"`
	// RatioToCarrier is, for netmux over a carrier, its median over the
	// bare carrier's (netmux+tls over bare+tls), per metric.
	RatioToCarrier map[string]float64 `json:"ratio_to_carrier,omitempty"`
	Errors         []string           `json:"errors,omitempty"`
}

// rawName is the reference mux of the ratio column.
const rawName = "tcp"

// run runs every scenario over every mux, cfg.rounds times, printing a
// table per scenario to out.
func run(cfg config, out io.Writer) report {
	rep := report{
		Machine: machine{CPU: cpuModel(), Cores: runtime.NumCPU(), GoVersion: runtime.Version(),
			OS: runtime.GOOS + "/" + runtime.GOARCH, Start: time.Now(), LoadBefore: loadavg()},
		Short:  cfg.short,
		Rounds: cfg.rounds,
		Params: cfg.params,
	}
	for _, m := range cfg.muxes {
		rep.Muxes = append(rep.Muxes, m.name())
	}
	fmt.Fprintf(out, "netmux bench: %s, %d cores, %s, load %s; %d rounds%s\n\n", rep.Machine.CPU,
		rep.Machine.Cores, rep.Machine.GoVersion, rep.Machine.LoadBefore, cfg.rounds, map[bool]string{true: " (-short)"}[cfg.short])

	for _, sc := range cfg.scenarios {
		cpu0, haveCPU := readCPUTimes()
		samples := map[string]map[string][]float64{}
		failures := map[string][]string{}
		muxes := muxesFor(&cfg, sc)
		for r := range cfg.rounds {
			for i := range muxes {
				m := muxes[(i+r)%len(muxes)] // rotate the order each round
				profiled := cfg.prof.wants(m.name())
				if profiled {
					if err := cfg.prof.start(); err != nil {
						fmt.Fprintln(os.Stderr, "bench: profile:", err)
						profiled = false
					}
				}
				t0 := time.Now()
				res, err := runOnce(m, sc, cfg.params)
				took := time.Since(t0)
				if profiled {
					if perr := cfg.prof.stop(sc.Name); perr != nil {
						fmt.Fprintln(os.Stderr, "bench: profile:", perr)
					}
				}
				if err != nil {
					failures[m.name()] = append(failures[m.name()], fmt.Sprintf("round %d: %v", r+1, err))
					rep.Failures++
				} else {
					if samples[m.name()] == nil {
						samples[m.name()] = map[string][]float64{}
					}
					for k, v := range res {
						samples[m.name()][k] = append(samples[m.name()][k], v)
					}
				}
				if cfg.progress != nil {
					fmt.Fprintf(cfg.progress, "%-7s round %d/%d %-12s %s (%.1fs)\n", sc.Name, r+1, cfg.rounds,
						m.name(), progressLine(sc, res, err), took.Seconds())
				}
				settle()
			}
		}
		sr := scenarioReport{Name: sc.Name, Desc: sc.Desc, Metrics: sc.Metrics}
		for _, m := range muxes {
			mr := muxResult{Mux: m.name(), Metrics: map[string]summary{}, Errors: failures[m.name()]}
			for k, v := range samples[m.name()] {
				mr.Metrics[k] = summarize(v)
			}
			sr.Results = append(sr.Results, mr)
		}
		addRatios(&sr)
		if cpu1, ok := readCPUTimes(); ok && haveCPU {
			if pct, ok := cpu1.stealPercentSince(cpu0); ok {
				sr.StealPercent = &pct
			}
		}
		rep.Scenarios = append(rep.Scenarios, sr)
		printTable(out, sr, cfg.params)
		if sr.StealPercent != nil && *sr.StealPercent >= 0.5 {
			fmt.Fprintf(out, "host steal during %s: %.1f %% of CPU time (the hypervisor ran something else; compare with care)\n",
				sc.Name, *sr.StealPercent)
		}
		printCarrierRatios(out, sr)
		if sc.Name == "fair" {
			printFairVsBulk1(out, rep)
		}
	}
	rep.Machine.End = time.Now()
	rep.Machine.LoadAfter = loadavg()
	fmt.Fprintf(out, "load average after: %s\n", rep.Machine.LoadAfter)
	return rep
}

// settle lets the previous run's sessions wind down before the next one.
func settle() {
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
}

func progressLine(sc scenario, res map[string]float64, err error) string {
	if err != nil {
		return "FAILED: " + err.Error()
	}
	var parts []string
	for _, m := range sc.Metrics {
		parts = append(parts, fmt.Sprintf("%s %s", num(res[m.Key]), m.Label))
	}
	return strings.Join(parts, ", ")
}

func addRatios(sr *scenarioReport) {
	byName := map[string]*muxResult{}
	for i := range sr.Results {
		byName[sr.Results[i].Mux] = &sr.Results[i]
	}
	for i := range sr.Results {
		r := &sr.Results[i]
		r.RatioToTCP = ratios(sr.Metrics, r, byName[rawName])
		r.RatioToCarrier = ratios(sr.Metrics, r, byName[carrierOf(r.Mux)])
	}
}

// ratios is r's median over ref's, per metric, or nil without ref.
func ratios(metrics []metric, r, ref *muxResult) map[string]float64 {
	if ref == nil {
		return nil
	}
	var out map[string]float64
	for _, m := range metrics {
		a, okA := r.Metrics[m.Key]
		b, okB := ref.Metrics[m.Key]
		// A ratio to (nearly) nothing, such as allocations per op
		// against raw TCP's zero, says nothing: leave it out.
		if okA && okB && math.Abs(b.Median) >= 0.01 {
			if out == nil {
				out = map[string]float64{}
			}
			out[m.Key] = a.Median / b.Median
		}
	}
	return out
}

// printCarrierRatios prints, for each netmux-over-carrier mux measured
// next to its bare carrier, the ratio of their medians.
func printCarrierRatios(out io.Writer, sr scenarioReport) {
	var parts []string
	for _, r := range sr.Results {
		if len(r.RatioToCarrier) == 0 {
			continue
		}
		var vs []string
		for _, m := range sr.Metrics {
			if v, ok := r.RatioToCarrier[m.Key]; ok {
				vs = append(vs, fmt.Sprintf("%s %.2f", m.Label, v))
			}
		}
		parts = append(parts, fmt.Sprintf("%s x%s: %s", r.Mux, carrierOf(r.Mux), strings.Join(vs, ", ")))
	}
	if len(parts) > 0 {
		fmt.Fprintf(out, "netmux over its bare carrier: %s\n\n", strings.Join(parts, "; "))
	}
}

// printTable prints one scenario: per mux and metric the median, the
// min–max spread over rounds and the ratio to raw TCP.
func printTable(out io.Writer, sr scenarioReport, p params) {
	fmt.Fprintf(out, "== %s: %s\n", sr.Name, describe(sr.Name, p))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"mux"}
	for _, m := range sr.Metrics {
		dir := "↑"
		if m.Lower {
			dir = "↓"
		}
		hdr = append(hdr, m.Label+" "+dir, "min–max", "x"+rawName)
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for _, r := range sr.Results {
		row := []string{r.Mux}
		if len(r.Metrics) == 0 {
			row = append(row, "failed")
			for range len(sr.Metrics)*3 - 1 {
				row = append(row, "")
			}
		} else {
			for _, m := range sr.Metrics {
				s, ok := r.Metrics[m.Key]
				if !ok {
					row = append(row, "-", "-", "-")
					continue
				}
				ratio := "-"
				if v, ok := r.RatioToTCP[m.Key]; ok {
					ratio = fmt.Sprintf("%.2f", v)
				}
				row = append(row, num(s.Median), num(s.Min)+"–"+num(s.Max), ratio)
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	for _, r := range sr.Results {
		for _, e := range r.Errors {
			fmt.Fprintf(out, "  %s: %s\n", r.Mux, e)
		}
	}
	fmt.Fprintln(out)
}

// printFairVsBulk1 prints how much of its own bulk1 throughput each mux
// kept while serving RPCs in the fair scenario.
func printFairVsBulk1(out io.Writer, rep report) {
	var bulk1, fair *scenarioReport
	for i := range rep.Scenarios {
		switch rep.Scenarios[i].Name {
		case "bulk1":
			bulk1 = &rep.Scenarios[i]
		case "fair":
			fair = &rep.Scenarios[i]
		}
	}
	if bulk1 == nil || fair == nil {
		return
	}
	var parts []string
	for _, f := range fair.Results {
		fb, ok1 := f.Metrics["bulk_mibps"]
		for _, b := range bulk1.Results {
			if b.Mux != f.Mux {
				continue
			}
			if bb, ok2 := b.Metrics["mibps"]; ok1 && ok2 && bb.Median > 0 {
				parts = append(parts, fmt.Sprintf("%s %.2f", f.Mux, fb.Median/bb.Median))
			}
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(out, "fair bulk MiB/s as a fraction of the same mux's bulk1: %s\n\n", strings.Join(parts, ", "))
	}
}

// describe is the scenario's description with the sizes in force.
func describe(name string, p params) string {
	switch name {
	case "bulk1":
		return fmt.Sprintf("one stream, %s in %s writes", size(p.Bulk1Bytes), size(int64(p.WriteSize)))
	case "bulk64":
		return fmt.Sprintf("%d streams x %s concurrently", p.Bulk64Streams, size(p.Bulk64Bytes))
	case "rpc":
		return fmt.Sprintf("%d streams, each a closed loop of %d B request / %d B echo, %v", p.RPCStreams, p.RPCSize, p.RPCSize, p.RPCDuration)
	case "fair":
		return fmt.Sprintf("one stream sends bulk non-stop while another does %d B echo RPCs for %v", p.RPCSize, p.RPCDuration)
	case "open":
		return fmt.Sprintf("%d x (open, write 1 B, close) in a plain loop; peer accepts, reads, closes", p.OpenCount)
	case "idle":
		return fmt.Sprintf("%d streams opened at once and held idle; heap and goroutines per stream, both ends", p.IdleStreams)
	case "allocs":
		return fmt.Sprintf("%d roundtrips of %s write + echo on one stream", p.AllocRounds, size(int64(p.AllocSize)))
	case "wan50x1", "wan200x1", "wan50x8", "wan200x8":
		link := p.WANLinks[0]
		if strings.HasPrefix(name, "wan200") {
			link = p.WANLinks[1]
		}
		what, streams := "one stream writes", 1
		d := ""
		if strings.HasSuffix(name, "x8") {
			what, streams = fmt.Sprintf("%d streams write", p.WANStreams), p.WANStreams+1
			d = fmt.Sprintf("; beside them %d B echo RPCs", p.RPCSize)
		}
		d = fmt.Sprintf("link %v; %s %s chunks non-stop; received in %v after %v", link, what, size(int64(p.WriteSize)), p.WANMeasure, p.WANWarmup) + d
		// netmux's documented bound on unread data at both ends, for n
		// streams: 2 x (n x InitialStreamWindow + SessionReceiveBudget).
		cfg := core.DefaultConfig()
		bound := func(n int) string {
			b := 2 * (int64(n)*int64(cfg.InitialStreamWindow) + int64(cfg.SessionReceiveBudget))
			return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
		}
		return d + fmt.Sprintf("; heap: both ends, after GC at the end; heap peak: both ends, sampled every %v"+
			" (netmux's documented bound on unread data, both ends: 2 x (MaxStreams x InitialStreamWindow + SessionReceiveBudget) = %s; for these %d streams 2 x (%d x %s + %s) = %s)",
			heapSampleEvery, bound(cfg.MaxStreams), streams, streams, size(int64(cfg.InitialStreamWindow)),
			size(int64(cfg.SessionReceiveBudget)), bound(streams))
	case "sessions":
		return fmt.Sprintf("%d idle session pairs (or as many as the open-file limit allows) over loopback TCP, %d dialing at once; heap+stacks and goroutines per end", p.SessionPairs, p.SessionDialers)
	}
	return name
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// num formats a metric with about three significant digits.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "NaN"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1 || a == 0:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func writeJSON(file string, rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// cpuTimes is the first ("cpu") line of /proc/stat: the machine's CPU
// time so far, in clock ticks.
type cpuTimes struct{ total, steal uint64 }

// readCPUTimes reads /proc/stat; false where there is none.
func readCPUTimes() (cpuTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseCPUTimes(line)
}

// parseCPUTimes parses "cpu user nice system idle iowait irq softirq
// steal ...": steal is the eighth number, and the total the sum of the
// first eight (guest time is already counted in user).
func parseCPUTimes(line string) (cpuTimes, bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, false
	}
	var t cpuTimes
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cpuTimes{}, false
		}
		t.total += n
		if i == 7 {
			t.steal = n
		}
	}
	return t, true
}

// stealPercentSince returns the share of CPU time stolen since then.
func (t cpuTimes) stealPercentSince(then cpuTimes) (float64, bool) {
	if t.total <= then.total || t.steal < then.steal {
		return 0, false
	}
	return 100 * float64(t.steal-then.steal) / float64(t.total-then.total), true
}

// loadavg returns the 1, 5 and 15 minute load averages, or "?".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
