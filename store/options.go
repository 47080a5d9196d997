package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Badger tuning. The numbers come from BenchmarkPutChunk and
// BenchmarkChunksRead on the project's VM (see doc.go).
const (
	// valueThreshold sends every value of this many bytes or more to the
	// value log: all page chunks and the larger records. Chunks inline in
	// the LSM tree were 5x slower to write and read (KERNEL-FACTS §8).
	valueThreshold = 1 << 10
	// valueLogFileBytes is the size at which badger starts a new value-log
	// file.
	valueLogFileBytes = 1<<30 - 1
	// memTableBytes is the size of badger's in-memory table; with values
	// in the value log it holds only keys and value pointers.
	memTableBytes = 16 << 20
	// numCompactors keeps two compaction goroutines (the minimum badger
	// runs well with); a dump produces few small tables.
	numCompactors = 2
	// batchBytes is how many bytes of keys and values one badger
	// transaction collects before it is committed in the background.
	batchBytes = 8 << 20
	// maxPendingBatches bounds the batches committing in the background,
	// and so the memory a Writer holds: about
	// (maxPendingBatches+1) * batchBytes of chunk data.
	maxPendingBatches = 4
	// syncEveryBytes is how much data a Writer commits between two
	// background fsyncs of its value-log files (see syncer).
	syncEveryBytes = 32 << 20
	// storeMagic is badger's "external magic" of every crlazy store: a
	// badger database written by another program has a different one.
	storeMagic uint16 = 0xC1A2
)

// Option changes how Create or Open work.
type Option func(*config)

type config struct {
	logger *slog.Logger // nil: badger's messages are dropped
	// deferVerify skips Open's scan of every key; the caller runs
	// Reader.Verify when it suits it.
	deferVerify bool
	// Tests shrink badger's files and the Writer's batches to get stores
	// of many files from little data; zero means the constants above.
	vlogFileBytes, memTableBytes, batchBytes int64
}

// WithDeferredVerify makes Open skip what takes time proportional to the
// store's size (~2.5 ms per GiB of chunks here): the scan of every key
// against the header's counts and digest, and the checksum of every table
// block (only each table's index is checked). A lazy restore starts the
// process first and runs Reader.Verify alongside. Every block and value
// read is still verified when it is read.
func WithDeferredVerify() Option {
	return func(c *config) { c.deferVerify = true }
}

// WithLogger sends badger's warnings and errors to l. By default they are
// dropped: every failure that matters reaches the caller as an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

// badgerOptions are the options shared by writers and readers.
func badgerOptions(dir string, c config) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{c.logger}).
		WithMetricsEnabled(false).
		WithValueThreshold(valueThreshold).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithNumVersionsToKeep(1).
		WithDetectConflicts(false).
		WithExternalMagic(storeMagic).
		WithChecksumVerificationMode(options.OnTableAndBlockRead).
		WithVerifyValueChecksum(true)
}

func writerOptions(dir string, c config) badger.Options {
	return badgerOptions(dir, c).
		WithSyncWrites(false).
		WithValueLogFileSize(orDefault(c.vlogFileBytes, valueLogFileBytes)).
		WithMemTableSize(orDefault(c.memTableBytes, memTableBytes)).
		WithNumCompactors(numCompactors)
}

func orDefault(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

func readerOptions(dir string, c config) badger.Options {
	o := badgerOptions(dir, c).WithReadOnly(true)
	if c.deferVerify {
		// Each block is still checked when read; Verify checks them all.
		o = o.WithChecksumVerificationMode(options.OnBlockRead)
	}
	return o
}

// badgerLogger adapts badger's logger interface to slog; a nil logger
// drops everything. (badger's WithLoggingLevel would replace it with
// badger's own logger on stderr; the slog handler filters levels.)
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	if b.l != nil {
		b.l.Log(context.Background(), level, "badger: "+fmt.Sprintf(format, args...))
	}
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelInfo, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }
