//go:build integration

package seed_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/seed"
)

// TestInsertManySurvivesARestartedStore: the chaos suite seeds documents
// right after the store was SIGKILLed and restarted; the writer's pooled
// connection is then dead, and the documents must still arrive exactly once.
func TestInsertManySurvivesARestartedStore(t *testing.T) {
	ctx := context.Background()
	srv, err := ferretdb.Start(ferretdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	w, err := seed.ConnectMongo(srv.URI(), "orgs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(ctx) })
	if err := w.InsertMany(ctx, "c", []any{bson.D{{Key: "_id", Value: "before"}}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := w.InsertMany(ctx, "c", []any{bson.D{{Key: "_id", Value: "x"}}, bson.D{{Key: "_id", Value: "y"}}}); err != nil {
		t.Fatalf("insert after the store restarted: %v", err)
	}
	r, err := check.ConnectMongo(srv.URI(), "orgs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	n, err := r.Count(ctx, "c", bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d documents, want 3 (each exactly once)", n)
	}
}
