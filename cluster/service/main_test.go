package service

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the tests leave no goroutine behind: a closed
// server, connection or node stops everything it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
