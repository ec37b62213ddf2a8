// Command trellis runs and operates a Trellis relation graph.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "trellis:", err)
		os.Exit(1)
	}
}

func newApp() *cli.Command {
	return &cli.Command{
		Name:  "trellis",
		Usage: "an embeddable authorization graph for multi-project platforms",
		Commands: []*cli.Command{
			serveCommand(),
			schemaCommand(),
			checkCommand(),
			lookupCommand(),
			exportCommand(),
			importCommand(),
			benchCommand(),
			versionCommand(),
		},
	}
}
