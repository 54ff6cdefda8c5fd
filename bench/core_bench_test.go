package main

// Go benchmarks of netmux's hot paths, for comparing changes to core with
// benchstat:
//
//	cd bench && go test -run '^$' -bench . -count 10 > old.txt
//	(change core)
//	cd bench && go test -run '^$' -bench . -count 10 > new.txt
//	benchstat old.txt new.txt
//
// Each runs over transport/mem (an in-memory pipe: the mux alone, no
// kernel) and over loopback TCP through transport/tcp.

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/netmux/netmux/transport/tcp"
)

var carriers = []struct {
	name string
	pair func(b *testing.B) (client, server io.ReadWriteCloser)
}{
	{"mem", func(b *testing.B) (io.ReadWriteCloser, io.ReadWriteCloser) {
		c, s := mem.Pipe()
		return c, s
	}},
	{"tcp", func(b *testing.B) (io.ReadWriteCloser, io.ReadWriteCloser) {
		ln, err := tcp.Listen(loopback)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		ch := make(chan io.ReadWriteCloser, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				b.Error(err)
			}
			ch <- c
		}()
		c, err := tcp.Dialer{}.Dial(context.Background(), ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s := <-ch
		if s == nil {
			b.FailNow()
		}
		return c, s
	}},
}

// sessions starts a client and a server session over a carrier pair and
// closes them when the benchmark ends.
func sessions(b *testing.B, pair func(*testing.B) (io.ReadWriteCloser, io.ReadWriteCloser)) (c, s *core.Session) {
	b.Helper()
	cc, sc := pair(b)
	c, err := core.Client(cc, core.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	s, err = core.Server(sc, core.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); c.Close() }()
		go func() { defer wg.Done(); s.Close() }()
		wg.Wait()
	})
	return c, s
}

// streamPair opens a stream on c and accepts it on s.
func streamPair(b *testing.B, c, s *core.Session) (cs, ss *core.Stream) {
	b.Helper()
	ctx := context.Background()
	cs, err := c.OpenStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ss, err = s.AcceptStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return cs, ss
}

// BenchmarkStreamWriteRead: one stream, 32 KiB writes, the peer drains.
func BenchmarkStreamWriteRead(b *testing.B) {
	for _, cr := range carriers {
		b.Run(cr.name, func(b *testing.B) {
			c, s := sessions(b, cr.pair)
			cs, ss := streamPair(b, c, s)
			buf := pattern(32 << 10)
			done := make(chan int64)
			go func() {
				n, _ := io.Copy(io.Discard, ss)
				done <- n
			}()
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := cs.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			cs.CloseWrite()
			<-done
		})
	}
}

// echoStream echoes size-byte messages on st until EOF.
func echoStream(st io.ReadWriteCloser, size int) {
	defer st.Close()
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(st, buf); err != nil {
			return
		}
		if _, err := st.Write(buf); err != nil {
			return
		}
	}
}

func benchRoundTrip(b *testing.B, size int) {
	for _, cr := range carriers {
		b.Run(cr.name, func(b *testing.B) {
			c, s := sessions(b, cr.pair)
			cs, ss := streamPair(b, c, s)
			go echoStream(ss, size)
			req, resp := pattern(size), make([]byte, size)
			b.SetBytes(int64(2 * size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := cs.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(cs, resp); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cs.Close()
		})
	}
}

// BenchmarkRoundTrip4K: 4 KiB write and its echo on one stream.
func BenchmarkRoundTrip4K(b *testing.B) { benchRoundTrip(b, 4<<10) }

// BenchmarkRoundTrip64: 64 B write and its echo on one stream.
func BenchmarkRoundTrip64(b *testing.B) { benchRoundTrip(b, 64) }

// BenchmarkParallelRPC: GOMAXPROCS*4 streams doing 64 B roundtrips at
// once (b.RunParallel), the rpc scenario's hot path.
func BenchmarkParallelRPC(b *testing.B) {
	for _, cr := range carriers {
		b.Run(cr.name, func(b *testing.B) {
			c, s := sessions(b, cr.pair)
			go func() {
				for {
					st, err := s.AcceptStream(context.Background())
					if err != nil {
						return
					}
					go echoStream(st, 64)
				}
			}()
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				st, err := c.OpenStream(context.Background())
				if err != nil {
					b.Error(err)
					return
				}
				defer st.Close()
				req, resp := pattern(64), make([]byte, 64)
				for pb.Next() {
					if _, err := st.Write(req); err != nil {
						b.Error(err)
						return
					}
					if _, err := io.ReadFull(st, resp); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOpenClose: open, write 1 B, close in a plain loop; the peer
// accepts, reads to EOF and closes. OpenStream waits for room itself.
func BenchmarkOpenClose(b *testing.B) {
	for _, cr := range carriers {
		b.Run(cr.name, func(b *testing.B) {
			c, s := sessions(b, cr.pair)
			done := make(chan struct{})
			go func() {
				defer close(done)
				var buf [8]byte
				for {
					st, err := s.AcceptStream(context.Background())
					if err != nil {
						return
					}
					for {
						if _, err := st.Read(buf[:]); err != nil {
							break
						}
					}
					st.Close()
				}
			}()
			one := []byte{1}
			opener := netmuxSession{s: c}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				st, err := opener.Open()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.Write(one); err != nil {
					b.Fatal(err)
				}
				st.Close()
			}
			// Wait for the peer to finish them all: once every stream is
			// forgotten on this side, the peer has closed each.
			for c.NumStreams() > 0 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
		})
	}
}
