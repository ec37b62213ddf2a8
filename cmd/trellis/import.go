package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/seed-6461fa00/trellis/server"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "load an export into an empty data directory",
		ArgsUsage: "FILE",
		Flags:     []cli.Flag{dataFlag()},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path := cmd.Args().First()
			if path == "" || cmd.Args().Len() > 1 {
				return errors.New("give one file: trellis import --data DIR FILE")
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return withStack(ctx, cmd.String("data"), false, func(s *server.Stack) error {
				bar, progress := progressTo(cmd.Root().ErrWriter, "relationships imported")
				token, err := s.Graph.Import(ctx, f, progress)
				_ = bar.Finish()
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.Root().Writer, "imported %s into %s (consistency token %s)\n", path, cmd.String("data"), token)
				return err
			})
		},
	}
}
