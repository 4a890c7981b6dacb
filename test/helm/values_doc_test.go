package helm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// schemaNode is the part of values.schema.json the test walks.
type schemaNode struct {
	Properties map[string]schemaNode `json:"properties"`
}

// leaves are the dotted paths of the schema's values without sub-properties.
func (n schemaNode) leaves(prefix string) []string {
	var out []string
	for k, child := range n.Properties {
		if len(child.Properties) > 0 {
			out = append(out, child.leaves(prefix+k+".")...)
		} else {
			out = append(out, prefix+k)
		}
	}
	return out
}

// The README's values table lists exactly the values the schema knows (a
// value added to the chart must be documented, a documented one exist).
func TestREADMEValuesTableMatchesTheSchema(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir(), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema schemaNode
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	want := schema.leaves("")
	slices.Sort(want)

	readme, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start, end := strings.Index(text, "<!-- values-table"), strings.Index(text, "<!-- /values-table -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no values table between <!-- values-table --> markers")
	}
	var got []string
	token := regexp.MustCompile("`([A-Za-z][A-Za-z0-9.]*)`")
	for _, line := range strings.Split(text[start:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "Value" {
			continue
		}
		parent := ""
		for _, m := range token.FindAllStringSubmatch(cells[1], -1) {
			name := m[1]
			if !strings.Contains(name, ".") && schema.Properties[name].Properties == nil && parent != "" {
				if _, top := schema.Properties[name]; !top {
					name = parent + "." + name // "`a.b` / `c`" is a.b and a.c
				}
			}
			if i := strings.LastIndex(name, "."); i > 0 {
				parent = name[:i]
			}
			got = append(got, name)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		var missing, unknown []string
		for _, w := range want {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				unknown = append(unknown, g)
			}
		}
		t.Fatalf("the README's values table lacks %v and lists %v, which the schema does not have", missing, unknown)
	}
}
