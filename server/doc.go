// Package server is Trellis's HTTP front door: /graphql, the GraphiQL page,
// /healthz, and authentication. It verifies bearer tokens and puts the
// viewer in the request context for package graph; it never issues tokens,
// except development tokens when run with --dev.
package server
