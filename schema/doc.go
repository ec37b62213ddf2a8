// Package schema holds Trellis's SpiceDB schema (schema.zed, embedded in the
// binary) and the typed Go names generated from it, so that code elsewhere
// never spells a definition, relation, permission or role as a string
// literal: a rename in schema.zed breaks the build, not production.
//
// It also ships a SpiceDB validation file (trellis.validation.yaml) whose
// assertions pin down every role × permission rule. What the schema means
// for the product (who may grant which role) lives in package relations.
package schema
