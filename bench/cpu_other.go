//go:build !unix

package bench

import "time"

// cpuTime is not available on this platform; client CPU reads as zero.
func cpuTime() time.Duration { return 0 }
