//go:build !((amd64 || arm64) && gc)

package interrupt

// gkey identifies the calling goroutine. Without an assembly getg for this
// platform it parses runtime.Stack, which costs microseconds.
func gkey() uintptr { return uintptr(GoroutineID()) }

// stackUsed would return how many bytes of its stack the calling goroutine
// uses; without assembly for this platform it returns 0, and Enter does not
// bound recursion.
func stackUsed() uintptr { return 0 }
