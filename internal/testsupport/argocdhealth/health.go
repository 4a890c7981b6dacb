// Package argocdhealth runs the Argo CD health checks of the operator's
// kinds (config/argocd/resource_customizations/<group>/<kind>/health.lua) the way Argo CD
// does: with gopher-lua, only the base, table and package libraries open
// (Argo CD's default for argocd-cm scripts, without useOpenLibs), and the
// object as the global obj. It is test support.
package argocdhealth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// Kinds are the kinds with a health check.
var Kinds = []string{"Organization", "OrganizationAccess", "MongoBackend"}

// Dir is kind's health check folder, in Argo CD's resource_customizations layout.
func Dir(kind string) string {
	return filepath.Join(controlplane.RepoRoot(), "config", "argocd", "resource_customizations", "tenancy.org-operator.io", kind)
}

// Status is what the script returns.
type Status struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Evaluate runs kind's health.lua on obj (an object as decoded from JSON).
func Evaluate(kind string, obj map[string]any) (Status, error) {
	script, err := os.ReadFile(filepath.Join(Dir(kind), "health.lua"))
	if err != nil {
		return Status{}, err
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(string(script)); err != nil {
		return Status{}, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return Status{}, fmt.Errorf("health.lua returned %s, not a table", l.Get(-1).Type())
	}
	return Status{Status: lua.LVAsString(table.RawGetString("status")), Message: lua.LVAsString(table.RawGetString("message"))}, nil
}

// toLua converts a JSON value as Argo CD's decodeValue does.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(v))
	}
}

// Verdicts are what kstatus (Flux, kubectl wait) and Argo CD's health
// check say of one object.
type Verdicts struct {
	KStatus  kstatus.Status
	KMessage string
	Argo     Status
}

// Judge computes both verdicts on u, an object of kind as served.
func Judge(kind string, u *unstructured.Unstructured) (Verdicts, error) {
	k, err := kstatus.Compute(u)
	if err != nil {
		return Verdicts{}, err
	}
	argo, err := Evaluate(kind, u.Object)
	if err != nil {
		return Verdicts{}, fmt.Errorf("health.lua failed on %s: %w", u.GetName(), err)
	}
	if argo.Message == "" {
		return Verdicts{}, fmt.Errorf("health.lua gave %s no message", u.GetName())
	}
	return Verdicts{KStatus: k.Status, KMessage: k.Message, Argo: argo}, nil
}

// progressing is Argo CD's health of an object still on its way.
const progressing = "Progressing"

// agreeing maps each kstatus status to the Argo CD health it must match.
var agreeing = map[kstatus.Status]string{kstatus.CurrentStatus: "Healthy", kstatus.InProgressStatus: progressing,
	kstatus.TerminatingStatus: progressing, kstatus.FailedStatus: "Degraded"}

// Disagreement says how the verdicts on an object in state (a suite's
// name for it: "stalled-<reason>" needs a human, "waiting-<reason>" heals
// by itself) break the contract, nil when they keep it: a stall is Failed
// for kstatus (Flux fails fast), a wait is InProgress and never Degraded
// (Argo CD would fail the sync), and the two always map onto each other.
func (v Verdicts) Disagreement(name, state string) error {
	describe := fmt.Sprintf("%s in state %s: kstatus %s (%s), Argo CD %s (%s)", name, state, v.KStatus, v.KMessage, v.Argo.Status, v.Argo.Message)
	switch {
	case strings.HasPrefix(state, "stalled-") && v.KStatus != kstatus.FailedStatus:
		return errors.New("a stall must be Failed for kstatus: " + describe)
	case strings.HasPrefix(state, "waiting-") && (v.Argo.Status != progressing || v.KStatus != kstatus.InProgressStatus):
		return errors.New("a self-healing state must be Progressing / InProgress, never Degraded: " + describe)
	case agreeing[v.KStatus] != v.Argo.Status:
		return errors.New("kstatus and Argo CD disagree: " + describe)
	}
	return nil
}

// StateOf names the health state of an object from its own fields, as the
// suites record them: deleting, new, stalled-<reason> (Stalled=True for the
// current generation), waiting-<reason> (Reconciling=True for it:
// observedGeneration advances only on success or a stall), changed (status
// behind the spec), ready, reconciling.
func StateOf(obj metav1.Object, observed int64, conds []metav1.Condition) string {
	ready := meta.FindStatusCondition(conds, "Ready")
	stalled := meta.FindStatusCondition(conds, "Stalled")
	reconciling := meta.FindStatusCondition(conds, "Reconciling")
	switch {
	case obj.GetDeletionTimestamp() != nil:
		return "deleting"
	case observed == 0 && len(conds) == 0:
		return "new"
	case stalled != nil && stalled.Status == metav1.ConditionTrue && observed == obj.GetGeneration():
		return "stalled-" + stalled.Reason
	case reconciling != nil && reconciling.Status == metav1.ConditionTrue && reconciling.ObservedGeneration == obj.GetGeneration():
		return "waiting-" + reconciling.Reason
	case observed < obj.GetGeneration():
		return "changed"
	case ready != nil && ready.Status == metav1.ConditionTrue:
		return "ready"
	}
	return "reconciling"
}

// Agree checks that kstatus and the Argo CD health check agree on obj, a
// typed object of kind as served, in state (StateOf), and returns it as
// the unstructured object the checks read (for States.Record).
func Agree(kind string, obj runtime.Object, state string) (*unstructured.Unstructured, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetAPIVersion("tenancy.org-operator.io/v1alpha1")
	u.SetKind(kind)
	v, err := Judge(kind, u)
	if err != nil {
		return nil, err
	}
	return u, v.Disagreement(u.GetName(), state)
}
