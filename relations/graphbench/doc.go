// Package graphbench generates project graphs of a given shape and measures
// SpiceDB's engine over a datastore on them: Check (through the in-memory
// gRPC connection Trellis uses, and in process), LookupResources,
// LookupSubjects and durable writes. It serves `go test -bench` and
// `trellis bench`; the server never uses it.
package graphbench
