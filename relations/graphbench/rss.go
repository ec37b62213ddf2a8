package graphbench

import (
	"bufio"
	"os"
	"strings"
)

// PeakRSS returns the process's peak resident set size as Linux reports it
// (VmHWM), or "unknown".
func PeakRSS() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
