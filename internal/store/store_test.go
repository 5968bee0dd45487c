package store_test

import (
	"testing"

	"github.com/tessera-iam/tessera/internal/store/storetest"
	"github.com/tessera-iam/tessera/internal/testkit"
)

// TestConformance runs the store conformance suite on SQLite and, when
// TESSERA_TEST_POSTGRES is set (always on CI), on PostgreSQL.
func TestConformance(t *testing.T) {
	testkit.EachDB(t, storetest.Run)
}

// TestConcurrency races writers against each other on both databases.
func TestConcurrency(t *testing.T) {
	testkit.EachDB(t, storetest.RunConcurrency)
}
