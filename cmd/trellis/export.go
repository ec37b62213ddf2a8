package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

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
			export := func(out io.Writer) error {
				return withStack(ctx, cmd.String("data"), true, func(s *server.Stack) error {
					bar, progress := progressTo(cmd.Root().ErrWriter, "relationships exported")
					defer bar.Finish()
					return s.Graph.Export(ctx, out, progress)
				})
			}
			path := cmd.String("out")
			if path == "" {
				return export(cmd.Root().Writer)
			}
			return writeWhole(path, export)
		},
	}
}

// writeWhole writes path through write, all or nothing: into a file beside
// it, synced and renamed over it only once write succeeded, so a failed
// export leaves an earlier file of the same name as it was. A symbolic
// link is followed, and a file replaced keeps its mode (a new one is
// private to its owner: an export holds who may do what). What is not a
// regular file (/dev/stdout, a pipe) is written to as it is.
func writeWhole(path string, write func(io.Writer) error) (err error) {
	mode := os.FileMode(0o600)
	info, err := os.Stat(path)
	switch {
	case err == nil && !info.Mode().IsRegular():
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return errors.Join(write(f), f.Close())
	case err == nil:
		if path, err = filepath.EvalSymlinks(path); err != nil {
			return err
		}
		mode = info.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
