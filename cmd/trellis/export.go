package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/seed-6461fa00/trellis/server"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write every relationship (at one revision) and all metadata of a data directory as JSON Lines",
		Flags: []cli.Flag{
			dataFlag(),
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "file to write (default: standard output)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			out := cmd.Root().Writer
			if path := cmd.String("out"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			return withStack(ctx, cmd.String("data"), func(s *server.Stack) error {
				bar, progress := progressTo(cmd.Root().ErrWriter, "relationships exported")
				defer bar.Finish()
				return s.Graph.Export(ctx, out, progress)
			})
		},
	}
}
