package badgercatalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/seed-6461fa00/trellis/relations"
)

// Catalog is a relations.Catalog on Badger.
type Catalog struct {
	db *badger.DB
}

var _ relations.Catalog = (*Catalog)(nil)

const (
	projectPrefix  = "project/"
	currentPrefix  = "current/"
	artifactPrefix = "artifact/"
)

func artifactKey(r relations.ArtifactRef) []byte {
	return []byte(artifactPrefix + string(r.Kind) + "/" + r.ID)
}

// Open opens (creating if needed) the catalog in dir; an empty dir keeps it
// in memory, for tests. Writes are synced to disk before they return.
func Open(dir string) (*Catalog, error) {
	opts := badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true)
	if dir == "" {
		opts = opts.WithInMemory(true)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", dir, err)
	}
	return &Catalog{db: db}, nil
}

// Close closes the catalog.
func (c *Catalog) Close() error { return c.db.Close() }

// PutProject implements relations.Catalog.
func (c *Catalog) PutProject(_ context.Context, info relations.ProjectInfo) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return c.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(projectPrefix+info.Name), raw)
	})
}

// Projects implements relations.Catalog.
func (c *Catalog) Projects(ctx context.Context, names []string) (map[string]relations.ProjectInfo, error) {
	out := make(map[string]relations.ProjectInfo, len(names))
	err := c.db.View(func(txn *badger.Txn) error {
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			item, err := txn.Get([]byte(projectPrefix + name))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var info relations.ProjectInfo
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &info) }); err != nil {
				return fmt.Errorf("project %s: %w", name, err)
			}
			out[name] = info
		}
		return nil
	})
	return out, err
}

// DeleteProject implements relations.Catalog.
func (c *Catalog) DeleteProject(_ context.Context, name string) error {
	return c.db.Update(func(txn *badger.Txn) error {
		return txn.Delete([]byte(projectPrefix + name))
	})
}

// CurrentProject implements relations.Catalog.
func (c *Catalog) CurrentProject(_ context.Context, userID string) (string, error) {
	var name string
	err := c.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(currentPrefix + userID))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		name = string(v)
		return err
	})
	return name, err
}

// SetCurrentProject implements relations.Catalog.
func (c *Catalog) SetCurrentProject(_ context.Context, userID, project string) error {
	return c.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(currentPrefix+userID), []byte(project))
	})
}

// PutArtifact implements relations.Catalog.
func (c *Catalog) PutArtifact(_ context.Context, info relations.ArtifactInfo) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return c.db.Update(func(txn *badger.Txn) error {
		return txn.Set(artifactKey(relations.ArtifactRef{Kind: info.Kind, ID: info.ID}), raw)
	})
}

// Artifacts implements relations.Catalog.
func (c *Catalog) Artifacts(ctx context.Context, refs []relations.ArtifactRef) (map[relations.ArtifactRef]relations.ArtifactInfo, error) {
	out := make(map[relations.ArtifactRef]relations.ArtifactInfo, len(refs))
	err := c.db.View(func(txn *badger.Txn) error {
		for _, ref := range refs {
			if err := ctx.Err(); err != nil {
				return err
			}
			item, err := txn.Get(artifactKey(ref))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var info relations.ArtifactInfo
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &info) }); err != nil {
				return fmt.Errorf("artifact %s %s: %w", ref.Kind, ref.ID, err)
			}
			out[ref] = info
		}
		return nil
	})
	return out, err
}

// DeleteArtifact implements relations.Catalog.
func (c *Catalog) DeleteArtifact(_ context.Context, ref relations.ArtifactRef) error {
	return c.db.Update(func(txn *badger.Txn) error {
		return txn.Delete(artifactKey(ref))
	})
}
