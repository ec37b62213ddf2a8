// Package badgerds is a SpiceDB datastore (pkg/datastore.Datastore) on a
// Badger v4 directory: SpiceDB's engine with durable storage and no
// database server to run.
//
// Badger runs in managed mode, so a SpiceDB revision is a Badger commit
// timestamp (wall-clock nanoseconds, strictly increasing) and a snapshot
// read is a Badger read at that timestamp. Every relationship is stored
// twice, under a resource-first and a subject-first key, so both query
// directions are ordered range scans. Each transaction also writes a change
// log entry under its revision, which feeds Watch.
//
// Transactions are optimistic: reads are recorded as key ranges, and a
// commit that read a range another transaction wrote since it started fails
// with badger.ErrConflict and is retried. Commits are group-committed by
// Badger and acknowledged only after fsync and only once every earlier
// commit has finished, so a returned revision is always readable.
//
// Project metadata is not here (see badgercatalog).
package badgerds
