package badgerds

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/options"
	"github.com/authzed/spicedb/pkg/tuple"
)

// maxPlannedRanges bounds how far a query's fixed values are multiplied out
// into separate ranges; beyond it, rows are filtered instead.
const maxPlannedRanges = 4096

// field is what a query knows of one key field: nothing, a set of values,
// or (for a resource ID) a prefix.
type field struct {
	values []string // sorted; nil means any value
	prefix string
}

// keyFields is the number of fields of a relationship key.
const keyFields = 6

// plan turns what is known of the leading fields of a key, in key order,
// into the sorted, disjoint key ranges that can hold matching rows.
func plan(tag byte, fields []field) []keyRange {
	prefixes := [][]byte{{tag}}
	for i, f := range fields {
		last := i == keyFields-1
		switch {
		case f.prefix != "":
			out := make([]keyRange, 0, len(prefixes))
			for _, p := range prefixes {
				start := append(bytes.Clone(p), f.prefix...)
				out = append(out, keyRange{start: start, end: prefixEnd(start)})
			}
			return out
		case f.values == nil || len(prefixes)*len(f.values) > maxPlannedRanges:
			return rangesOf(prefixes)
		}
		next := make([][]byte, 0, len(prefixes)*len(f.values))
		for _, p := range prefixes {
			for _, v := range f.values {
				k := append(bytes.Clone(p), v...)
				if !last {
					k = append(k, sep)
				}
				next = append(next, k)
			}
		}
		prefixes = next
		if last {
			out := make([]keyRange, 0, len(prefixes))
			for _, k := range prefixes {
				out = append(out, pointRange(k))
			}
			return out
		}
	}
	return rangesOf(prefixes)
}

func rangesOf(prefixes [][]byte) []keyRange {
	out := make([]keyRange, 0, len(prefixes))
	for _, p := range prefixes {
		out = append(out, keyRange{start: p, end: prefixEnd(p)})
	}
	return out
}

func known(v string) field {
	if v == "" {
		return field{}
	}
	return field{values: []string{v}}
}

func knownSet(vs []string) field {
	if len(vs) == 0 {
		return field{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return field{values: slices.Compact(s)}
}

// subjectRelations is the set of subject relations a relation filter
// allows, or any.
func subjectRelations(f datastore.SubjectRelationFilter) field {
	if f.OnlyNonEllipsisRelations {
		return field{}
	}
	var vs []string
	if f.IncludeEllipsisRelation {
		vs = append(vs, tuple.Ellipsis)
	}
	if f.NonEllipsisRelation != "" {
		vs = append(vs, f.NonEllipsisRelation)
	}
	return knownSet(vs)
}

// scanSpec is one planned query: where to look, what to keep, in which
// order, from where and how many.
type scanSpec struct {
	tag    byte
	ranges []keyRange
	keep   func(tuple.Relationship) bool
	// order is the order rows come out of the index; want is the order the
	// caller asked for.
	order, want    options.SortOrder
	after          options.Cursor
	upTo           options.Cursor // the last row to return, in want's order
	limit          *uint64
	skipCaveats    bool
	includeExpired bool
	now            time.Time
}

// forwardSpec plans QueryRelationships.
func forwardSpec(f datastore.RelationshipsFilter, o *options.QueryOptions, now time.Time) (scanSpec, error) {
	if (o.After != nil || o.BeforeOrEqual != nil) && o.Sort == options.Unsorted {
		return scanSpec{}, datastore.ErrCursorsWithoutSorting
	}
	s := scanSpec{
		keep: filterFunc(f), want: o.Sort, after: o.After, upTo: o.BeforeOrEqual, limit: o.Limit,
		skipCaveats: o.SkipCaveats, includeExpired: o.SkipExpiration, now: now,
	}
	var selector *datastore.SubjectsSelector
	if len(f.OptionalSubjectsSelectors) == 1 {
		selector = &f.OptionalSubjectsSelectors[0]
	}
	resourceUnknown := len(f.OptionalResourceIds) == 0 && f.OptionalResourceIDPrefix == ""
	if selector != nil && selector.OptionalSubjectType != "" &&
		(f.OptionalResourceType == "" || resourceUnknown && len(selector.OptionalSubjectIds) > 0) {
		// The subject is known, and of the resource at most its type (say
		// a project's jobs): the forward index would scan, and in a
		// transaction record as read, every resource of the type. The
		// subject-first index holds just the subject's rows, in no order
		// a caller could ask for (see reverseKey).
		s.tag, s.order = tagReverse, options.Unsorted
		s.ranges = plan(tagReverse, []field{
			known(selector.OptionalSubjectType), knownSet(selector.OptionalSubjectIds), subjectRelations(selector.RelationFilter),
			known(f.OptionalResourceType), known(f.OptionalResourceRelation),
		})
		return s, nil
	}
	resourceIDs := knownSet(f.OptionalResourceIds)
	if f.OptionalResourceIDPrefix != "" {
		resourceIDs = field{prefix: f.OptionalResourceIDPrefix}
	}
	fields := []field{known(f.OptionalResourceType), resourceIDs, known(f.OptionalResourceRelation)}
	if selector != nil {
		fields = append(fields, known(selector.OptionalSubjectType), knownSet(selector.OptionalSubjectIds), subjectRelations(selector.RelationFilter))
	}
	s.tag, s.order = tagForward, options.ByResource
	s.ranges = plan(tagForward, fields)
	return s, nil
}

// reverseSpec plans ReverseQueryRelationships.
func reverseSpec(f datastore.SubjectsFilter, o *options.ReverseQueryOptions, now time.Time) scanSpec {
	selector := f.AsSelector()
	var resType, resRel string
	if o.ResRelation != nil {
		resType, resRel = o.ResRelation.Namespace, o.ResRelation.Relation
	}
	s := scanSpec{
		tag: tagReverse, order: options.BySubject, want: o.SortForReverse, after: o.AfterForReverse,
		limit: o.LimitForReverse, skipCaveats: o.SkipCaveatsForReverse, includeExpired: o.SkipExpirationForReverse, now: now,
		keep: func(rel tuple.Relationship) bool {
			return selector.Test(rel.Subject) &&
				(resType == "" || rel.Resource.ObjectType == resType) &&
				(resRel == "" || rel.Resource.Relation == resRel)
		},
	}
	if resType == "" || resRel == "" {
		// The index orders a subject's rows by resource relation before
		// resource ID: by subject only once both are fixed.
		s.order = options.Unsorted
	}
	s.ranges = plan(tagReverse, []field{
		known(f.SubjectType), knownSet(f.OptionalSubjectIds), subjectRelations(f.RelationFilter), known(resType), known(resRel),
	})
	return s
}

// filterFunc is the exact meaning of a RelationshipsFilter, expiration
// aside; planned ranges only narrow where it is applied.
func filterFunc(f datastore.RelationshipsFilter) func(tuple.Relationship) bool {
	return func(rel tuple.Relationship) bool {
		res := rel.Resource
		switch {
		case f.OptionalResourceType != "" && f.OptionalResourceType != res.ObjectType,
			len(f.OptionalResourceIds) > 0 && !slices.Contains(f.OptionalResourceIds, res.ObjectID),
			f.OptionalResourceIDPrefix != "" && !strings.HasPrefix(res.ObjectID, f.OptionalResourceIDPrefix),
			f.OptionalResourceRelation != "" && f.OptionalResourceRelation != res.Relation:
			return false
		}
		switch f.OptionalCaveatNameFilter.Option {
		case datastore.CaveatFilterOptionHasMatchingCaveat:
			if rel.OptionalCaveat == nil || rel.OptionalCaveat.CaveatName != f.OptionalCaveatNameFilter.CaveatName {
				return false
			}
		case datastore.CaveatFilterOptionNoCaveat:
			if rel.OptionalCaveat != nil && rel.OptionalCaveat.CaveatName != "" {
				return false
			}
		}
		switch f.OptionalExpirationOption {
		case datastore.ExpirationFilterOptionHasExpiration:
			if rel.OptionalExpiration == nil {
				return false
			}
		case datastore.ExpirationFilterOptionNoExpiration:
			if rel.OptionalExpiration != nil {
				return false
			}
		}
		if len(f.OptionalSubjectsSelectors) > 0 {
			return slices.ContainsFunc(f.OptionalSubjectsSelectors, func(s datastore.SubjectsSelector) bool {
				return subjectMatches(s, rel.Subject)
			})
		}
		return true
	}
}

// subjectMatches is SubjectsSelector.Test with OnlyNonEllipsisRelations
// honoured even when the ellipsis is also asked for.
func subjectMatches(s datastore.SubjectsSelector, subject tuple.ObjectAndRelation) bool {
	if s.OptionalSubjectType != "" && s.OptionalSubjectType != subject.ObjectType {
		return false
	}
	if len(s.OptionalSubjectIds) > 0 && !slices.Contains(s.OptionalSubjectIds, subject.ObjectID) {
		return false
	}
	rf := s.RelationFilter
	if rf.OnlyNonEllipsisRelations {
		return subject.Relation != tuple.Ellipsis
	}
	if rf.IsEmpty() {
		return true
	}
	return (rf.IncludeEllipsisRelation && subject.Relation == tuple.Ellipsis) ||
		(rf.NonEllipsisRelation != "" && rf.NonEllipsisRelation == subject.Relation)
}

// orderKey sorts relationships in order o: by resource, or by subject and
// then resource, as SpiceDB's BySubject has them (which the reverse index
// does not, its resource relation coming before the resource ID).
func orderKey(rel tuple.RelationshipReference, o options.SortOrder) []byte {
	if o == options.BySubject {
		return appendFields(nil, rel.Subject.ObjectType, rel.Subject.ObjectID, rel.Subject.Relation,
			rel.Resource.ObjectType, rel.Resource.ObjectID, rel.Resource.Relation)
	}
	return forwardKey(rel)
}

// indexKey is rel's key in the index the spec scans.
func (s scanSpec) indexKey(rel tuple.RelationshipReference) []byte {
	if s.tag == tagReverse {
		return reverseKey(rel)
	}
	return forwardKey(rel)
}

// wantOrder maps the orders that leave the choice to us onto the index's
// own. run resumes a cursor from its key in the index, so every page of a
// query continues the order its first page had.
func (s scanSpec) wantOrder() options.SortOrder {
	switch s.want {
	case options.Unsorted, options.ChooseEfficient:
		return s.order
	}
	return s.want
}

// run streams the matching rows of spec through v to yield.
func (s scanSpec) run(v view, yield func(tuple.Relationship, error) bool) {
	want := s.wantOrder()
	if want != s.order {
		s.runSorted(v, want, yield)
		return
	}
	// Rows come in the index's order here: cursors are keys in it, and
	// the ranges, in ascending order, are cut to what lies between them.
	var afterKey, endKey []byte
	if s.after != nil {
		afterKey = append(s.indexKey(options.ToRelationship(s.after).RelationshipReference), 0)
	}
	if s.upTo != nil {
		endKey = append(s.indexKey(options.ToRelationship(s.upTo).RelationshipReference), 0)
	}
	var count uint64
	var keys keyDecoder
	for _, r := range s.ranges {
		if s.limit != nil && count >= *s.limit {
			// Not another range: in a transaction, read means recorded,
			// and a range read for nothing could only cause conflicts.
			return
		}
		if endKey != nil && bytes.Compare(r.start, endKey) >= 0 {
			continue
		}
		if afterKey != nil {
			if r.end != nil && bytes.Compare(afterKey, r.end) >= 0 {
				continue
			}
			if bytes.Compare(afterKey, r.start) > 0 {
				r.start = afterKey
			}
		}
		if endKey != nil && (r.end == nil || bytes.Compare(endKey, r.end) < 0) {
			r.end = endKey
		}
		stop := false
		err := v.scan(r, false, func(key, val []byte, _ uint64) (bool, error) {
			rel, ok, err := s.decode(&keys, key, val)
			if err != nil || !ok {
				return err == nil, err
			}
			if s.limit != nil && count >= *s.limit {
				stop = true
				return false, nil
			}
			count++
			if !yield(rel, nil) {
				stop = true
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			yield(tuple.Relationship{}, err)
			return
		}
		if stop {
			return
		}
	}
}

// runSorted collects every match, sorts it the way asked, then pages.
func (s scanSpec) runSorted(v view, want options.SortOrder, yield func(tuple.Relationship, error) bool) {
	type row struct {
		key []byte
		rel tuple.Relationship
	}
	var rows []row
	var keys keyDecoder
	for _, r := range s.ranges {
		err := v.scan(r, false, func(key, val []byte, _ uint64) (bool, error) {
			rel, ok, err := s.decode(&keys, key, val)
			if ok {
				rows = append(rows, row{orderKey(rel.RelationshipReference, want), rel})
			}
			return err == nil, err
		})
		if err != nil {
			yield(tuple.Relationship{}, err)
			return
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return bytes.Compare(a.key, b.key) })
	var afterKey, upToKey []byte
	if s.after != nil {
		afterKey = orderKey(options.ToRelationship(s.after).RelationshipReference, want)
	}
	if s.upTo != nil {
		upToKey = orderKey(options.ToRelationship(s.upTo).RelationshipReference, want)
	}
	var count uint64
	for _, r := range rows {
		if afterKey != nil && bytes.Compare(r.key, afterKey) <= 0 {
			continue
		}
		if upToKey != nil && bytes.Compare(r.key, upToKey) > 0 {
			return
		}
		if s.limit != nil && count >= *s.limit {
			return
		}
		count++
		if !yield(r.rel, nil) {
			return
		}
	}
}

// decode reads a row and says whether the query keeps it.
func (s scanSpec) decode(keys *keyDecoder, key, val []byte) (tuple.Relationship, bool, error) {
	ref, err := keys.parse(key)
	if err != nil {
		return tuple.Relationship{}, false, err
	}
	rel := tuple.Relationship{RelationshipReference: ref}
	if err := decodeValue(val, &rel); err != nil {
		return tuple.Relationship{}, false, err
	}
	if !s.keep(rel) ||
		(s.skipCaveats && rel.OptionalCaveat != nil) ||
		(!s.includeExpired && expiredAt(rel, s.now)) {
		return rel, false, nil
	}
	return rel, true, nil
}
