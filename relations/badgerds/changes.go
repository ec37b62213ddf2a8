package badgerds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/authzed/spicedb/pkg/datastore"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// changeSet is what one transaction changed, netted per relationship, as
// Watch reports it.
type changeSet struct {
	rels    map[string]*relChange
	order   []string
	defs    map[string]datastore.SchemaDefinition
	defKeys []string
	deleted map[string]byte // name -> tagNamespace or tagCaveat
}

type relChange struct {
	existed bool                // the relationship existed before the transaction
	before  tuple.Relationship  // as it was, if it existed
	after   *tuple.Relationship // as it is now; nil if deleted
}

// relationship records a write to the relationship under fwd. before is
// its state as the write found it (nil if absent).
func (c *changeSet) relationship(fwd []byte, before, after *tuple.Relationship) {
	if c.rels == nil {
		c.rels = map[string]*relChange{}
	}
	ch, ok := c.rels[string(fwd)]
	if !ok {
		ch = &relChange{existed: before != nil}
		if before != nil {
			ch.before = *before
		}
		c.rels[string(fwd)] = ch
		c.order = append(c.order, string(fwd))
	}
	ch.after = after
}

// relationshipDelta is how many relationships the changes add, net.
func (c *changeSet) relationshipDelta() int64 {
	var d int64
	for _, ch := range c.rels {
		switch {
		case ch.existed && ch.after == nil:
			d--
		case !ch.existed && ch.after != nil:
			d++
		}
	}
	return d
}

func (c *changeSet) definition(tag byte, def datastore.SchemaDefinition) {
	if c.defs == nil {
		c.defs = map[string]datastore.SchemaDefinition{}
	}
	k := string(tag) + def.GetName()
	// Not c.defs: a definition deleted and written again in one
	// transaction has left it, but not defKeys.
	if !slices.Contains(c.defKeys, k) {
		c.defKeys = append(c.defKeys, k)
	}
	c.defs[k] = def
	delete(c.deleted, k)
}

func (c *changeSet) deletedDefinition(tag byte, name string) {
	if c.deleted == nil {
		c.deleted = map[string]byte{}
	}
	k := string(tag) + name
	delete(c.defs, k)
	c.deleted[k] = tag
}

// Change log entry records.
const (
	recTouch     byte = 'T'
	recDelete    byte = 'D'
	recNamespace byte = 'N'
	recCaveat    byte = 'C'
	recDelNS     byte = 'n'
	recDelCaveat byte = 'c'
	recMetadata  byte = 'M'
)

func appendRecord(b []byte, kind byte, parts ...[]byte) []byte {
	b = append(b, kind)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// encode serializes the set for the change log. Every committed
// transaction has an entry, even an empty one, so Watch reaches every
// revision a write returned.
func (c *changeSet) encode(metadata *structpb.Struct) ([]byte, error) {
	b := []byte{}
	for _, k := range c.order {
		ch := c.rels[k]
		switch {
		case ch.after != nil:
			v, err := encodeValue(*ch.after)
			if err != nil {
				return nil, err
			}
			b = appendRecord(b, recTouch, []byte(k), v)
		case ch.existed:
			v, err := encodeValue(ch.before)
			if err != nil {
				return nil, err
			}
			b = appendRecord(b, recDelete, []byte(k), v)
		}
	}
	for _, k := range c.defKeys {
		def, ok := c.defs[k]
		if !ok {
			continue
		}
		var raw []byte
		var err error
		kind := recNamespace
		switch d := def.(type) {
		case *core.NamespaceDefinition:
			raw, err = d.MarshalVT()
		case *core.CaveatDefinition:
			kind = recCaveat
			raw, err = d.MarshalVT()
		}
		if err != nil {
			return nil, err
		}
		b = appendRecord(b, kind, raw)
	}
	deleted := make([]string, 0, len(c.deleted))
	for k := range c.deleted {
		deleted = append(deleted, k)
	}
	slices.Sort(deleted)
	for _, k := range deleted {
		kind := recDelNS
		if c.deleted[k] == tagCaveat {
			kind = recDelCaveat
		}
		b = appendRecord(b, kind, []byte(k[1:]))
	}
	if metadata != nil && len(metadata.GetFields()) > 0 {
		raw, err := proto.Marshal(metadata)
		if err != nil {
			return nil, err
		}
		b = appendRecord(b, recMetadata, raw)
	}
	return b, nil
}

var errBadChangelog = errors.New("badgerds: malformed change log entry")

// decodeChanges reads a change log entry back.
func decodeChanges(rev revision, b []byte) (datastore.RevisionChanges, error) {
	out := datastore.RevisionChanges{Revision: rev}
	part := func() ([]byte, error) {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, errBadChangelog
		}
		p := b[w : w+int(n)]
		b = b[w+int(n):]
		return p, nil
	}
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		first, err := part()
		if err != nil {
			return out, err
		}
		switch kind {
		case recTouch, recDelete:
			val, err := part()
			if err != nil {
				return out, err
			}
			rel, err := decodeRelationship(first, val)
			if err != nil {
				return out, err
			}
			op := tuple.UpdateOperationTouch
			if kind == recDelete {
				op = tuple.UpdateOperationDelete
			}
			out.RelationshipChanges = append(out.RelationshipChanges, tuple.RelationshipUpdate{Operation: op, Relationship: rel})
		case recNamespace:
			def := &core.NamespaceDefinition{}
			if err := def.UnmarshalVT(first); err != nil {
				return out, err
			}
			out.ChangedDefinitions = append(out.ChangedDefinitions, def)
		case recCaveat:
			def := &core.CaveatDefinition{}
			if err := def.UnmarshalVT(first); err != nil {
				return out, err
			}
			out.ChangedDefinitions = append(out.ChangedDefinitions, def)
		case recDelNS:
			out.DeletedNamespaces = append(out.DeletedNamespaces, string(first))
		case recDelCaveat:
			out.DeletedCaveats = append(out.DeletedCaveats, string(first))
		case recMetadata:
			m := &structpb.Struct{}
			if err := proto.Unmarshal(first, m); err != nil {
				return out, err
			}
			out.Metadatas = append(out.Metadatas, m)
		default:
			return out, fmt.Errorf("%w: record %q", errBadChangelog, kind)
		}
	}
	return out, nil
}
