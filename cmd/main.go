// Command manager runs the org-operator: the Organization controller and,
// beside it, the tenant-admin REST API.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/org-operator/org-operator/internal/operator"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "audit" {
		os.Exit(runAuditCommand(os.Args[2:]))
	}
	opts, err := parseOptions(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		// One clear line, no stack trace: this is a configuration mistake.
		fmt.Fprintf(os.Stderr, "org-operator: %v\n", err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	limit, err := applyMemoryLimit(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "org-operator: %v\n", err)
		os.Exit(2)
	}
	if limit > 0 {
		ctrl.Log.WithName("setup").Info("Go memory limit set from the container's", "GOMEMLIMIT", limit)
	}
	if err := run(opts); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(opts *options) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	op, err := operator.New(cfg, opts.operator)
	if err != nil {
		return err
	}
	return op.Start(ctrl.SetupSignalHandler())
}
