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

// ReplaceProject implements relations.Catalog.
func (c *Catalog) ReplaceProject(_ context.Context, old, info relations.ProjectInfo) (bool, error) {
	raw, err := json.Marshal(info)
	if err != nil {
		return false, err
	}
	replaced := false
	err = c.update(func(txn *badger.Txn) error {
		var stored relations.ProjectInfo
		found, err := get(txn, []byte(projectPrefix+old.Name), &stored)
		if err != nil {
			return err
		}
		replaced = found && sameProject(stored, old) || !found && old.CreatedAt.IsZero()
		if !replaced {
			return nil
		}
		return txn.Set([]byte(projectPrefix+info.Name), raw)
	})
	return replaced && err == nil, err
}

// sameProject compares metadata field by field; times by the instant
// they name, which their JSON form keeps.
func sameProject(a, b relations.ProjectInfo) bool {
	return a.Name == b.Name && a.DisplayName == b.DisplayName && a.Description == b.Description &&
		a.CreatedAt.Equal(b.CreatedAt) && a.CreatedBy == b.CreatedBy
}

// Projects implements relations.Catalog.
func (c *Catalog) Projects(ctx context.Context, names []string) (map[string]relations.ProjectInfo, error) {
	out := make(map[string]relations.ProjectInfo, len(names))
	err := c.db.View(func(txn *badger.Txn) error {
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			var info relations.ProjectInfo
			found, err := get(txn, []byte(projectPrefix+name), &info)
			if err != nil {
				return err
			}
			if found {
				out[name] = info
			}
		}
		return nil
	})
	return out, err
}

// DeleteProject implements relations.Catalog.
func (c *Catalog) DeleteProject(_ context.Context, info relations.ProjectInfo) error {
	return c.update(func(txn *badger.Txn) error {
		return deleteIf(txn, []byte(projectPrefix+info.Name), func(stored relations.ProjectInfo) bool { return stored.CreatedAt.Equal(info.CreatedAt) })
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
			var info relations.ArtifactInfo
			found, err := get(txn, artifactKey(ref), &info)
			if err != nil {
				return err
			}
			if found {
				out[ref] = info
			}
		}
		return nil
	})
	return out, err
}

// DeleteArtifact implements relations.Catalog.
func (c *Catalog) DeleteArtifact(_ context.Context, info relations.ArtifactInfo) error {
	return c.update(func(txn *badger.Txn) error {
		key := artifactKey(relations.ArtifactRef{Kind: info.Kind, ID: info.ID})
		return deleteIf(txn, key, func(stored relations.ArtifactInfo) bool { return stored.CreatedAt.Equal(info.CreatedAt) })
	})
}

// update runs fn in a read-write transaction, again (up to ten times) if
// a concurrent one wrote what it read: conditional writes read before
// they write.
func (c *Catalog) update(fn func(txn *badger.Txn) error) error {
	err := c.db.Update(fn)
	for attempt := 1; attempt < 10 && errors.Is(err, badger.ErrConflict); attempt++ {
		err = c.db.Update(fn)
	}
	return err
}

// get decodes the JSON value stored under key into v; found is false if
// there is none.
func get(txn *badger.Txn, key []byte, v any) (found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := item.Value(func(raw []byte) error { return json.Unmarshal(raw, v) }); err != nil {
		return false, fmt.Errorf("%s: %w", key, err)
	}
	return true, nil
}

// deleteIf deletes key if a value is stored under it and, decoded,
// satisfies same.
func deleteIf[T any](txn *badger.Txn, key []byte, same func(T) bool) error {
	var stored T
	found, err := get(txn, key, &stored)
	if err != nil || !found || !same(stored) {
		return err
	}
	return txn.Delete(key)
}
