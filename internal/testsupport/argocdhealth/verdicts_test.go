package argocdhealth

import (
	"testing"

	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func TestDisagreement(t *testing.T) {
	tests := []struct {
		state  string
		k      kstatus.Status
		argo   string
		agrees bool
	}{
		{"ready", kstatus.CurrentStatus, "Healthy", true},
		{"ready", kstatus.CurrentStatus, "Progressing", false},
		{"stalled-SecretNotFound", kstatus.FailedStatus, "Degraded", true},
		{"stalled-SecretNotFound", kstatus.InProgressStatus, "Progressing", false},
		{"waiting-MongoUnavailable", kstatus.InProgressStatus, "Progressing", true},
		{"waiting-MongoUnavailable", kstatus.FailedStatus, "Degraded", false},
		{"deleting", kstatus.TerminatingStatus, "Progressing", true},
		{"deleting", kstatus.TerminatingStatus, "Healthy", false},
	}
	for _, tt := range tests {
		v := Verdicts{KStatus: tt.k, Argo: Status{Status: tt.argo, Message: "m"}}
		if err := v.Disagreement("x", tt.state); (err == nil) != tt.agrees {
			t.Errorf("%s: kstatus %s, Argo CD %s: disagreement %v; want agreement %v", tt.state, tt.k, tt.argo, err, tt.agrees)
		}
	}
}
