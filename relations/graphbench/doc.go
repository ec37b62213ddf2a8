// Package graphbench generates project graphs of a given shape and measures
// SpiceDB's engine over a datastore on them: Check, LookupResources,
// LookupSubjects and durable writes, through the same in-process gRPC
// connection Trellis uses. It serves `go test -bench` and `trellis bench`;
// nothing in production imports it.
package graphbench
