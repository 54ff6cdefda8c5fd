package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/google/pprof/profile"
)

// profiler records CPU and allocation profiles of one mux's runs only
// (netmux by default). Every run of that mux in a scenario, over all
// rounds, is profiled separately and the profiles are merged, so the file
// for a scenario covers exactly those runs:
//
//   - CPU: pprof.StartCPUProfile around each run.
//   - allocations: the "allocs" profile taken after a GC before and after
//     each run; the file holds the difference (what the run allocated).
type profiler struct {
	mux              string
	cpuFile, memFile string

	cpuBuf  bytes.Buffer
	memBase *profile.Profile
	cpu     map[string][]*profile.Profile // by scenario
	mem     map[string][]*profile.Profile
	order   []string // scenarios in the order first profiled
}

// memProfileRate is the allocation sampling rate used when -memprofile is
// given: finer than the default 512 KiB, so scenarios that allocate
// little still show where.
const memProfileRate = 4 << 10

func newProfiler(mux, cpuFile, memFile string) *profiler {
	if cpuFile == "" && memFile == "" {
		return nil
	}
	if memFile != "" {
		runtime.MemProfileRate = memProfileRate
	}
	return &profiler{mux: mux, cpuFile: cpuFile, memFile: memFile,
		cpu: map[string][]*profile.Profile{}, mem: map[string][]*profile.Profile{}}
}

// wants reports whether runs of mux m are profiled.
func (p *profiler) wants(m string) bool { return p != nil && p.mux == m }

func (p *profiler) start() error {
	if p.memFile != "" {
		base, err := allocsProfile()
		if err != nil {
			return err
		}
		p.memBase = base
	}
	if p.cpuFile != "" {
		p.cpuBuf.Reset()
		if err := pprof.StartCPUProfile(&p.cpuBuf); err != nil {
			return err
		}
	}
	return nil
}

func (p *profiler) stop(scenario string) error {
	if _, ok := p.cpu[scenario]; !ok {
		if _, ok := p.mem[scenario]; !ok {
			p.order = append(p.order, scenario)
		}
	}
	if p.cpuFile != "" {
		pprof.StopCPUProfile()
		prof, err := profile.Parse(&p.cpuBuf)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		p.cpu[scenario] = append(p.cpu[scenario], prof)
	}
	if p.memFile != "" && p.memBase != nil {
		after, err := allocsProfile()
		if err != nil {
			return err
		}
		p.memBase.Scale(-1)
		diff, err := profile.Merge([]*profile.Profile{after, p.memBase})
		if err != nil {
			return fmt.Errorf("alloc profile diff: %w", err)
		}
		p.memBase = nil
		// Encoding and parsing the "before" snapshot allocated after it
		// was taken: that is the profiler's own work, not the run's.
		diff.FilterSamplesByName(nil, profilerFrames, nil, nil)
		p.mem[scenario] = append(p.mem[scenario], dropZero(diff))
	}
	return nil
}

// write merges each scenario's profiles into its files and returns their
// names.
func (p *profiler) write() ([]string, error) {
	if p == nil {
		return nil, nil
	}
	var files []string
	for _, sc := range p.order {
		for _, f := range []struct {
			base  string
			profs []*profile.Profile
		}{{p.cpuFile, p.cpu[sc]}, {p.memFile, p.mem[sc]}} {
			if f.base == "" || len(f.profs) == 0 {
				continue
			}
			merged, err := profile.Merge(f.profs)
			if err != nil {
				return files, fmt.Errorf("%s: merge: %w", sc, err)
			}
			if f.base == p.memFile {
				merged.DefaultSampleType = "alloc_space"
			}
			name := withScenario(f.base, sc)
			out, err := os.Create(name)
			if err != nil {
				return files, err
			}
			err = merged.Write(out)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return files, err
			}
			files = append(files, name)
		}
	}
	return files, nil
}

// profilerFrames matches the stack frames of the profiler itself.
var profilerFrames = regexp.MustCompile(`^(runtime/pprof\.|github\.com/google/pprof/|main\.allocsProfile|main\.\(\*profiler\))`)

// allocsProfile returns the cumulative allocation profile, current as of
// a fresh GC (the runtime publishes it at the end of a cycle).
func allocsProfile() (*profile.Profile, error) {
	runtime.GC()
	var buf bytes.Buffer
	if err := pprof.Lookup("allocs").WriteTo(&buf, 0); err != nil {
		return nil, err
	}
	return profile.Parse(&buf)
}

// dropZero removes samples whose values are all zero (stacks that
// allocated nothing during the run).
func dropZero(p *profile.Profile) *profile.Profile {
	kept := p.Sample[:0]
	for _, s := range p.Sample {
		for _, v := range s.Value {
			if v != 0 {
				kept = append(kept, s)
				break
			}
		}
	}
	p.Sample = kept
	return p
}

// withScenario inserts "-scenario" before the file's extension:
// cpu.pprof becomes cpu-bulk1.pprof.
func withScenario(file, scenario string) string {
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + "-" + scenario + ext
}
