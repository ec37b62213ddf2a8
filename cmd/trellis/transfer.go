package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v3"

	"github.com/seed-6461fa00/trellis/server"
)

func dataFlag() cli.Flag {
	return &cli.StringFlag{Name: "data", Value: "./data", Usage: "data directory (no server may have it open)", Sources: cli.EnvVars("TRELLIS_DATA")}
}

// withStack opens a data directory for a one-off command.
func withStack(ctx context.Context, dir string, fn func(*server.Stack) error) error {
	stack, err := server.OpenStack(ctx, server.StackConfig{DataDir: dir})
	if err != nil {
		return err
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(fn(stack), stack.Close(closeCtx))
}

func progressTo(w io.Writer, what string) (*progressbar.ProgressBar, func(n int)) {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return bar, func(n int) { _ = bar.Set(n) }
}

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
			return withStack(ctx, cmd.String("data"), func(s *server.Stack) error {
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
