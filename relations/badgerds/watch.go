package badgerds

import (
	"context"
	"errors"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
)

// Watch implements datastore.ReadOnlyDatastore from the change log: every
// transaction committed after afterRevision, in commit order, then a
// checkpoint per revision if asked for. A watcher that does not keep up is
// disconnected rather than allowed to grow the buffer without bound.
func (ds *Datastore) Watch(ctx context.Context, afterRevision datastore.Revision, opts datastore.WatchOptions) (<-chan datastore.RevisionChanges, <-chan error) {
	bufLen := opts.WatchBufferLength
	if bufLen == 0 {
		bufLen = ds.cfg.watchBuffer
	}
	changes := make(chan datastore.RevisionChanges, bufLen)
	errs := make(chan error, 1)
	fail := func(err error) (<-chan datastore.RevisionChanges, <-chan error) {
		errs <- err
		close(changes)
		close(errs)
		return changes, errs
	}
	if opts.EmissionStrategy == datastore.EmitImmediatelyStrategy {
		return fail(errors.New("badgerds: emit immediately strategy is unsupported"))
	}
	after, ok := afterRevision.(revision)
	if !ok {
		return fail(datastore.NewInvalidRevisionErr(afterRevision, datastore.CouldNotDetermineRevision))
	}
	if uint64(after) < ds.gc.discardedBelow.Load() {
		return fail(datastore.NewInvalidRevisionErr(after, datastore.RevisionStale))
	}
	timeout := opts.WatchBufferWriteTimeout
	if timeout == 0 {
		timeout = ds.cfg.watchTimeout
	}
	w := watcher{ds: ds, opts: opts, changes: changes, timeout: timeout}
	go func() {
		defer close(errs)
		defer close(changes)
		if err := w.run(ctx, uint64(after)); err != nil {
			errs <- err
		}
	}()
	return changes, errs
}

type watcher struct {
	ds      *Datastore
	opts    datastore.WatchOptions
	changes chan<- datastore.RevisionChanges
	timeout time.Duration
}

func (w watcher) run(ctx context.Context, cursor uint64) error {
	for {
		next := w.ds.marks.next()
		if err := w.ds.checkOpen(); err != nil {
			return err
		}
		if head := w.ds.marks.headRev(); head > cursor {
			if err := w.emit(ctx, cursor, head); err != nil {
				return err
			}
			cursor = head
		}
		select {
		case <-ctx.Done():
			return datastore.NewWatchCanceledErr()
		case <-next:
		}
	}
}

// emit sends the changes committed in (from, to].
func (w watcher) emit(ctx context.Context, from, to uint64) error {
	leave, err := w.ds.enter()
	if err != nil {
		return err
	}
	defer leave()
	if from < w.ds.gc.discardedBelow.Load() {
		// The collector passed this watcher: what it would read next may
		// be gone. Better an error than a silent gap.
		return datastore.NewInvalidRevisionErr(revision(from), datastore.RevisionStale)
	}
	txn := w.ds.db.NewTransactionAt(to, false)
	defer txn.Discard()
	var entries []datastore.RevisionChanges
	err = view{txn: txn}.scan(keyRange{start: changelogKey(from + 1), end: changelogKey(to + 1)}, false,
		func(key, val []byte, _ uint64) (bool, error) {
			rc, err := decodeChanges(revision(decodeChangelogKey(key)), val)
			entries = append(entries, rc)
			return err == nil, err
		})
	if err != nil {
		return err
	}
	for _, rc := range entries {
		if out, ok := w.filter(rc); ok {
			if err := w.send(ctx, out); err != nil {
				return err
			}
		}
		if w.opts.Content&datastore.WatchCheckpoints != 0 {
			if err := w.send(ctx, datastore.RevisionChanges{Revision: rc.Revision, IsCheckpoint: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// filter keeps only the content the watcher asked for.
func (w watcher) filter(rc datastore.RevisionChanges) (datastore.RevisionChanges, bool) {
	out := datastore.RevisionChanges{Revision: rc.Revision, Metadatas: rc.Metadatas}
	if w.opts.Content&datastore.WatchRelationships != 0 {
		out.RelationshipChanges = rc.RelationshipChanges
	}
	if w.opts.Content&datastore.WatchSchema != 0 {
		out.ChangedDefinitions = rc.ChangedDefinitions
		out.DeletedNamespaces = rc.DeletedNamespaces
		out.DeletedCaveats = rc.DeletedCaveats
	}
	some := len(out.RelationshipChanges)+len(out.ChangedDefinitions)+len(out.DeletedNamespaces)+len(out.DeletedCaveats) > 0
	return out, some
}

func (w watcher) send(ctx context.Context, rc datastore.RevisionChanges) error {
	select {
	case w.changes <- rc:
		return nil
	default:
	}
	t := time.NewTimer(w.timeout)
	defer t.Stop()
	select {
	case w.changes <- rc:
		return nil
	case <-ctx.Done():
		return datastore.NewWatchCanceledErr()
	case <-t.C:
		return datastore.NewWatchDisconnectedErr()
	}
}
