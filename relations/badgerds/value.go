package badgerds

import (
	"fmt"
	"time"

	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	"github.com/authzed/spicedb/pkg/tuple"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A relationship's value holds what its key does not: caveat, expiration,
// integrity. Most relationships have none of them and store an empty value.

func encodeValue(rel tuple.Relationship) ([]byte, error) {
	if rel.OptionalCaveat == nil && rel.OptionalExpiration == nil && rel.OptionalIntegrity == nil {
		return nil, nil
	}
	extras := &core.RelationTuple{Caveat: rel.OptionalCaveat, Integrity: rel.OptionalIntegrity}
	if rel.OptionalExpiration != nil {
		extras.OptionalExpirationTime = timestamppb.New(*rel.OptionalExpiration)
	}
	v, err := extras.MarshalVT()
	if err != nil {
		return nil, fmt.Errorf("badgerds: encode relationship: %w", err)
	}
	return v, nil
}

// decodeValue fills rel's optional parts from a stored value.
// decodeRelationship rebuilds the relationship stored as value v under the
// forward key fwd.
func decodeRelationship(fwd, v []byte) (tuple.Relationship, error) {
	ref, err := parseRelationshipKey(fwd)
	if err != nil {
		return tuple.Relationship{}, err
	}
	rel := tuple.Relationship{RelationshipReference: ref}
	err = decodeValue(v, &rel)
	return rel, err
}

func decodeValue(v []byte, rel *tuple.Relationship) error {
	if len(v) == 0 {
		return nil
	}
	var extras core.RelationTuple
	if err := extras.UnmarshalVT(v); err != nil {
		return fmt.Errorf("badgerds: decode relationship %s: %w", rel.RelationshipReference, err)
	}
	if c := extras.GetCaveat(); c != nil && c.GetCaveatName() != "" {
		if c.Context == nil {
			c.Context = &structpb.Struct{}
		}
		rel.OptionalCaveat = c
	}
	rel.OptionalIntegrity = extras.GetIntegrity()
	if ts := extras.GetOptionalExpirationTime(); ts != nil {
		t := ts.AsTime().UTC()
		rel.OptionalExpiration = &t
	}
	return nil
}

// expiredAt reports whether rel has expired by now.
func expiredAt(rel tuple.Relationship, now time.Time) bool {
	return rel.OptionalExpiration != nil && rel.OptionalExpiration.Before(now)
}
