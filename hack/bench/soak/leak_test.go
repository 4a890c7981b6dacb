package main

import "testing"

func TestLeak(t *testing.T) {
	ramp := func(n int, start, step float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = start + step*float64(i)
		}
		return out
	}
	settles := append(ramp(15, 50, 10), ramp(15, 200, 0)...) // warms up, then flat
	noisy := []float64{100, 104, 97, 101, 99, 103, 98, 102, 100, 97, 103, 99, 101, 100}
	for _, tc := range []struct {
		name   string
		values []float64
		leak   bool
	}{
		{"flat", ramp(30, 100, 0), false},
		{"settles after warming up", settles, false},
		{"noise around a level", noisy, false},
		{"keeps rising", ramp(30, 100, 2), true},
		{"rises only in the second half", append(ramp(15, 100, 0), ramp(15, 100, 3)...), true},
		{"too few samples", []float64{1, 100, 1000}, false},
		{"falls", ramp(30, 200, -3), false},
	} {
		s := series{name: tc.name, minGrowth: 5, relGrowth: 0.1, values: tc.values}
		if _, got := s.leak(); got != tc.leak {
			t.Errorf("%s: leak = %v, want %v (values %v)", tc.name, got, tc.leak, tc.values)
		}
	}
}

func TestSlope(t *testing.T) {
	if got := slope([]float64{1, 3, 5, 7}); got != 2 {
		t.Fatalf("slope = %v, want 2", got)
	}
	if got := slope([]float64{4}); got != 0 {
		t.Fatalf("slope of one sample = %v, want 0", got)
	}
}
