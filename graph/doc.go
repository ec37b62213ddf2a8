// Package graph is Trellis's GraphQL API for frontends, built with gqlgen:
// the schema (*.graphqls), the generated executor (*.generated.go, committed),
// thin resolvers that call package relations, and the one place where domain
// errors become GraphQL errors with extensions.code.
//
// It does not authenticate: package server puts the viewer in the request
// context with WithViewer, and every resolver refuses to act without one.
package graph
