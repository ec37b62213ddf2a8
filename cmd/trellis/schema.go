package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/seed-6461fa00/trellis/schema"
)

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print or validate Trellis's SpiceDB schema",
		Commands: []*cli.Command{
			{
				Name:  "print",
				Usage: "print the schema this binary writes",
				Action: func(_ context.Context, cmd *cli.Command) error {
					_, err := fmt.Fprint(cmd.Root().Writer, schema.Text)
					return err
				},
			},
			{
				Name:      "validate",
				Usage:     "check a .zed schema, or run a SpiceDB validation file (.yaml) with its assertions",
				ArgsUsage: "FILE",
				Action:    validateSchema,
			},
		},
	}
}

func validateSchema(ctx context.Context, cmd *cli.Command) error {
	path := cmd.Args().First()
	if path == "" || cmd.Args().Len() > 1 {
		return errors.New("give one file: trellis schema validate FILE")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out := cmd.Root().Writer
	if strings.HasSuffix(path, ".zed") {
		if err := schema.Compile(path, string(raw)); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "%s: valid\n", path)
		return err
	}
	problems, n, err := schema.Validate(ctx, raw, os.DirFS(filepath.Dir(path)))
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(out, "%s: %s\n", path, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d problems", path, len(problems))
	}
	_, err = fmt.Fprintf(out, "%s: valid, %d assertions hold\n", path, n)
	return err
}
