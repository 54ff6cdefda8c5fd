package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// quic-go logs once per process when it cannot get 7 MiB UDP receive
	// buffers; harmless on loopback.
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	goleak.VerifyTestMain(m,
		// kcp-go's process-wide timed scheduler starts at package init and
		// never stops (see transport/kcp's doc). Nothing else may outlive
		// the tests.
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).sched"),
		goleak.IgnoreTopFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).prepend"),
	)
}
