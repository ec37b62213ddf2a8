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
		// Without an action of its own, a misspelt command would read as
		// a request for help on a topic that does not exist.
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Present() {
				return fmt.Errorf("unknown command %q; 'trellis --help' lists the commands", cmd.Args().First())
			}
			return cli.ShowRootCommandHelp(cmd)
		},
	}
}
