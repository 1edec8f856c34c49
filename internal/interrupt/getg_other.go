//go:build !((amd64 || arm64) && gc)

package interrupt

// gkey identifies the calling goroutine. Without an assembly getg for this
// platform it parses runtime.Stack, which costs microseconds.
func gkey() uintptr { return uintptr(GoroutineID()) }
