package graphbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	dscfg "github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/datastore"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

// Store is a datastore to measure the engine over, with the graph it holds.
type Store struct {
	// Name names the target in reports: datastore and shape, "badger-1.2M".
	Name  string
	Shape Shape
	// Durable stores keep their graph on disk, and a later Prepare in the
	// same directory reuses it instead of loading it again.
	Durable bool
	open    func(ctx context.Context, dir string) (datastore.Datastore, error)
}

// Badger is Trellis's store, on disk, holding shape.
func Badger(shape Shape) Store {
	return Store{Name: "badger-" + shape.Name, Shape: shape, Durable: true, open: func(ctx context.Context, dir string) (datastore.Datastore, error) {
		return badgerds.New(ctx, dir)
	}}
}

// Memory is SpiceDB's memory datastore holding shape: on the small shape,
// the engine's own floor.
func Memory(shape Shape) Store {
	return Store{Name: "memdb-" + shape.Name, Shape: shape, open: func(ctx context.Context, _ string) (datastore.Datastore, error) {
		return dscfg.NewDatastore(ctx, dscfg.WithEngine(dscfg.MemoryEngine), dscfg.WithRevisionQuantization(0), dscfg.WithGCWindow(time.Hour))
	}}
}

// Prepared says how a target came to hold its graph.
type Prepared struct {
	// Reused is true when an earlier Prepare loaded the graph; Load is
	// then zero.
	Reused bool
	Load   LoadResult
}

// Prepare opens s, durable ones in parent/s.Name, loads its graph unless an
// earlier Prepare in parent did, and starts the engine over it. The caller
// closes the target.
//
// A durable store is marked loaded (parent/s.Name + ".loaded") only once
// its whole graph is in; a directory of that name without the mark (a load
// that was interrupted, or anything else) is refused, never loaded into or
// removed.
func Prepare(ctx context.Context, s Store, parent string) (*Target, Prepared, error) {
	dir := filepath.Join(parent, s.Name)
	mark := dir + ".loaded"
	reuse := false
	if s.Durable {
		_, err := os.Stat(mark)
		reuse = err == nil
		if _, err := os.Stat(dir); !reuse && err == nil {
			return nil, Prepared{}, fmt.Errorf("%s exists but holds no complete %s graph (no %s); remove it to load it again", dir, s.Shape.Name, filepath.Base(mark))
		}
	}
	ds, err := s.open(ctx, dir)
	if err != nil {
		return nil, Prepared{}, err
	}
	t, err := Start(ctx, s.Name, ds)
	if err != nil {
		return nil, Prepared{}, errors.Join(err, ds.Close())
	}
	if reuse {
		if err := t.Adopt(ctx, s.Shape); err != nil {
			return nil, Prepared{}, errors.Join(err, t.Close(ctx))
		}
		return t, Prepared{Reused: true}, nil
	}
	res, err := t.Load(ctx, s.Shape, 10_000)
	if err != nil {
		return nil, Prepared{}, errors.Join(fmt.Errorf("load %s: %w", s.Name, err), t.Close(ctx))
	}
	if s.Durable {
		if err := os.WriteFile(mark, nil, 0o600); err != nil {
			return nil, Prepared{}, errors.Join(err, t.Close(ctx))
		}
	}
	return t, Prepared{Load: res}, nil
}
