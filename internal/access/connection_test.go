package access

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

func TestEndpointURI(t *testing.T) {
	for _, tc := range []struct {
		name, base, want string
	}{
		{"the operator's credentials and authSource go, the apps' come",
			"mongodb://operator:s3cret@db-0.db:27017,db-1.db:27017/admin?replicaSet=rs0&authSource=admin&tls=true",
			"mongodb://oa.acme.u.a:p%40ss%2Fword@db-0.db:27017,db-1.db:27017/orgs?authSource=orgs&replicaSet=rs0&tls=true"},
		{"SRV, an X.509 operator: its mechanism goes too",
			"mongodb+srv://cluster0.example.net/?authMechanism=MONGODB-X509&retryWrites=true",
			"mongodb+srv://oa.acme.u.a:p%40ss%2Fword@cluster0.example.net/orgs?authSource=orgs&retryWrites=true"},
		{"a bare host", "mongodb://127.0.0.1:27018/", "mongodb://oa.acme.u.a:p%40ss%2Fword@127.0.0.1:27018/orgs?authSource=orgs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEndpoint(tc.base)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.URI("oa.acme.u.a", "p@ss/word", "orgs")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("URI\n got %s\nwant %s", got, tc.want)
			}
			if strings.Contains(got, "s3cret") || strings.Contains(got, "operator") {
				t.Fatal("the operator's credentials reached an application")
			}
		})
	}
	for _, bad := range []string{"postgres://u:secretpw@h/db", "mongodb://secretpw@/", "no scheme secretpw"} {
		_, err := ParseEndpoint(bad)
		if !errors.Is(err, ErrBaseURI) {
			t.Errorf("ParseEndpoint(%q) = %v, want ErrBaseURI", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("the error shows the URI: %v", err)
		}
	}
}

func TestSecretData(t *testing.T) {
	e, _ := ParseEndpoint("mongodb://127.0.0.1:27018/")
	shared := orgAt("acme", "shared_tenants", true, false)
	c, err := NewConnection(e, shared, "oa.acme.u.a", "pw-1")
	if err != nil {
		t.Fatal(err)
	}
	data, err := SecretData(c, map[string]string{
		"MONGO_URL":         "{{ .URI }}",
		"application.props": "mongo.host={{ .Hosts }}\nmongo.db={{ .Database }}\nmongo.collection={{ .Collection }}\n",
		"filter":            `{{ .Filter }} ({{ .Tenancy }})`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"uri":               "mongodb://oa.acme.u.a:pw-1@127.0.0.1:27018/orgs?authSource=orgs",
		"MONGO_URL":         "mongodb://oa.acme.u.a:pw-1@127.0.0.1:27018/orgs?authSource=orgs",
		"username":          "oa.acme.u.a",
		"password":          "pw-1",
		"database":          "orgs",
		"collection":        "shared_tenants",
		"authSource":        "orgs",
		"filter":            `{"organization":"acme"} (Shared)`,
		"application.props": "mongo.host=127.0.0.1:27018\nmongo.db=orgs\nmongo.collection=shared_tenants\n",
	}
	if len(data) != len(want) {
		t.Fatalf("%d keys, want %d: %v", len(data), len(want), data)
	}
	for k, v := range want {
		if string(data[k]) != v {
			t.Errorf("%s = %q, want %q", k, data[k], v)
		}
	}
	dedicated, _ := NewConnection(e, orgAt("acme", "org_acme", false, false), "u", "p")
	if d, _ := SecretData(dedicated, nil); string(d["filter"]) != "{}" {
		t.Errorf("a Dedicated tenant's filter is %q, want {}", d["filter"])
	}
	for key, tmpl := range map[string]string{"broken": "{{ .URI ", "unknown": "{{ .Nope }}"} {
		_, err := SecretData(c, map[string]string{key: tmpl})
		if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), key) {
			t.Errorf("template %q: %v, want ErrTemplate naming %s", tmpl, err, key)
		}
		if err != nil && strings.Contains(err.Error(), "pw-1") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestAllowed(t *testing.T) {
	org := orgAt("acme", "org_acme", false, false)
	if ok, _ := Allowed(org, "apps", nil); ok {
		t.Fatal("without spec.access no namespace may bind")
	}
	org.Spec.Access = &tenancyv1alpha1.AccessPolicy{Namespaces: []string{"apps"}}
	if ok, _ := Allowed(org, "apps", nil); !ok {
		t.Fatal("a listed namespace may bind")
	}
	if ok, _ := Allowed(org, "other", map[string]string{"team": "acme"}); ok {
		t.Fatal("an unlisted namespace without a selector may not")
	}
	org.Spec.Access.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "acme"}}
	if ok, _ := Allowed(org, "other", map[string]string{"team": "acme"}); !ok {
		t.Fatal("a namespace the selector matches may bind")
	}
	if ok, _ := Allowed(org, "other", map[string]string{"team": "globex"}); ok {
		t.Fatal("a namespace the selector does not match may not")
	}
	org.Spec.Access.NamespaceSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}
	if ok, err := Allowed(org, "other", map[string]string{"team": "acme"}); ok || err == nil {
		t.Fatalf("a selector that does not parse allows nothing and says so: %v %v", ok, err)
	}
}
