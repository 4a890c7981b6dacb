// Package argocdhealth runs the Argo CD health checks of the operator's
// kinds (config/argocd/resource_customizations/<group>/<kind>/health.lua) the way Argo CD
// does: with gopher-lua, only the base, table and package libraries open
// (Argo CD's default for argocd-cm scripts, without useOpenLibs), and the
// object as the global obj. It is test support.
package argocdhealth

import (
	"fmt"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"

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
