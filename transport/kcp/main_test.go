package kcp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// kcp-go starts a process-wide timed scheduler at package init (one
// sched goroutine per CPU plus one prepend goroutine) that runs every
// session's update; it never stops. Nothing else of kcp-go may outlive
// the connections and listeners of a test.
const (
	kcpSched   = "github.com/xtaci/kcp-go/v5.(*TimedSched).sched"
	kcpPrepend = "github.com/xtaci/kcp-go/v5.(*TimedSched).prepend"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// IgnoreAnyFunction: a sched goroutine may be inside a session's
		// update (or waiting for its lock) when the check runs.
		goleak.IgnoreAnyFunction(kcpSched),
		goleak.IgnoreTopFunction(kcpPrepend),
	)
}
