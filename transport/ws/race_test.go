//go:build race

package ws_test

// raceEnabled reports a -race build, where the library's pure-Go frame
// masking (every client-to-server byte, both ways of an echo) is
// instrumented and WebSocket throughput drops about tenfold.
const raceEnabled = true
