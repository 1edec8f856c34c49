package broken

// F doubles n.
func F(n int) int { return 2 * n }

// G calls F with a string: the file does not compile.
func G() int {
	return F("x")
}
