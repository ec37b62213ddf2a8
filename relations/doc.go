// Package relations is Trellis's domain: projects, members and their roles,
// artifacts, consistency tokens, and the grant rules that say who may assign
// which role.
//
// It speaks only the SpiceDB v1 client API (authzed-go) over a
// grpc.ClientConnInterface, so it cannot tell an in-process SpiceDB from a
// remote cluster, plus a small Catalog interface for project metadata.
// Permission decisions are always SpiceDB's; the only rules written in Go are
// the grant rules, and those are themselves checked through permissions.
//
// It imports no GraphQL, no HTTP and no storage engine: adapters live in the
// subpackages (embedded, badgerds, badgercatalog) and above it (graph, server).
package relations
