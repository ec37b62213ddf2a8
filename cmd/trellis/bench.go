package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/seed-6461fa00/trellis/relations/graphbench"
)

func benchCommand() *cli.Command {
	var names []string
	for _, op := range graphbench.Ops {
		names = append(names, op.Name)
	}
	return &cli.Command{
		Name:  "bench",
		Usage: "measure SpiceDB's engine over Trellis's store on a generated project graph",
		Description: "Generates a project graph, loads it into a Badger store of its own (never a\n" +
			"data directory's), and measures each operation through SpiceDB's engine: medians\n" +
			"and 99th percentiles of --calls calls after a warm-up. --floor measures SpiceDB's\n" +
			"memory datastore on the 1.5k graph in the same process: the engine's own cost,\n" +
			"to compare with. docs/BENCHMARKS.md explains every operation.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "shape", Value: graphbench.Large.Name, Usage: "graph to generate: 1.2M (10,000 users, 100,000 projects of 10 members, 200,000 jobs) or 1.5k"},
			&cli.StringFlag{Name: "dir", Usage: "directory to keep the loaded graph in, reused by the next run (default: a temporary one, removed)"},
			&cli.IntFlag{Name: "calls", Value: 1000, Usage: "measured calls per operation"},
			&cli.BoolFlag{Name: "floor", Usage: "also measure SpiceDB's memory datastore on the 1.5k graph"},
			&cli.StringSliceFlag{Name: "op", Usage: "operation to measure (repeatable; default: all): " + strings.Join(names, ", ")},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return errors.New("usage: trellis bench [--shape 1.2M|1.5k] [--dir DIR] [--calls N] [--floor] [--op NAME ...]")
			}
			shape, err := shapeNamed(cmd.String("shape"))
			if err != nil {
				return err
			}
			ops, err := opsNamed(cmd.StringSlice("op"))
			if err != nil {
				return err
			}
			calls := int(cmd.Int("calls"))
			if calls < 1 {
				return fmt.Errorf("--calls must be at least 1, not %d", calls)
			}
			dir := cmd.String("dir")
			if dir == "" {
				tmp, err := os.MkdirTemp("", "trellis-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			stores := []graphbench.Store{graphbench.Badger(shape)}
			if cmd.Bool("floor") {
				stores = append(stores, graphbench.Memory(graphbench.Small))
			}
			out := tabwriter.NewWriter(cmd.Root().Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(out, "TARGET\tOPERATION\tCALLS\tP50\tP99")
			for _, s := range stores {
				if err := benchStore(ctx, cmd, s, dir, ops, calls, out); err != nil {
					// What was measured before the failure is still shown.
					return errors.Join(err, out.Flush())
				}
			}
			return out.Flush()
		},
	}
}

// benchStore loads or reuses one store, then measures each operation on
// it, and releases it before the next store is loaded.
func benchStore(ctx context.Context, cmd *cli.Command, s graphbench.Store, dir string, ops []graphbench.Op, calls int, out *tabwriter.Writer) (err error) {
	progress := cmd.Root().ErrWriter
	if s.Durable {
		fmt.Fprintf(progress, "%s: opening %s in %s (a first load takes a while)\n", s.Name, s.Shape.Name, dir)
	}
	t, p, err := graphbench.Prepare(ctx, s, dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, t.Close(context.WithoutCancel(ctx))) }()
	if p.Reused {
		fmt.Fprintf(progress, "%s: reusing the graph loaded earlier\n", s.Name)
	} else {
		fmt.Fprintf(progress, "%s: loaded %v\n", s.Name, p.Load)
	}
	for _, op := range ops {
		fmt.Fprintf(progress, "%s: %s\n", s.Name, op.Name)
		if _, err := graphbench.Measure(ctx, t, op, min(calls, 100)); err != nil { // warm-up
			return err
		}
		lat, err := graphbench.Measure(ctx, t, op, calls)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\t%s\t%d\t%v\t%v\n", s.Name, op.Name, len(lat), roundLatency(lat.Percentile(50)), roundLatency(lat.Percentile(99)))
	}
	return nil
}

func roundLatency(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func shapeNamed(name string) (graphbench.Shape, error) {
	for _, s := range []graphbench.Shape{graphbench.Large, graphbench.Small} {
		if strings.EqualFold(s.Name, name) {
			return s, nil
		}
	}
	return graphbench.Shape{}, fmt.Errorf("no graph shape %q: want %s or %s", name, graphbench.Large.Name, graphbench.Small.Name)
}

func opsNamed(names []string) ([]graphbench.Op, error) {
	if len(names) == 0 {
		return graphbench.Ops, nil
	}
	var ops []graphbench.Op
	for _, n := range names {
		i := slices.IndexFunc(graphbench.Ops, func(op graphbench.Op) bool { return op.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("no operation %q", n)
		}
		ops = append(ops, graphbench.Ops[i])
	}
	return ops, nil
}
