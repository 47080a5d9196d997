// Package imagefs shows an image store as a read-only FUSE file system
// (go-fuse v2's fs API): `crlazy mount` serves it, `crlazy umount`
// removes it. Nothing in it is ever written; the restorer never reads
// pages through it.
//
// # Tree
//
//	MOUNT/header.json            the store header
//	      inventory.json         the inventory record
//	      pstree.json files.json every record of the kind, as an array
//	      <pid>/core.json        core of the main thread (core-<tid>.json for others)
//	            ids.json mm.json fs.json pagemap.json
//	            fds.json         fdinfo entries, each with its files record
//	            creds.json sigacts.json   when the store has them
//	            memory/<start>-<end>.<perms>[.<name>]   one file per VMA
//	      criu/                  the store as CRIU images (package criuimg)
//
// Every JSON record is images.RecordJSON of the record, the form `crlazy
// show --json` prints (key, kind, id, sub, value), indented. A memory
// file is the VMA's bytes: its size is the VMA's, reads come straight
// from the page chunks (criuimg.ReadMemory: one copy, gaps cleared), and
// pages the store holds no data for (zero runs, pages never dumped) read
// as zeros and are holes for SEEK_DATA/SEEK_HOLE and st_blocks, taken
// from the pagemap. Names follow /proc/PID/maps: hex addresses, perms
// like "rw-p", and the basename of the mapped file or heap, stack, vdso,
// vvar, vsyscall, shmem.
//
// # Inodes and caching
//
// The store never changes once written, so the whole tree is built at
// mount time and handed to go-fuse as persistent inodes (go-fuse answers
// Lookup and Readdir from them). Building reads only what names need:
// the process tree, each process's ids and mm, the file paths, and what
// criu/ needs to name its files. File contents are built on first use
// (Getattr or Read) and kept: JSON and metadata images in memory (small),
// pagemap extents per mm; page data is never kept. Inode numbers are
// assigned depth first in listing order from 1 (the root), so a store
// gets the same numbers at every mount. Entry, attribute and negative
// lookups may be cached by the kernel for 24 h; files open with
// FOPEN_KEEP_CACHE, so the page cache stays valid across opens (or with
// FOPEN_DIRECT_IO for memory and pages files with Options.DirectIO).
//
// # Mounting
//
// Mount opens the store (refusing one a dump still writes, ErrLocked, or
// an unfinished one), builds the tree and mounts with mount(2) directly
// (root only; no fusermount): MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC,
// type fuse.crlazy, the store directory as source, max_read 1 MiB. The
// kernel refuses every change on a read-only mount with EROFS; the nodes
// answer EROFS too. The kernel leaves a FUSE mount's bdi read_ahead_kb at
// 128 whatever max_read says, so Mount raises it (DefaultReadAheadKB).
//
// Unmount (the server's, and the package function `crlazy umount` uses)
// calls umount2 on the path as given, without stat or canonicalization,
// so that a mount whose server is stopped or dead cannot hang it (see
// KERNEL-FACTS §7); a busy mount is detached lazily (MNT_DETACH) and its
// server goes on until the last open file is closed. The server's Wait
// returns when the kernel ends the connection and then closes the store.
//
// # Concurrency
//
// go-fuse runs each request on its own goroutine. Nodes hold no mutable
// state but their lazily built contents, each behind a sync.Once;
// store.Reader is safe for concurrent use. No store read is made inside
// another read's callback (a Close waiting for the Reader's lock would
// deadlock a nested read lock).
//
// # Errors
//
// A content the store cannot produce (a damaged record) makes Getattr,
// Read or Lseek of that file fail with EIO and is logged to
// Options.Log; the rest of the tree keeps working.
//
// # Performance
//
// Measured with BenchmarkMountRead (bench/mount_test.go: 1 GiB memory
// file, 1 MiB reads, 2-vCPU VM) and dd bs=1M from another process:
// first read through the page cache 1.5-2.3 GB/s, re-read from the page
// cache 5-5.8 GB/s, FOPEN_DIRECT_IO 2.0-2.2 GB/s; reading the same
// chunks with store.Chunks in the same process runs at 5.2-5.6 GB/s.
// A read costs the chunk value checksums (badger), one copy into the
// request buffer and the kernel's copies; read_ahead_kb 8192 beat 1024
// and 32768. The page cache is the default: a first read is as fast as
// direct I/O and later reads are more than twice as fast. go-fuse's
// splice path is disabled: reads return memory, never a descriptor, and
// each attempt cost a failed pipe resize.
//
// A store of 100 processes (TestManyProcesses) mounts in about 8 ms;
// walking and stat'ing all its 2009 entries, which builds every JSON
// file and metadata image, takes about 120 ms.
package imagefs
