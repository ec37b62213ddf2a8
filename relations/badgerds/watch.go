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

// watchPage bounds the change log entries a watcher reads at a time.
const watchPage = 500

// emit sends the changes committed in (from, to], then a checkpoint at to
// if asked for. The store is held open only while a page of entries is
// read, not while a slow watcher takes them, and a watcher far behind
// never holds its whole backlog in memory.
func (w watcher) emit(ctx context.Context, from, to uint64) error {
	checkpoints := w.opts.Content&datastore.WatchCheckpoints != 0
	last := from // the newest entry sent
	for from < to {
		entries, next, err := w.readPage(from, to)
		if err != nil {
			return err
		}
		for _, rc := range entries {
			if out, ok := w.filter(rc); ok {
				if err := w.send(ctx, out); err != nil {
					return err
				}
			}
			if checkpoints {
				if err := w.send(ctx, datastore.RevisionChanges{Revision: rc.Revision, IsCheckpoint: true}); err != nil {
					return err
				}
			}
			last = uint64(rc.Revision.(revision))
		}
		from = next
	}
	if checkpoints && last < to {
		// The head moved by a commit with no change log entry (the
		// collector's): the watcher is still told it has reached it.
		return w.send(ctx, datastore.RevisionChanges{Revision: revision(to), IsCheckpoint: true})
	}
	return nil
}

// readPage reads up to watchPage change log entries committed in
// (from, to], and where the next page starts: the last entry's revision,
// or to when the page reached it.
func (w watcher) readPage(from, to uint64) ([]datastore.RevisionChanges, uint64, error) {
	v, done, err := w.ds.openSnapshot(to, from)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	var entries []datastore.RevisionChanges
	err = v.scan(keyRange{start: changelogKey(from + 1), end: changelogKey(to + 1)}, false,
		func(key, val []byte, _ uint64) (bool, error) {
			rc, err := decodeChanges(revision(decodeChangelogKey(key)), val)
			entries = append(entries, rc)
			return err == nil && len(entries) < watchPage, err
		})
	if err != nil {
		return nil, 0, err
	}
	if len(entries) < watchPage {
		return entries, to, nil
	}
	return entries, uint64(entries[len(entries)-1].Revision.(revision)), nil
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
	case <-w.ds.closing:
		return errClosed
	case <-t.C:
		return datastore.NewWatchDisconnectedErr()
	}
}
