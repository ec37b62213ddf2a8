package badgerds

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/authzed/spicedb/pkg/tuple"
)

// Key space. One byte tags each kind of key; the fields of a relationship
// key are separated by sep, a byte no SpiceDB identifier may contain and
// that sorts before every byte one may, so key order is field-wise order.
const (
	tagForward   byte = 'r' // resource type, id, relation, subject type, id, relation
	tagReverse   byte = 'u' // subject type, id, relation, resource type, relation, id
	tagReverseV1 byte = 's' // format 1's reverse keys: ... resource type, id, relation
	tagNamespace byte = 'n' // legacy namespace definitions, by name
	tagCaveat    byte = 'c' // legacy caveat definitions, by name
	tagSchema    byte = 'S' // the unified stored schema
	tagHash      byte = 'H' // the stored schema's hash
	tagChangelog byte = 'l' // changes of one transaction, by big-endian revision
	tagCounter   byte = 'k' // relationship counters, by name
	tagExpiry    byte = 'x' // big-endian expiration nanos + forward key: expiring relationships
	tagMeta      byte = 'm' // the store's identity and format

	sep byte = 0
)

var (
	keyUniqueID = []byte{tagMeta, 'i', 'd'}
	keyFormat   = []byte{tagMeta, 'f', 'm', 't'}
	// keyRelationshipCount holds the number of stored relationships,
	// big-endian, as of the commit that wrote it.
	keyRelationshipCount = []byte{tagMeta, 'n'}
	// keyGCWatermark holds the revision below which the collector may have
	// removed versions and change log entries.
	keyGCWatermark = []byte{tagMeta, 'g', 'c'}
	keySchema      = []byte{tagSchema}
	keyHash        = []byte{tagHash}
)

// formatVersion is written once per store; a store with another value, or a
// Badger directory without it but with data, is refused. A store of
// formatVersionV1 is upgraded when first opened for writing (see
// upgradeReverseKeys).
const (
	formatVersion   = "trellis-badgerds-2"
	formatVersionV1 = "trellis-badgerds-1"
)

func appendFields(b []byte, fields ...string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, sep)
		}
		b = append(b, f...)
	}
	return b
}

func forwardKey(r tuple.RelationshipReference) []byte {
	b := make([]byte, 0, 1+len(r.Resource.ObjectType)+len(r.Resource.ObjectID)+len(r.Resource.Relation)+
		len(r.Subject.ObjectType)+len(r.Subject.ObjectID)+len(r.Subject.Relation)+5)
	b = append(b, tagForward)
	return appendFields(b, r.Resource.ObjectType, r.Resource.ObjectID, r.Resource.Relation,
		r.Subject.ObjectType, r.Subject.ObjectID, r.Subject.Relation)
}

// reverseKey puts the resource relation before the resource ID: a reverse
// query names the relation (LookupResources asks one per relation that
// grants the permission), so the subject's rows of that relation are one
// contiguous range, and its rows of other relations are never read.
func reverseKey(r tuple.RelationshipReference) []byte {
	b := make([]byte, 0, 1+len(r.Resource.ObjectType)+len(r.Resource.ObjectID)+len(r.Resource.Relation)+
		len(r.Subject.ObjectType)+len(r.Subject.ObjectID)+len(r.Subject.Relation)+5)
	b = append(b, tagReverse)
	return appendFields(b, r.Subject.ObjectType, r.Subject.ObjectID, r.Subject.Relation,
		r.Resource.ObjectType, r.Resource.Relation, r.Resource.ObjectID)
}

var errBadKey = errors.New("badgerds: malformed relationship key")

// parseRelationshipKey reads a forward or reverse key back into a reference.
func parseRelationshipKey(key []byte) (tuple.RelationshipReference, error) {
	var d keyDecoder
	return d.parse(key)
}

// keyDecoder reads the relationship keys of one scan. Neighbouring keys
// share most of their fields (a reverse scan's subject, a forward scan's
// resource), so a field equal to the same field of the key before reuses
// that string instead of allocating its own.
type keyDecoder struct{ last [6]string }

func (d *keyDecoder) parse(key []byte) (tuple.RelationshipReference, error) {
	if len(key) == 0 || (key[0] != tagForward && key[0] != tagReverse && key[0] != tagReverseV1) {
		return tuple.RelationshipReference{}, errBadKey
	}
	var f [6]string
	rest := key[1:]
	for i := range f {
		end := bytes.IndexByte(rest, sep)
		if (end < 0) != (i == len(f)-1) {
			return tuple.RelationshipReference{}, errBadKey
		}
		if end < 0 {
			end = len(rest)
		}
		if part := rest[:end]; string(part) == d.last[i] {
			f[i] = d.last[i]
		} else {
			f[i] = string(part)
			d.last[i] = f[i]
		}
		rest = rest[min(end+1, len(rest)):]
	}
	a := tuple.ObjectAndRelation{ObjectType: f[0], ObjectID: f[1], Relation: f[2]}
	b := tuple.ObjectAndRelation{ObjectType: f[3], ObjectID: f[4], Relation: f[5]}
	switch key[0] {
	case tagForward:
		return tuple.RelationshipReference{Resource: a, Subject: b}, nil
	case tagReverse:
		b.ObjectID, b.Relation = f[5], f[4]
	}
	return tuple.RelationshipReference{Resource: b, Subject: a}, nil
}

func nameKey(tag byte, name string) []byte { return append([]byte{tag}, name...) }

func changelogKey(rev uint64) []byte {
	b := make([]byte, 9)
	b[0] = tagChangelog
	binary.BigEndian.PutUint64(b[1:], rev)
	return b
}

func expiryKey(at time.Time, fwd []byte) []byte {
	b := make([]byte, 9, 9+len(fwd))
	b[0] = tagExpiry
	binary.BigEndian.PutUint64(b[1:], expiryStamp(at))
	return append(b, fwd...)
}

// latestStamp is the last instant UnixNano can express.
var latestStamp = time.Unix(0, math.MaxInt64)

// expiryStamp places an expiration in the expiry index: nanoseconds since
// the epoch, held within what that can express. UnixNano itself wraps
// after 2262, and a wrapped stamp would file an expiration in 2600 among
// past ones, for the collector to delete a live relationship.
func expiryStamp(at time.Time) uint64 {
	switch {
	case at.Unix() < 0:
		return 0
	case at.After(latestStamp):
		return math.MaxUint64
	}
	return uint64(at.UnixNano())
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // every key sorts before no key: scan to the end
}

func decodeChangelogKey(k []byte) uint64 { return binary.BigEndian.Uint64(k[1:]) }
