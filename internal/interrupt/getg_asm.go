//go:build (amd64 || arm64) && gc

package interrupt

// getg returns the address of the runtime's descriptor of the calling
// goroutine (its g). It identifies the goroutine for as long as it runs: the
// runtime never moves a g, and reuses one only after its goroutine exited.
func getg() uintptr

// gkey identifies the calling goroutine cheaply (a few nanoseconds).
func gkey() uintptr { return getg() }

// stackUsed returns how many bytes of its stack the calling goroutine uses.
func stackUsed() uintptr
