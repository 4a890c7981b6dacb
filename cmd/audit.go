package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/audit"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/operator"
)

// Exit statuses of `manager audit`.
const (
	auditClean     = 0
	auditFailed    = 1
	auditBadFlags  = 2
	auditAttention = 3
)

// runAuditCommand runs `manager audit`: with the manager's own flags it connects to
// the cluster and MongoDB, reads (and never writes) what both hold, prints
// the report (a table, or JSON with -o json) and exits 0 when nothing needs
// attention, 3 when something does, 1 on an error, 2 on bad flags.
func runAuditCommand(args []string) int {
	opts, err := parseAuditOptions(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return auditClean
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "org-operator audit: %v\n", err)
		return auditBadFlags
	}
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	report, err := runAudit(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "org-operator audit: %v\n", err)
		return auditFailed
	}
	if opts.output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = report.WriteTable(os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "org-operator audit: %v\n", err)
		return auditFailed
	}
	if report.NeedsAttention() {
		return auditAttention
	}
	return auditClean
}

func runAudit(ctx context.Context, opts *options) (*audit.Report, error) {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	k8s, err := client.New(cfg, client.Options{Scheme: operator.Scheme})
	if err != nil {
		return nil, err
	}
	clusterID, err := operator.ClusterID(ctx, k8s, opts.operator.Controller.ClusterID)
	if err != nil {
		return nil, err
	}
	var orgs tenancyv1alpha1.OrganizationList
	if err := k8s.List(ctx, &orgs); err != nil {
		return nil, fmt.Errorf("listing Organizations: %w", err)
	}
	store, err := mongostore.Connect(opts.operator.Mongo)
	if err != nil {
		return nil, err
	}
	defer func() { _ = store.Close(context.Background()) }()
	obs, err := store.Observe(ctx, opts.operator.Controller.SharedCollection)
	if err != nil {
		return nil, err
	}
	report, err := audit.Run(ctx, orgs.Items, obs, clusterID, store)
	if err != nil {
		return nil, err
	}
	if err := auditAccess(ctx, k8s, store, orgs.Items, report); err != nil {
		return nil, err
	}
	return report, nil
}

// auditAccess adds the access users and roles nobody owns, as far as the
// server lists them (FerretDB v1 has users but no roles).
func auditAccess(ctx context.Context, k8s client.Client, store *mongostore.Store, orgs []tenancyv1alpha1.Organization,
	report *audit.Report) error {
	var accesses tenancyv1alpha1.OrganizationAccessList
	if err := k8s.List(ctx, &accesses); err != nil {
		return fmt.Errorf("listing OrganizationAccesses: %w", err)
	}
	caps, err := store.AccessCapabilities(ctx)
	if err != nil {
		return err
	}
	var users, roles []string
	if caps.Users {
		if users, err = store.Users(ctx, tenancyv1alpha1.AccessUserPrefix); err != nil {
			return err
		}
	}
	if caps.Roles {
		found, err := store.Roles(ctx, tenancyv1alpha1.AccessUserPrefix)
		if err != nil {
			return err
		}
		for _, r := range found {
			roles = append(roles, r.Name)
		}
	}
	report.AnalyzeAccess(accesses.Items, orgs, users, roles)
	return nil
}
