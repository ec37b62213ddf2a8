package schema

import (
	_ "embed"
)

//go:generate go run ./internal/namegen -in schema.zed -out names.go

// Text is the SpiceDB schema Trellis writes at startup.
//
//go:embed schema.zed
var Text string

// ObjectType names a definition of the schema.
type ObjectType string

// Relation names a relation of a definition: something a relationship is
// written with.
type Relation string

// Permission names a permission of a definition: something only checked,
// never written.
type Permission string

// String returns the name as SpiceDB spells it.
func (t ObjectType) String() string { return string(t) }

// String returns the name as SpiceDB spells it.
func (r Relation) String() string { return string(r) }

// String returns the name as SpiceDB spells it.
func (p Permission) String() string { return string(p) }

// IsArtifactType reports whether t is one of the definitions that belong to a
// project.
func IsArtifactType(t ObjectType) bool {
	for _, a := range ArtifactTypes {
		if a == t {
			return true
		}
	}
	return false
}

// HasPermission reports whether definition t defines permission p.
func HasPermission(t ObjectType, p Permission) bool {
	for _, known := range Permissions[t] {
		if known == p {
			return true
		}
	}
	return false
}
