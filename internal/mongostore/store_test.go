//go:build integration

package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/mongostore"
)

var server *ferretdb.Server

func TestMain(m *testing.M) {
	var err error
	server, err = ferretdb.Start(ferretdb.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start FerretDB:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = server.Close()
	os.Exit(code)
}

// newStore connects to the shared FerretDB server, in a database of its own.
func newStore(t *testing.T, opts mongostore.Options) *mongostore.Store {
	t.Helper()
	if opts.URI == "" {
		opts.URI = server.URI()
	}
	if opts.Database == "" {
		opts.Database = strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	}
	s, err := mongostore.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func TestSmokePingCollectionUniqueIndex(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, mongostore.Options{})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	created, err := s.EnsureCollection(ctx, "things")
	if err != nil || !created {
		t.Fatalf("EnsureCollection = %v, %v; want created", created, err)
	}
	exists, err := s.CollectionExists(ctx, "things")
	if err != nil || !exists {
		t.Fatalf("CollectionExists = %v, %v; want true (an empty collection must exist)", exists, err)
	}
	if err := s.EnsureUniqueIndex(ctx, "things", "key"); err != nil {
		t.Fatalf("EnsureUniqueIndex: %v", err)
	}
	if err := s.InsertOne(ctx, "things", bson.D{{Key: "key", Value: "a"}}); err != nil {
		t.Fatalf("first insert: %v", err)
	}
	err = s.InsertOne(ctx, "things", bson.D{{Key: "key", Value: "a"}})
	if !mongostore.IsDuplicateKey(err) {
		t.Fatalf("second insert with the same key: got %v, want a duplicate-key error", err)
	}
	n, err := s.CountDocuments(ctx, "things", nil)
	if err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
}

func TestCollectionOperationsAreIdempotent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, mongostore.Options{})
	if created, err := s.EnsureCollection(ctx, "org_a"); err != nil || !created {
		t.Fatalf("first EnsureCollection = %v, %v", created, err)
	}
	if created, err := s.EnsureCollection(ctx, "org_a"); err != nil || created {
		t.Fatalf("second EnsureCollection = %v, %v; want not created, no error", created, err)
	}
	if err := s.InsertOne(ctx, "org_a", bson.D{{Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if dropped, err := s.DropCollection(ctx, "org_a"); err != nil || !dropped {
		t.Fatalf("DropCollection = %v, %v", dropped, err)
	}
	if exists, _ := s.CollectionExists(ctx, "org_a"); exists {
		t.Fatal("collection still exists after drop")
	}
	if dropped, err := s.DropCollection(ctx, "org_a"); err != nil || dropped {
		t.Fatalf("second DropCollection = %v, %v; want not dropped, no error", dropped, err)
	}
}

func TestAdminRecords(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, mongostore.Options{})
	a := mongostore.Admin{ID: "id-a", Organization: "a", Email: " Admin@A.example ", PasswordHash: "$argon2id$x",
		CredentialsVersion: 1, CredentialsFingerprint: "f1"}
	if err := s.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAdmin(ctx, "a")
	if err != nil || got == nil {
		t.Fatalf("GetAdmin = %v, %v", got, err)
	}
	if got.Email != "admin@a.example" || got.ID != "id-a" || got.CredentialsVersion != 1 {
		t.Fatalf("stored admin = %+v", got)
	}
	byEmail, err := s.GetAdminByEmail(ctx, "ADMIN@a.example")
	if err != nil || byEmail == nil || byEmail.Organization != "a" {
		t.Fatalf("GetAdminByEmail = %+v, %v", byEmail, err)
	}

	// A second record for the organization is refused; an update keeps the id.
	a.ID, a.CredentialsVersion = "other-id", 2
	if err := s.CreateAdmin(ctx, a); !errors.Is(err, mongostore.ErrAdminExists) {
		t.Fatalf("CreateAdmin of a second record = %v; want ErrAdminExists", err)
	}
	if err := s.UpdateAdmin(ctx, a); !errors.Is(err, mongostore.ErrAdminNotFound) {
		t.Fatalf("UpdateAdmin of an unknown id = %v; want ErrAdminNotFound", err)
	}
	a.ID = "id-a"
	if err := s.UpdateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetAdmin(ctx, "a")
	if got.ID != "id-a" || got.CredentialsVersion != 2 {
		t.Fatalf("after update: %+v; want id-a, version 2", got)
	}

	// A second organization claiming the email is refused, by insert...
	b := mongostore.Admin{ID: "id-b", Organization: "b", Email: "admin@a.example", PasswordHash: "h", CredentialsVersion: 1}
	if err := s.CreateAdmin(ctx, b); !errors.Is(err, mongostore.ErrEmailInUse) {
		t.Fatalf("CreateAdmin(b) with a's email = %v; want ErrEmailInUse", err)
	}
	if got, _ := s.GetAdmin(ctx, "b"); got != nil {
		t.Fatalf("b was written: %+v", got)
	}
	// ...and by update of an existing record.
	b.Email = "admin@b.example"
	if err := s.CreateAdmin(ctx, b); err != nil {
		t.Fatal(err)
	}
	b.Email = "admin@a.example"
	if err := s.UpdateAdmin(ctx, b); !errors.Is(err, mongostore.ErrEmailInUse) {
		t.Fatalf("update of b to a's email = %v; want ErrEmailInUse", err)
	}
	if got, _ := s.GetAdmin(ctx, "b"); got.Email != "admin@b.example" {
		t.Fatalf("b changed: %+v", got)
	}
	if got, _ := s.GetAdmin(ctx, "a"); got.Email != "admin@a.example" || got.CredentialsVersion != 2 {
		t.Fatalf("a changed: %+v", got)
	}

	if deleted, err := s.DeleteAdmin(ctx, "a"); err != nil || !deleted {
		t.Fatalf("DeleteAdmin = %v, %v", deleted, err)
	}
	if deleted, err := s.DeleteAdmin(ctx, "a"); err != nil || deleted {
		t.Fatalf("second DeleteAdmin = %v, %v", deleted, err)
	}
}

func TestUniqueIndexRaceOnUpdateIsReportedAsConflict(t *testing.T) {
	// The write itself fails on the unique index (no prior read can see the
	// conflict because it is created between the check and the write): the
	// store must still report ErrEmailInUse on MongoDB and on FerretDB, where
	// an update's index violation is an internal error rather than E11000.
	ctx := context.Background()
	s := newStore(t, mongostore.Options{})
	if err := s.CreateAdmin(ctx, mongostore.Admin{ID: "1", Organization: "x", Email: "x@e.example"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAdmin(ctx, mongostore.Admin{ID: "2", Organization: "y", Email: "y@e.example"}); err != nil {
		t.Fatal(err)
	}
	y := mongostore.Admin{ID: "2", Organization: "y", Email: "x@e.example"}
	err := s.UpdateAdminUnchecked(ctx, y)
	if err == nil {
		t.Fatal("the unique index on email did not reject the update")
	}
	t.Logf("server error for the update: %v", err)
	if got := s.ClassifyWriteError(ctx, err, y); !errors.Is(got, mongostore.ErrEmailInUse) {
		t.Fatalf("ClassifyWriteError = %v; want ErrEmailInUse", got)
	}
	if got, _ := s.GetAdmin(ctx, "y"); got.Email != "y@e.example" {
		t.Fatalf("y changed: %+v", got)
	}
}

func TestUnavailableServerIsClassified(t *testing.T) {
	srv, err := ferretdb.Start(ferretdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	s := newStore(t, mongostore.Options{URI: srv.URI(), ServerSelectionTimeout: 300 * time.Millisecond, OperationTimeout: time.Second})
	ctx := context.Background()
	if _, err := s.EnsureCollection(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertOne(ctx, "c", bson.D{{Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.CollectionExists(ctx, "c")
	if !mongostore.IsUnavailable(err) || !errors.Is(err, mongostore.ErrUnavailable) {
		t.Fatalf("error while stopped = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("call took %s; the per-call timeout did not apply", d)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// Data survives the outage.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.CountDocuments(ctx, "c", nil)
		if err == nil {
			if n != 1 {
				t.Fatalf("count after restart = %d; want 1", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestValidateURI(t *testing.T) {
	tests := []struct {
		uri     string
		wantErr string
	}{
		{"mongodb://localhost:27017/", ""},
		{"mongodb://user:pass@db1,db2/?replicaSet=rs0", ""},
		{"", "MongoDB URI is required"},
		{"http://localhost", "MongoDB URI is not valid"},
		{"mongodb://user:s3cret@host:notaport/", "MongoDB URI is not valid"},
	}
	for _, tt := range tests {
		err := mongostore.ValidateURI(tt.uri)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateURI(%q) = %v; want nil", tt.uri, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidateURI(%q) = %v; want %q", tt.uri, err, tt.wantErr)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("ValidateURI error leaks the password: %v", err)
		}
	}
}
