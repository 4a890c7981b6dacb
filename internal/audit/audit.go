// Package audit compares what the cluster declares (Organizations) with what
// MongoDB holds (collections, admin records, the ownership ledger) and
// reports what needs a human: tenants whose data was retained, collections
// that look like a tenant's but nobody owns, admin records without an
// Organization, Organizations whose data is missing, ledger entries of
// other clusters, and application-access users and roles nobody owns. It
// only reads. Analyze is pure (the controller's observer
// feeds its gauges from it at no extra cost); Run adds document counts.
package audit

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Report is what an audit found.
type Report struct {
	ClusterID         string             `json:"clusterID"`
	Retained          []Retained         `json:"retainedTenants"`
	OrphanCollections []OrphanCollection `json:"orphanCollections"`
	OrphanAdmins      []OrphanAdmin      `json:"orphanAdminRecords"`
	MissingLocations  []MissingLocation  `json:"missingLocations"`
	OtherClusters     []OtherCluster     `json:"otherClusters"`
	OrphanAccessUsers []OrphanAccessUser `json:"orphanAccessUsers"`
	OrphanAccessRoles []OrphanAccessRole `json:"orphanAccessRoles"`
}

// Retained is a tenant deleted with deletionPolicy Retain whose data is kept.
type Retained struct {
	Name          string     `json:"name"`
	UID           string     `json:"uid"`
	Location      string     `json:"location"`
	Documents     int64      `json:"documents"`
	RetainedSince *time.Time `json:"retainedSince,omitempty"`
	// Adopt is the annotation that gives the data to a new Organization of that name.
	Adopt string `json:"adopt"`
	// at is where the documents are counted.
	at mongostore.Location
}

// OrphanCollection looks like a tenant's collection, but no ledger entry
// and no Organization claims it.
type OrphanCollection struct {
	Collection string `json:"collection"`
	Documents  int64  `json:"documents"`
}

// OrphanAdmin is an admin record whose Organization does not exist.
type OrphanAdmin struct {
	Organization string `json:"organization"`
	Email        string `json:"email"`
}

// MissingLocation is an Organization whose status names a collection that does not exist.
type MissingLocation struct {
	Organization string `json:"organization"`
	Location     string `json:"location"`
}

// OtherCluster counts the ledger entries another cluster owns; when this
// cluster replaces that one (a rebuild without a configured cluster id),
// starting the manager with --cluster-id=<that id> picks them all up.
type OtherCluster struct {
	Cluster string   `json:"cluster"`
	Entries int      `json:"entries"`
	Tenants []string `json:"tenants"`
}

// NeedsAttention reports whether the audit found anything.
func (r *Report) NeedsAttention() bool {
	return len(r.Retained)+len(r.OrphanCollections)+len(r.OrphanAdmins)+len(r.MissingLocations)+len(r.OtherClusters)+
		len(r.OrphanAccessUsers)+len(r.OrphanAccessRoles) > 0
}

// Analyze compares the Organizations with an observation. It reads nothing
// itself; document counts are left at zero.
func Analyze(orgs []tenancyv1alpha1.Organization, obs *mongostore.Observation, clusterID string) *Report {
	r := &Report{ClusterID: clusterID}
	names, claimed := map[string]bool{}, map[string]bool{}
	for _, o := range orgs {
		names[o.Name] = true
		claimed[o.Status.Collection] = true
		if m := o.Status.Migration; m != nil {
			claimed[m.Source.Collection], claimed[m.Target.Collection] = true, true
		}
		if o.Status.Collection != "" && o.Status.Migration == nil && !obs.Collections[o.Status.Collection] {
			r.MissingLocations = append(r.MissingLocations, MissingLocation{Organization: o.Name, Location: o.Status.Collection})
		}
	}
	others := map[string]*OtherCluster{}
	for _, e := range sortedEntries(obs.Ledger) {
		claimed[e.Collection] = true
		switch {
		case e.Cluster != clusterID:
			oc := others[e.Cluster]
			if oc == nil {
				oc = &OtherCluster{Cluster: e.Cluster}
				others[e.Cluster] = oc
			}
			oc.Entries++
			oc.Tenants = append(oc.Tenants, e.Name)
		case e.State == mongostore.LedgerRetained:
			r.Retained = append(r.Retained, Retained{Name: e.Name, UID: e.UID, Location: e.Location().String(),
				RetainedSince: e.RetainedAt, Adopt: tenancyv1alpha1.AnnotationAdoptData + "=" + e.UID, at: e.Location()})
		}
	}
	for _, c := range sortedKeys(obs.Collections) {
		if strings.HasPrefix(c, tenancyv1alpha1.DedicatedCollectionPrefix) && !claimed[c] {
			r.OrphanCollections = append(r.OrphanCollections, OrphanCollection{Collection: c})
		}
	}
	for _, org := range sortedKeys(obs.Admins) {
		if !names[org] {
			r.OrphanAdmins = append(r.OrphanAdmins, OrphanAdmin{Organization: org, Email: obs.Admins[org].Email})
		}
	}
	for _, c := range sortedKeys(others) {
		r.OtherClusters = append(r.OtherClusters, *others[c])
	}
	return r
}

// Counter counts a tenant's documents at a location.
type Counter interface {
	CountTenant(ctx context.Context, l mongostore.Location) (int64, error)
}

// Run is Analyze plus the document count of each retained tenant and orphan collection.
func Run(ctx context.Context, orgs []tenancyv1alpha1.Organization, obs *mongostore.Observation, clusterID string,
	store Counter) (*Report, error) {
	r := Analyze(orgs, obs, clusterID)
	for i, t := range r.Retained {
		n, err := store.CountTenant(ctx, t.at)
		if err != nil {
			return nil, err
		}
		r.Retained[i].Documents = n
	}
	for i, c := range r.OrphanCollections {
		n, err := store.CountTenant(ctx, mongostore.Location{Collection: c.Collection})
		if err != nil {
			return nil, err
		}
		r.OrphanCollections[i].Documents = n
	}
	return r, nil
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format, args...) }
	p("Cluster id:\t%s\n", r.ClusterID)
	if !r.NeedsAttention() {
		p("Nothing needs attention.\n")
		return tw.Flush()
	}
	if len(r.Retained) > 0 {
		p("\nRETAINED TENANTS (deleted with deletionPolicy Retain; adopt by annotating a new Organization of that name)\n")
		p("NAME\tOLD UID\tLOCATION\tDOCUMENTS\tRETAINED SINCE\tADOPT WITH\n")
		for _, t := range r.Retained {
			since := "-"
			if t.RetainedSince != nil {
				since = t.RetainedSince.UTC().Format(time.RFC3339)
			}
			p("%s\t%s\t%s\t%d\t%s\t%s\n", t.Name, t.UID, t.Location, t.Documents, since, t.Adopt)
		}
	}
	if len(r.OrphanCollections) > 0 {
		p("\nCOLLECTIONS NOBODY OWNS (no ledger entry, no Organization)\nCOLLECTION\tDOCUMENTS\n")
		for _, c := range r.OrphanCollections {
			p("%s\t%d\n", c.Collection, c.Documents)
		}
	}
	if len(r.OrphanAdmins) > 0 {
		p("\nADMIN RECORDS WITHOUT AN ORGANIZATION\nORGANIZATION\tEMAIL\n")
		for _, a := range r.OrphanAdmins {
			p("%s\t%s\n", a.Organization, a.Email)
		}
	}
	if len(r.MissingLocations) > 0 {
		p("\nORGANIZATIONS WHOSE COLLECTION IS MISSING\nORGANIZATION\tCOLLECTION\n")
		for _, m := range r.MissingLocations {
			p("%s\t%s\n", m.Organization, m.Location)
		}
	}
	if len(r.OtherClusters) > 0 {
		p("\nTENANTS OF OTHER CLUSTERS (never adopted or dropped from here; if this cluster replaces one, restart the manager with --cluster-id=<CLUSTER>)\n")
		p("CLUSTER\tENTRIES\tTENANTS\n")
		for _, c := range r.OtherClusters {
			p("%s\t%d\t%s\n", c.Cluster, c.Entries, strings.Join(c.Tenants, ","))
		}
	}
	if len(r.OrphanAccessUsers) > 0 {
		p("\nACCESS USERS NO ORGANIZATIONACCESS OWNS (the operator never drops them; dropUser once nothing uses them)\n")
		p("USER\tORGANIZATION\n")
		for _, u := range r.OrphanAccessUsers {
			p("%s\t%s\n", u.User, orDash(u.Organization))
		}
	}
	if len(r.OrphanAccessRoles) > 0 {
		p("\nACCESS ROLES WITHOUT AN ORGANIZATION\nROLE\tORGANIZATION\n")
		for _, role := range r.OrphanAccessRoles {
			p("%s\t%s\n", role.Role, orDash(role.Organization))
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedEntries(m map[string]mongostore.LedgerEntry) []mongostore.LedgerEntry {
	out := make([]mongostore.LedgerEntry, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}
