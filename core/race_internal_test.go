//go:build race

package core

// raceEnabled reports a -race build, where sync.Pool drops a quarter of
// what is put back (to expose misuse), so pooled buffers are sometimes
// allocated anew.
const raceEnabled = true
