package badgerds

import (
	"testing"

	"github.com/authzed/spicedb/pkg/tuple"
)

// TestKeyDecoder: one decoder reads a run of keys of both indexes back
// into the relationships they were made from, whichever fields the keys
// share, and refuses keys of the wrong shape.
func TestKeyDecoder(t *testing.T) {
	var d keyDecoder
	for _, s := range []string{
		"project:p1#reader@user:alice",
		"project:p1#reader@user:bob",
		"project:p2#reader@user:bob",
		"project:p2#admin@user:bob",
		"job:j1#project@project:p2",
		"group:g#member@group:h#member",
		"project:p2#reader@user:bob",
	} {
		ref := tuple.MustParse(s).RelationshipReference
		for _, key := range [][]byte{forwardKey(ref), reverseKey(ref)} {
			got, err := d.parse(key)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if tuple.StringWithoutCaveatOrExpiration(tuple.Relationship{RelationshipReference: got}) != s {
				t.Errorf("key %q read back as %v, want %s", key, got, s)
			}
		}
	}
	for _, bad := range []string{"", "r", "rproject\x00p1\x00reader\x00user\x00alice", "rproject\x00p1\x00reader\x00user\x00alice\x00...\x00x", "xproject\x00p1\x00reader\x00user\x00alice\x00..."} {
		if _, err := d.parse([]byte(bad)); err != errBadKey {
			t.Errorf("key %q: %v, want errBadKey", bad, err)
		}
	}
}
