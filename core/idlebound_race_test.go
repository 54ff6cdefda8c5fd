//go:build race

package core_test

// idleSessionBound under -race, whose instrumented code needs larger
// stacks (an idle end measures about 16 KiB fresh, 19 KiB after
// carrying data; 9 and 14 KiB without -race).
const idleSessionBound = 24 << 10
