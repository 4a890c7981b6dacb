package main

import (
	"fmt"
	"math"
)

// series is one measured quantity sampled at a fixed interval.
type series struct {
	name string
	// unit formats a value for the report.
	unit func(float64) string
	// minGrowth is the growth over the fitted window below which a rise is
	// noise whatever its slope (an absolute floor), and relGrowth the same
	// as a fraction of the window's mean.
	minGrowth, relGrowth float64
	values               []float64
}

// slope is the least-squares slope of ys against their index (per sample).
func slope(ys []float64) float64 {
	n := float64(len(ys))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i, y := range ys {
		x := float64(i)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// leak fits a line over the last half of the samples and reports growth:
// the fitted rise across that half, and whether it exceeds both the
// absolute floor and the relative threshold. A quantity that settles (a
// cache filling, a pool warming) rises in the first half and is flat in
// the second; one that leaks keeps rising.
func (s series) leak() (growth float64, leaking bool) {
	if len(s.values) < 4 {
		return 0, false
	}
	half := s.values[len(s.values)/2:]
	growth = slope(half) * float64(len(half)-1)
	var mean float64
	for _, v := range half {
		mean += v
	}
	mean /= float64(len(half))
	return growth, growth > s.minGrowth && growth > s.relGrowth*math.Abs(mean)
}

func (s series) verdict() string {
	growth, leaking := s.leak()
	word := "flat"
	if leaking {
		word = "GROWING"
	}
	return fmt.Sprintf("%-24s fitted change over the last half %s: %s", s.name, s.unit(growth), word)
}
