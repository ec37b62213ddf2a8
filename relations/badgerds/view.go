package badgerds

import (
	"bytes"
	"errors"

	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/dgraph-io/badger/v4"
)

// view reads keys through one Badger transaction. Inside a read-write
// transaction it records every range it reads, for conflict detection.
type view struct {
	txn   *badger.Txn
	reads *[]keyRange // nil for snapshot reads
}

// get returns a key's value and version; found is false if it is absent.
func (v view) get(key []byte) (val []byte, version uint64, found bool, err error) {
	if v.reads != nil {
		*v.reads = append(*v.reads, pointRange(bytes.Clone(key)))
	}
	item, err := v.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	val, err = item.ValueCopy(nil)
	return val, item.Version(), err == nil, err
}

// scan calls fn for each key in r in order, until fn returns false. The key
// and value passed to fn are valid only during the call.
// relationship reads the relationship stored under the forward key fwd,
// expired or not; nil if there is none. The read is logged like any get.
func (v view) relationship(fwd []byte) (*tuple.Relationship, error) {
	val, _, found, err := v.get(fwd)
	if err != nil || !found {
		return nil, err
	}
	rel, err := decodeRelationship(fwd, val)
	if err != nil {
		return nil, err
	}
	return &rel, nil
}

func (v view) scan(r keyRange, keysOnly bool, fn func(key, val []byte, version uint64) (bool, error)) error {
	if r.isPoint() {
		return v.scanPoint(r, keysOnly, fn)
	}
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = commonPrefix(r.start, r.end)
	it := v.txn.NewIterator(opts)
	defer it.Close()

	last := []byte(nil)
	stopped := false
	var err error
	for it.Seek(r.start); it.Valid(); it.Next() {
		item := it.Item()
		key := item.Key()
		if r.end != nil && bytes.Compare(key, r.end) >= 0 {
			break
		}
		var val []byte
		if !keysOnly && item.ValueSize() > 0 {
			if val, err = item.ValueCopy(nil); err != nil {
				break
			}
		}
		var more bool
		if more, err = fn(key, val, item.Version()); err != nil || !more {
			last = bytes.Clone(key)
			stopped = true
			break
		}
	}
	if v.reads != nil {
		read := keyRange{start: bytes.Clone(r.start), end: r.end}
		if stopped {
			read.end = append(last, 0)
		}
		*v.reads = append(*v.reads, read)
	}
	return err
}

// commonPrefix is the longest prefix every key in [start, end) shares,
// which lets Badger skip tables that cannot hold any of them.
func commonPrefix(start, end []byte) []byte {
	if end == nil {
		return nil
	}
	n := 0
	for n < len(start) && n < len(end) && start[n] == end[n] {
		n++
	}
	// A key in range may be shorter than end's differing byte suggests only
	// when end extends start; keep the shared bytes, which every key has.
	return start[:n]
}

// scanPoint is scan over a range of one key, read with get: Badger
// answers a Get from its bloom filters when the key is absent, as it is in
// most branches of a Check, where an iterator seeks through every level.
// get copies the value whatever its ValueSize, which for a key the
// transaction itself wrote (answered from its pending writes) is 0.
func (v view) scanPoint(r keyRange, keysOnly bool, fn func(key, val []byte, version uint64) (bool, error)) error {
	val, version, found, err := v.get(r.start)
	if err != nil || !found {
		return err
	}
	if keysOnly {
		val = nil
	}
	_, err = fn(r.start, val, version)
	return err
}
