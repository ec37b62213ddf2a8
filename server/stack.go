package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/authzed/spicedb/pkg/datastore"
	"google.golang.org/grpc"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/relations/badgercatalog"
	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/embedded"
)

// Stack is everything Trellis runs on over one data directory: the
// datastore, SpiceDB's engine over it, the catalog, and the relation graph.
type Stack struct {
	Graph   *relations.Graph
	Engine  *embedded.Engine
	Catalog *badgercatalog.Catalog
	ds      datastore.Datastore
}

// RelationsDir is where, under a data directory, SpiceDB's relationships
// live.
const RelationsDir = "relations"

// StackConfig says where the data lives and how services reach it.
type StackConfig struct {
	// DataDir holds the relationships and the catalog; created if missing.
	DataDir string
	// OpenDatastore builds SpiceDB's datastore in dir; nil means Badger
	// (badgerds) with its defaults.
	OpenDatastore func(ctx context.Context, dir string) (datastore.Datastore, error)
	// Engine configures SpiceDB's engine (its TCP listener, keys, TLS);
	// its Datastore is filled in.
	Engine embedded.Config
	// Existing is for tools that read a data directory: it must already
	// hold Trellis's data (a mistyped path is an error, not an empty
	// graph), and its stored schema is left as it is.
	Existing bool
}

// OpenStack opens (creating if needed) the data directory and starts the
// engine over it.
func OpenStack(ctx context.Context, cfg StackConfig) (_ *Stack, err error) {
	var graphOpts []relations.Option
	if cfg.Existing {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, RelationsDir)); err != nil {
			return nil, fmt.Errorf("no Trellis data in %s: %w", cfg.DataDir, err)
		}
		graphOpts = append(graphOpts, relations.WithStoredSchema())
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if cfg.OpenDatastore == nil {
		cfg.OpenDatastore = func(ctx context.Context, dir string) (datastore.Datastore, error) {
			return badgerds.New(ctx, dir)
		}
	}
	s := &Stack{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close(context.WithoutCancel(ctx)))
		}
	}()
	if s.ds, err = cfg.OpenDatastore(ctx, filepath.Join(cfg.DataDir, RelationsDir)); err != nil {
		return s, fmt.Errorf("open relationships: %w", err)
	}
	// After the datastore, whose lock keeps a second server from making a
	// key of its own at the same time; before anything is started.
	key, err := cursorKey(cfg.DataDir, !cfg.Existing)
	if err != nil {
		return s, err
	}
	if key != nil {
		graphOpts = append(graphOpts, relations.WithCursorKey(key))
	}
	if s.Catalog, err = badgercatalog.Open(filepath.Join(cfg.DataDir, "catalog")); err != nil {
		return s, err
	}
	engineCfg := cfg.Engine
	engineCfg.Datastore = s.ds
	if s.Engine, err = embedded.Start(ctx, engineCfg); err != nil {
		return s, err
	}
	if s.Graph, err = relations.Open(ctx, s.Engine.Conn(), s.Catalog, append(graphOpts, relations.WithHeadChecker(s.Engine), relations.WithLocalWriter(s.Engine))...); err != nil {
		return s, err
	}
	return s, nil
}

// CursorKeyFile holds, under a data directory, the key page cursors are
// signed with, so that they outlive a restart.
const CursorKeyFile = "cursor.key"

// cursorKey reads the data directory's cursor key. A missing one is made
// if create is set. Tools that only read a directory (create unset) hand
// out no cursors, so for them a missing or damaged key is nil: the graph
// then makes its own, for as long as it runs.
func cursorKey(dir string, create bool) ([]byte, error) {
	path := filepath.Join(dir, CursorKeyFile)
	key, err := os.ReadFile(path)
	switch {
	case !create && (err != nil || len(key) < relations.CursorKeySize):
		return nil, nil
	case err == nil && len(key) < relations.CursorKeySize:
		return nil, fmt.Errorf("cursor key %s is damaged: %d bytes, not %d; delete it to make a new one (open page cursors then stop working)", path, len(key), relations.CursorKeySize)
	case err == nil:
		return key, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	key = make([]byte, relations.CursorKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	// Whole or not at all: written aside and synced, then linked into
	// place, which fails rather than replace a key made meanwhile.
	tmp, err := os.CreateTemp(dir, CursorKeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, os.ErrExist) {
		return cursorKey(dir, true) // made meanwhile: read it
	}
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	return key, nil
}

// Ready reports whether the stack can serve: nil when the datastore is
// ready.
func (s *Stack) Ready(ctx context.Context) error {
	state, err := s.ds.ReadyState(ctx)
	if err != nil {
		return err
	}
	if !state.IsReady {
		return errors.New(state.Message)
	}
	return nil
}

// Conn is an authenticated connection to the SpiceDB v1 API of the stack.
func (s *Stack) Conn() grpc.ClientConnInterface { return s.Engine.Conn() }

// Close stops the engine, then closes the stores, in that order, so no
// request is cut off mid-write.
func (s *Stack) Close(ctx context.Context) error {
	var errs []error
	if s.Engine != nil {
		errs = append(errs, s.Engine.Close(ctx))
	}
	if s.ds != nil {
		errs = append(errs, s.ds.Close())
	}
	if s.Catalog != nil {
		errs = append(errs, s.Catalog.Close())
	}
	return errors.Join(errs...)
}
