package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"time"
)

// floorSize is the bytes of one request and of its reply in the floor's
// round trips: about a small call's size.
const floorSize = 32

// floorEcho is the floor's other process: it accepts one connection on
// 127.0.0.1:0, having printed its address on out, and writes back every
// floorSize bytes it reads, reading and writing on one goroutine. It ends
// when in closes or the connection does.
func floorEcho(in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		io.Copy(io.Discard, in)
		os.Exit(0)
	}()
	fmt.Fprintln(out, ln.Addr())
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	ln.Close()
	buf := make([]byte, floorSize)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
}

// floor measures the physical limit of every row on this machine: a raw TCP
// round trip between two processes, floorSize bytes each way, each side
// reading and writing on one goroutine (no goroutine hand-off, no framing,
// no codec). It reports p50, p99 and mean as "floor_tcp" after p.Warmup
// round trips that it does not time.
func floor(ctx context.Context, p params) (Results, error) {
	c, addr, err := startChild(ctx, "floor")
	if err != nil {
		return nil, err
	}
	defer c.stop()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connecting to the echo process: %w", err)
	}
	defer conn.Close()
	req, resp := make([]byte, floorSize), make([]byte, floorSize)
	rt := func() error {
		if _, err := conn.Write(req); err != nil {
			return err
		}
		_, err := io.ReadFull(conn, resp)
		return err
	}
	for range p.Warmup {
		if err := rt(); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	ds, err := latencies(p.N, rt)
	if err != nil {
		return nil, err
	}
	res := Results{}
	res.report("floor_tcp", ds)
	return res, nil
}

// printFloor writes the floor's rows, when it was measured: the same
// figure in both columns, as it bounds both sides.
func (r *report) printFloor(w io.Writer) {
	for _, k := range []string{"p50", "p99"} {
		v := median(r.floor["floor_tcp."+k])
		if math.IsNaN(v) {
			continue
		}
		label := "floor: raw TCP round trip " + k
		if r.haveErl {
			fmt.Fprintf(w, "%s\tµs\t%.1f\t%.1f\t\t\t\t\n", label, v, v)
		} else {
			fmt.Fprintf(w, "%s\tµs\t%.1f\t\n", label, v)
		}
	}
}
