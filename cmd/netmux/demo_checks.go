package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
)

// The demo's server side and its checks of half-close, reset and graceful
// close. Server and client run in one process, so the server reports what
// it saw to the checks directly.

// Demo stream commands: the first byte of every stream the demo opens.
const (
	cmdEcho      = 'E' // echo everything, then half-close
	cmdHalfClose = 'H' // 8-byte seed; the server sends data and half-closes first, then reads to EOF
	cmdAwaitRST  = 'R' // the server answers one byte, then reads until the client's reset
	cmdSendRST   = 'r' // 4-byte code; the server resets the stream with it
	cmdSink      = 'G' // the server reads to the end and reports what arrived
)

const (
	halfCloseSize = 64 << 10
	closeSize     = 1 << 20 // more than the initial window: Close must wait for credit
	resetCode     = core.ErrorCode(0x4e4d)
)

// demoServer is the demo's server side. Streams it checks report to the
// client side through reports (both run in this process).
type demoServer struct {
	reports chan serverReport
}

type serverReport struct {
	cmd byte
	n   int64
	sum uint32
	err error
}

func (d *demoServer) report(r serverReport) {
	select {
	case d.reports <- r:
	default: // nobody is waiting for it
	}
}

func (d *demoServer) serve(sess *core.Session) {
	var wg sync.WaitGroup
	for {
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			break
		}
		wg.Go(func() { d.handle(st) })
	}
	wg.Wait()
}

func (d *demoServer) handle(st *core.Stream) {
	defer st.Close()
	var cmd [1]byte
	if _, err := io.ReadFull(st, cmd[:]); err != nil {
		return
	}
	switch cmd[0] {
	case cmdEcho:
		_, err := io.Copy(st, st)
		if err == nil {
			err = st.CloseWrite()
		}
		if err != nil {
			st.Reset(core.CodeInternal)
		}
	case cmdHalfClose:
		var seed [8]byte
		_, err := io.ReadFull(st, seed[:])
		if err == nil {
			_, err = st.Write(payload(binary.BigEndian.Uint64(seed[:]), halfCloseSize))
		}
		if err == nil {
			err = st.CloseWrite()
		}
		n, sum, rerr := drain(st)
		d.report(serverReport{cmd: cmdHalfClose, n: n, sum: sum, err: errors.Join(err, rerr)})
	case cmdAwaitRST:
		_, err := st.Write([]byte{'!'})
		if err == nil {
			_, err = io.Copy(io.Discard, st)
		}
		d.report(serverReport{cmd: cmdAwaitRST, err: err})
	case cmdSendRST:
		var code [4]byte
		if _, err := io.ReadFull(st, code[:]); err == nil {
			st.Reset(core.ErrorCode(binary.BigEndian.Uint32(code[:])))
		}
	case cmdSink:
		n, sum, err := drain(st)
		d.report(serverReport{cmd: cmdSink, n: n, sum: sum, err: err})
	default:
		st.Reset(codeBadHeader)
	}
}

// wait returns the next report, which must be for cmd.
func (d *demoServer) wait(ctx context.Context, cmd byte) (serverReport, error) {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case r := <-d.reports:
		if r.cmd != cmd {
			return r, fmt.Errorf("server reported %q, want %q", r.cmd, cmd)
		}
		return r, nil
	case <-ctx.Done():
		return serverReport{}, ctx.Err()
	case <-t.C:
		return serverReport{}, errors.New("no report from the server")
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// drain reads r to its end and returns the byte count and CRC-32C.
func drain(r io.Reader) (int64, uint32, error) {
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, r)
	return n, h.Sum32(), err
}

// payload returns n pseudo-random bytes determined by seed.
func payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	newSource(seed).Read(b)
	return b
}

func newSource(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// checkHalfClose: the server sends data and half-closes first; the
// client reads it to EOF, then (its write half still open) sends its own
// data and half-closes; the server reads that to EOF. (Every echo stream
// checks the other order: the client half-closes first.)
func checkHalfClose(ctx context.Context, sess *core.Session, d *demoServer) error {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	seed := rand.Uint64()
	msg := []byte{cmdHalfClose, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(msg[1:], seed)
	if _, err := st.Write(msg); err != nil {
		return err
	}
	got, err := io.ReadAll(st)
	if err != nil {
		return fmt.Errorf("reading the server's data to EOF: %w", err)
	}
	if !bytes.Equal(got, payload(seed, halfCloseSize)) {
		return fmt.Errorf("server's data differs (%d of %d bytes)", len(got), halfCloseSize)
	}
	reply := payload(seed+1, halfCloseSize)
	if _, err := st.Write(reply); err != nil {
		return fmt.Errorf("writing after the peer's half-close: %w", err)
	}
	if err := st.CloseWrite(); err != nil {
		return err
	}
	r, err := d.wait(ctx, cmdHalfClose)
	if err != nil {
		return err
	}
	if r.err != nil || r.n != halfCloseSize || r.sum != crc32.Checksum(reply, castagnoli) {
		return fmt.Errorf("server got %d of %d bytes (err %v)", r.n, halfCloseSize, r.err)
	}
	return nil
}

// checkReset resets a stream from each side and checks that the peer
// sees a *core.StreamError with the code.
func checkReset(ctx context.Context, sess *core.Session, d *demoServer) error {
	// Client resets; the server's Read must fail with the code.
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var ack [1]byte
	if _, err := st.Write([]byte{cmdAwaitRST}); err != nil {
		return err
	}
	if _, err := io.ReadFull(st, ack[:]); err != nil { // the server has the stream
		return err
	}
	st.Reset(resetCode)
	r, err := d.wait(ctx, cmdAwaitRST)
	if err != nil {
		return err
	}
	if err := wantReset(r.err, resetCode); err != nil {
		return fmt.Errorf("server side: %w", err)
	}

	// Server resets; the client's Read must fail with the code.
	st2, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	defer st2.Close()
	msg := []byte{cmdSendRST, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[1:], uint32(resetCode+1))
	if _, err := st2.Write(msg); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, st2)
	if err := wantReset(err, resetCode+1); err != nil {
		return fmt.Errorf("client side: %w", err)
	}
	return nil
}

func wantReset(err error, code core.ErrorCode) error {
	var se *core.StreamError
	if !errors.As(err, &se) || se.Code != code || !se.Remote {
		return fmt.Errorf("want a reset by the peer with %v, got %v", code, err)
	}
	return nil
}

// checkStreamClose writes 1 MiB and closes the stream at once: every byte
// must arrive, followed by a clean EOF.
func checkStreamClose(ctx context.Context, sess *core.Session, d *demoServer) error {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	data := append([]byte{cmdSink}, payload(rand.Uint64(), closeSize)...)
	if _, err := st.Write(data); err != nil {
		st.Close()
		return err
	}
	st.Close()
	return wantSink(ctx, d, data[1:], true)
}

// checkSessionClose writes 1 MiB on a stream and closes the whole session
// at once, leaving the stream open: every byte must still arrive.
func checkSessionClose(ctx context.Context, sess *core.Session, d *demoServer) error {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	data := append([]byte{cmdSink}, payload(rand.Uint64(), closeSize)...)
	if _, err := st.Write(data); err != nil {
		return err
	}
	if err := sess.Close(); err != nil && !errors.Is(err, core.ErrSessionClosed) {
		return err
	}
	return wantSink(ctx, d, data[1:], false)
}

func wantSink(ctx context.Context, d *demoServer, want []byte, cleanEOF bool) error {
	r, err := d.wait(ctx, cmdSink)
	if err != nil {
		return err
	}
	if r.n != int64(len(want)) || r.sum != crc32.Checksum(want, castagnoli) || cleanEOF && r.err != nil {
		return fmt.Errorf("server got %d of %d bytes (err %v)", r.n, len(want), r.err)
	}
	return nil
}
