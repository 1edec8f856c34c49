package mismatch

// Lookup keeps only the first of rpc.call's two results: refused.
func Lookup(node string) any {
	r := rpc.call(node, "kvs", "lookup", "weather")
	return r
}
