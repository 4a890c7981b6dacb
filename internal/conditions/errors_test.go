package conditions

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{strings.Repeat("x", 5000), 1024}, {"short", 5}, {strings.Repeat("y", 1024), 1024}} {
		got := Truncate(tc.in, 1024)
		if len(got) != tc.want {
			t.Errorf("len(Truncate(%d bytes)) = %d, want %d", len(tc.in), len(got), tc.want)
		}
		if len(tc.in) > 1024 && !strings.HasSuffix(got, "...") {
			t.Errorf("a cut message must end in ...: %q", got[len(got)-5:])
		}
	}
}

func TestClassification(t *testing.T) {
	unreachable := fmt.Errorf("ping: %w", topology.ServerSelectionError{Wrapped: errors.New("no server")})
	stall := Stalled(tenancyv1alpha1.ReasonAccessNotAllowed, "namespace %s", "apps")
	for _, tc := range []struct {
		name              string
		err               error
		stalling, waiting bool
		reason            string
	}{
		{"stalling, wrapped", fmt.Errorf("step: %w", stall), true, false, tenancyv1alpha1.ReasonAccessNotAllowed},
		{"MongoDB unreachable", ClassifyMongo(unreachable), false, true, tenancyv1alpha1.ReasonMongoUnavailable},
		{"other errors stay transient", ClassifyMongo(errors.New("boom")), false, false, ""},
		{"nil stays nil", ClassifyMongo(nil), false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se, stalling := AsStalling(tc.err)
			we, waiting := AsWaiting(tc.err)
			if stalling != tc.stalling || waiting != tc.waiting {
				t.Fatalf("stalling %v waiting %v, want %v %v", stalling, waiting, tc.stalling, tc.waiting)
			}
			if stalling && se.Reason != tc.reason || waiting && we.Reason != tc.reason {
				t.Fatalf("reason of %v, want %s", tc.err, tc.reason)
			}
		})
	}
}
