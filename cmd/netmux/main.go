// Command netmux shows the multiplexer at work.
//
//	netmux demo [-streams N] [-size BYTES] [-duration D]
//
// demo starts a server and a client in one process on loopback TCP, opens
// many concurrent streams, echoes checksummed data, measures throughput
// and round-trip time, exercises half-close, reset and graceful close, and
// prints a table. It exits non-zero if anything failed.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ExitOnError)
		opts := demoOptions{}
		fs.IntVar(&opts.streams, "streams", 64, "concurrent streams")
		fs.IntVar(&opts.size, "size", 1<<20, "bytes echoed per stream")
		fs.DurationVar(&opts.duration, "duration", 0, "keep echoing rounds for this long (0: one round)")
		fs.Parse(os.Args[2:])
		if err := runDemo(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, "netmux demo:", err)
			os.Exit(1)
		}
	default:
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: netmux demo [-streams N] [-size BYTES] [-duration D]")
}
