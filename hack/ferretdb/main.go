// Command ferretdb runs FerretDB v1 (internal/devenv/ferretdb: SQLite or PostgreSQL
// backend) as its own process, for `make dev`, the scale benchmark and the
// chaos suite, which need a store they can kill (SIGKILL) and start again
// on the same data. It prints one line when it accepts connections and
// stops cleanly on SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
)

func main() {
	var o ferretdb.Options
	backend := flag.String("backend", string(ferretdb.SQLite), "storage backend: sqlite or postgresql")
	flag.StringVar(&o.Addr, "addr", "127.0.0.1:27017", "TCP address to listen on")
	flag.StringVar(&o.Dir, "dir", "", "SQLite data directory (required with -backend sqlite; kept)")
	flag.StringVar(&o.PostgreSQLURL, "postgresql-url", "", "PostgreSQL URL (required with -backend postgresql)")
	flag.Parse()
	o.Backend = ferretdb.Backend(*backend)
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(o ferretdb.Options) error {
	switch {
	case o.Backend == ferretdb.SQLite && o.Dir == "":
		return fmt.Errorf("-dir is required with the SQLite backend")
	case o.Backend == ferretdb.PostgreSQL && o.PostgreSQLURL == "":
		return fmt.Errorf("-postgresql-url is required with the PostgreSQL backend")
	case o.Backend != ferretdb.SQLite && o.Backend != ferretdb.PostgreSQL:
		return fmt.Errorf("-backend must be sqlite or postgresql, got %q", o.Backend)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	srv, err := ferretdb.Start(o)
	if err != nil {
		return err
	}
	fmt.Printf("ferretdb: serving %s (backend %s)\n", srv.URI(), o.Backend)
	<-stop
	return srv.Close()
}
