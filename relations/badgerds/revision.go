package badgerds

import (
	"fmt"
	"strconv"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
)

// revision is a Badger commit timestamp: nanoseconds since the Unix epoch of
// the commit, bumped to stay strictly increasing.
type revision uint64

var _ datastore.Revision = revision(0)

func (r revision) String() string { return strconv.FormatUint(uint64(r), 10) }

func (r revision) Equal(other datastore.Revision) bool {
	o, ok := other.(revision)
	return ok && o == r
}

func (r revision) GreaterThan(other datastore.Revision) bool {
	if other == datastore.NoRevision {
		return true
	}
	o, ok := other.(revision)
	return ok && r > o
}

func (r revision) LessThan(other datastore.Revision) bool {
	if other == datastore.NoRevision {
		return false
	}
	o, ok := other.(revision)
	return ok && r < o
}

// ByteSortable is false: the decimal string of a smaller number can be
// shorter, so strings do not sort as revisions do.
func (r revision) ByteSortable() bool { return false }

func (r revision) time() time.Time { return time.Unix(0, int64(r)) }

func parseRevision(s string) (revision, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("badgerds: malformed revision %q", s)
	}
	return revision(n), nil
}

// asRevision converts a revision handed back by SpiceDB.
func asRevision(r datastore.Revision) (revision, error) {
	rev, ok := r.(revision)
	if !ok || rev == 0 {
		return 0, datastore.NewInvalidRevisionErr(r, datastore.CouldNotDetermineRevision)
	}
	return rev, nil
}
