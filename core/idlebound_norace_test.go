//go:build !race

package core_test

// idleSessionBound is the most heap plus stack an idle session end may
// hold over TCP, its socket included: what hashicorp/yamux holds (about
// 16 KiB in bench's sessions scenario). Before issue 17 an end held
// 282 KiB, most of it buffers taken at the start and kept: a session that
// holds a read chunk (64 KiB) or a batch buffer fails this. An idle end
// measures about 9 KiB fresh and 14 KiB after carrying data (its
// goroutines' stacks grew).
const idleSessionBound = 16 << 10
