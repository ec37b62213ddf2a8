package badgerds

import "time"

// Option configures New.
type Option func(*config)

type config struct {
	inMemory      bool
	readOnly      bool
	gcWindow      time.Duration
	gcInterval    time.Duration
	quantization  time.Duration
	watchBuffer   uint16
	watchTimeout  time.Duration
	syncWrites    bool
	maxRetries    int
	blockCacheMiB int64
}

func defaultConfig() config {
	return config{
		gcWindow:      24 * time.Hour,
		gcInterval:    3 * time.Minute,
		quantization:  5 * time.Second,
		watchBuffer:   128,
		watchTimeout:  time.Second,
		syncWrites:    true,
		maxRetries:    10,
		blockCacheMiB: 256,
	}
}

// WithInMemory keeps everything in memory: nothing is durable. For tests.
// Badger keeps no value log in memory, so a transaction's change log entry
// must fit in 1 MiB: about 25,000 relationship writes, half what a store on
// disk takes in one transaction.
func WithInMemory() Option { return func(c *config) { c.inMemory = true } }

// WithReadOnly opens an existing store to read it and nothing else: no
// write, no garbage collection, no identity stamped on an empty directory
// (which is refused), so tools can inspect a store without changing it.
// No other process may be writing to it.
func WithReadOnly() Option { return func(c *config) { c.readOnly = true } }

// WithGCWindow sets how long old revisions stay readable (default 24h):
// a ZedToken older than this is refused, and the versions it would read
// may be collected.
func WithGCWindow(d time.Duration) Option { return func(c *config) { c.gcWindow = d } }

// WithGCInterval sets how often garbage collection runs (default 3m); zero
// or less disables the background collector.
func WithGCInterval(d time.Duration) Option { return func(c *config) { c.gcInterval = d } }

// WithRevisionQuantization sets the window within which minimize-latency
// reads share a revision, and so SpiceDB's caches (default 5s).
func WithRevisionQuantization(d time.Duration) Option {
	return func(c *config) { c.quantization = d }
}

// WithWatchBufferLength sets how many changes a watcher may have pending
// before it is disconnected (default 128).
func WithWatchBufferLength(n uint16) Option { return func(c *config) { c.watchBuffer = n } }

// WithWatchBufferWriteTimeout sets how long a change waits for a slow
// watcher before the watcher is disconnected (default 1s).
func WithWatchBufferWriteTimeout(d time.Duration) Option {
	return func(c *config) { c.watchTimeout = d }
}

// WithSyncWrites makes every acknowledged write durable with fsync (the
// default). Turning it off trades durability on power loss for speed.
func WithSyncWrites(sync bool) Option { return func(c *config) { c.syncWrites = sync } }

// WithBlockCacheMiB sets Badger's block cache size (default 256 MiB).
func WithBlockCacheMiB(n int64) Option { return func(c *config) { c.blockCacheMiB = n } }
