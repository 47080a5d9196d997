// Package store keeps a crlazy image store: one badger v4 database in the
// images directory, holding the records and page chunks that package
// images defines (key layout, sealed record values, header). A dump
// writes a store once with a Writer; any number of restores then read it
// with Readers, at the same time, from any number of processes. A store
// is never modified after Commit.
//
// # badger configuration
//
//   - ValueThreshold 1 KiB: every chunk and every record of 1 KiB or more
//     goes to the value log; the LSM tree holds keys, value pointers and
//     small records only (inline 4 KiB values were 5x slower, KERNEL-FACTS
//     §8). Tables stay small, so Open can read and verify them whole.
//   - No compression (pages are mostly incompressible and compression
//     applies to tables only), no block cache, NumVersionsToKeep 1,
//     conflict detection off, metrics off.
//   - Checksums: table blocks are verified on every read, and every table
//     in full before badger opens it (see checkTables); value-log entries
//     (CRC32C over header, key and value) on every read.
//   - External magic 0xC1A2 in the MANIFEST marks a crlazy store; a badger
//     database of another program is ErrNotStore.
//   - Writer: SyncWrites off, value-log files of 1 GiB, memtable 16 MiB.
//   - badger's log goes nowhere unless WithLogger is given.
//
// # Writing
//
// Create writes the header at once with complete = false. Puts go into
// badger transactions of about 8 MiB (batchBytes) that commit in the
// background, at most 4 at a time (maxPendingBatches): a Put waits when
// the pipeline is full, so a Writer holds at most about 40 MiB of chunk
// data it has not handed to badger. (badger's WriteBatch is not used: it
// cuts transactions by what goes into the LSM tree, so one transaction
// could hold gigabytes of chunks.) A chunk's bytes are not copied by the
// store; badger copies them once into its value log (through a mapping)
// when the batch commits. Every 32 MiB committed, a goroutine fsyncs the
// value-log files (syncer): badger msyncs a value-log file synchronously
// when it moves to the next one, stalling all writes, and pages already
// written back make that, and Commit, cheap. The Writer keeps every key it
// wrote, to refuse a second write of one (ErrDuplicate) and to count the
// store's contents.
//
// Commit: wait for every batch; fsync all value-log files and badger's
// log; write the header with complete = true and Contents (counts and
// key digest); sync; close badger (which writes the last table and the
// MANIFEST); fsync the directory. The header is the last write, so a
// store whose header says complete holds everything. Abort closes badger
// and removes every badger file (and the directory if Create made it).
//
// # Reading
//
// Open checks, in this order, before it trusts anything:
//
//  1. dir exists and is a directory;
//  2. it has a MANIFEST (else ErrCRIUImages if it holds *.img files,
//     ErrNotStore otherwise);
//  3. no LOCK file: a writer keeps one from Create to Commit
//     (ErrLocked while that process lives, ErrIncomplete once it died);
//  4. the MANIFEST starts with badger's magic and crlazy's external magic
//     (ErrNotStore) and badger's format 8;
//  5. every table reads and verifies in full (checkTables);
//  6. badger opens read-only (a shared flock, so any number of readers);
//  7. the header is there (ErrCorrupt), complete (ErrIncomplete), of a
//     supported format version (*images.VersionError), page size and
//     chunk size;
//  8. a scan of all keys (keys only) parses every key and finds exactly
//     the records and chunks, and the key digest, that the header lists.
//
// Reads hand out values without copying: the slices given to callbacks
// point into badger's read-only mappings of the store files and are valid
// only until the callback returns. Each chunk read is checked: a length
// that is a non-zero multiple of the page size, at most chunk_size, not
// overlapping the chunk before. FindChunk, the page-fault lookup, is one
// reverse seek and one value read.
//
// # Concurrency
//
// Writer: PutRecord, PutSubRecord and PutChunk are safe for concurrent
// use (one mutex around the batch; the background commit does the
// copying). Commit and Abort must be called once, after every Put has
// returned.
//
// Reader: every method is safe for concurrent use. Close waits for
// methods in progress; a callback must not call Close. Any number of
// Readers in any number of processes may have one store open (badger's
// read-only mode); a Writer's exclusive lock keeps Readers out until
// Commit.
//
// # Errors
//
// Errors are wrapped with what was being done ("open store /x: ...",
// "read core/4242: not found") and match the sentinels of errors.go with
// errors.Is: ErrStoreExists, ErrCRIUImages, ErrNotStore, ErrIncomplete,
// ErrLocked, ErrNotFound, ErrDuplicate, ErrBadChunk, ErrClosed, and
// ErrCorrupt for every *CorruptError (damaged files, badger errors,
// checksum and seal mismatches, missing or extra keys, bad chunk
// lengths). images.ErrVersion and images.ErrBadKey come from package
// images. An error returned by a caller's callback is returned as it is.
//
// badger trusts some lengths in its files, and panics on damaged input
// that it does not check; it also reads values through mappings, where a
// store file cut short under an open Reader raises SIGBUS. Every exported
// function therefore recovers panics (with debug.SetPanicOnFault for the
// duration of the call) and returns them as a *CorruptError; a panic
// raised by a caller's callback is re-raised unchanged. After such a
// panic badger may still hold internal locks, so the Reader refuses every
// further call with that error, and Close leaves the database open (its
// mappings and descriptors leak) rather than risk hanging. Tables are
// opened by badger on goroutines of its own, out of reach of recover;
// Open verifies them first on its own goroutine.
//
// How damage is caught (TestCorruptFiles damages every file of a store
// by truncation, deletion and byte flips; the other tests in
// dirs_test.go cover foreign and unfinished directories):
//
//   - MANIFEST: badger's magic and crlazy's (step 4), the CRC32C of each
//     change set, lengths checked against the file size; a MANIFEST cut
//     short loses tables silently in badger, which steps 7 and 8 catch.
//   - *.sst: checkTables (index checksum, every block's checksum, footer
//     lengths; panics recovered); a deleted table fails badger's open.
//   - *.vlog: the file header's key id (badger's open); every value's
//     CRC32C on read. badger v4 logs a failed value read and returns an
//     empty value without an error: an empty chunk is rejected by the
//     length check, an empty record by its seal. A flip in the file
//     header's IV (unused without encryption) changes nothing read.
//   - KEYREGISTRY: its sanity check in badger's open; DISCARD is not read
//     by a read-only open and cannot change what is read.
//
// # Performance
//
// Measured on the project's VM (2 vCPUs, ext4 on virtio; page cache
// warm for reads) with BenchmarkPutChunk, BenchmarkChunksRead and
// BenchmarkFindChunk, 1 GiB per operation, medians of 5 runs:
//
//	chunk    PutChunk (page cache)  Chunks read   FindChunk
//	64 KiB    890 MB/s               6.0 GB/s     21 µs
//	128 KiB   910 MB/s               7.2 GB/s     31 µs
//	256 KiB   920 MB/s               8.2 GB/s     57 µs
//	1 MiB     680 MB/s               9.1 GB/s    168 µs
//
// Commit of 1 GiB added 10-20 ms: the background syncer had written the
// value log back already. The write path is badger's single write
// goroutine: an encoding copy into a buffer, CRC32C, and a copy into the
// value-log mapping, whose first-touch page faults dominate (this VM
// writes 0.6-3.9 GB/s through a fresh shared mapping, against 4.7-5.9
// GB/s through write(2)); without the background syncer it was about 630
// MB/s. Reads are bound by the value checksum (without it FindChunk takes
// about 2.8 µs at any chunk size). images.ChunkMaxBytes is 128 KiB:
// larger chunks write no faster, and smaller ones make faults cheaper.
package store
