package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v3"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the versions of Trellis, SpiceDB and Go in this binary",
		Action: func(_ context.Context, cmd *cli.Command) error {
			_, err := fmt.Fprintln(cmd.Root().Writer, versionText())
			return err
		},
	}
}

func versionText() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "trellis (no build information)"
	}
	trellis := info.Main.Version
	if trellis == "" || trellis == "(devel)" {
		trellis = "devel"
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				trellis += " " + s.Value
			}
		}
	}
	spicedb := "unknown"
	for _, d := range info.Deps {
		if d.Path == "github.com/authzed/spicedb" {
			spicedb = d.Version
		}
	}
	return fmt.Sprintf("trellis %s\nspicedb %s\n%s", trellis, spicedb, info.GoVersion)
}
