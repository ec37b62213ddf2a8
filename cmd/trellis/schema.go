package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/urfave/cli/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/embedded"
	"github.com/seed-6461fa00/trellis/schema"
	"github.com/seed-6461fa00/trellis/server"
)

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print, compare or validate Trellis's SpiceDB schema",
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
				Name:  "diff",
				Usage: "what writing a schema changes: OLD NEW (two .zed files), FILE (to this binary's schema), or nothing (the schema stored in --data or at --endpoint, to this binary's)",
				Description: "Lines start with + (added), - (removed) or ~ (changed). SpiceDB refuses a schema\n" +
					"that removes a relation or subject type while relationships still use it.",
				ArgsUsage: "[OLD [NEW]]",
				Flags:     graphFlags(),
				Action:    diffSchema,
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

func diffSchema(ctx context.Context, cmd *cli.Command) error {
	this := schema.Source{Name: "this binary's schema", Text: schema.Text}
	var old, updated schema.Source
	var err error
	switch cmd.Args().Len() {
	case 2:
		if old, err = readSchemaFile(cmd.Args().Get(0)); err != nil {
			return err
		}
		if updated, err = readSchemaFile(cmd.Args().Get(1)); err != nil {
			return err
		}
	case 1:
		if old, err = readSchemaFile(cmd.Args().First()); err != nil {
			return err
		}
		updated = this
	case 0:
		if old, err = storedSchema(ctx, cmd); err != nil {
			return err
		}
		updated = this
	default:
		return errors.New("usage: trellis schema diff [OLD [NEW]]")
	}
	lines, err := schema.Diff(old, updated)
	if err != nil {
		return err
	}
	out := cmd.Root().Writer
	if len(lines) == 0 {
		_, err := fmt.Fprintf(out, "no changes from %s to %s\n", old.Name, updated.Name)
		return err
	}
	fmt.Fprintf(out, "from %s to %s:\n", old.Name, updated.Name)
	for _, l := range lines {
		if _, err := fmt.Fprintln(out, l); err != nil {
			return err
		}
	}
	return nil
}

func readSchemaFile(path string) (schema.Source, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return schema.Source{}, err
	}
	return schema.Source{Name: path, Text: string(raw)}, nil
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
	zed := strings.HasSuffix(path, ".zed")
	var problems []string
	var n int
	if zed {
		problems, err = schema.Check(ctx, string(raw))
	} else {
		problems, n, err = schema.Validate(ctx, raw, os.DirFS(filepath.Dir(path)))
	}
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(out, "%s: %s\n", path, p)
	}
	switch {
	case len(problems) == 1:
		return fmt.Errorf("%s: 1 problem", path)
	case len(problems) > 1:
		return fmt.Errorf("%s: %d problems", path, len(problems))
	case zed:
		_, err = fmt.Fprintf(out, "%s: valid\n", path)
	default:
		_, err = fmt.Fprintf(out, "%s: valid, %d assertions hold\n", path, n)
	}
	return err
}

// storedSchema reads the schema a running server (--endpoint) or a data
// directory (--data) holds, without writing anything: the directory is
// opened read-only, as SpiceDB's store alone, not as a Trellis graph, which
// would write this binary's schema on open.
func storedSchema(ctx context.Context, cmd *cli.Command) (schema.Source, error) {
	read := func(conn grpc.ClientConnInterface, name string) (schema.Source, error) {
		resp, err := v1.NewSchemaServiceClient(conn).ReadSchema(ctx, &v1.ReadSchemaRequest{})
		if status.Code(err) == codes.NotFound {
			return schema.Source{Name: name + " (no schema yet)"}, nil
		}
		if err != nil {
			return schema.Source{}, fmt.Errorf("read %s: %w", name, err)
		}
		return schema.Source{Name: name, Text: resp.GetSchemaText()}, nil
	}
	if endpoint := cmd.String("endpoint"); endpoint != "" {
		var src schema.Source
		err := withConn(ctx, cmd, func(conn grpc.ClientConnInterface) (err error) {
			src, err = read(conn, "the schema at "+endpoint)
			return err
		})
		return src, err
	}
	dir := filepath.Join(cmd.String("data"), server.RelationsDir)
	if _, err := os.Stat(dir); err != nil {
		return schema.Source{}, fmt.Errorf("no Trellis data in %s: %w", cmd.String("data"), err)
	}
	ds, err := badgerds.New(ctx, dir, badgerds.WithReadOnly())
	if err != nil {
		return schema.Source{}, err
	}
	defer ds.Close()
	engine, err := embedded.Start(ctx, embedded.Config{Datastore: ds})
	if err != nil {
		return schema.Source{}, err
	}
	defer engine.Close(context.WithoutCancel(ctx))
	return read(engine.Conn(), "the schema stored in "+cmd.String("data"))
}
