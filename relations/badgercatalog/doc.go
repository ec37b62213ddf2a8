// Package badgercatalog keeps Trellis's project metadata and each user's
// current project in a Badger directory: the relations.Catalog of the
// embedded default. Relationships are not here; they live in SpiceDB's
// datastore (package badgerds).
package badgercatalog
