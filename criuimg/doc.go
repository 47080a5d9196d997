// Package criuimg reads and writes CRIU's on-disk image format, shows a
// crlazy store as a CRIU image directory (View, which the FUSE view's
// criu/ serves and WriteDir writes out), and turns a CRIU image
// directory into a store (Import). Facts about the format come from
// CRIU's documentation and go-criu's crit (magic numbers from go-criu's
// magic package); no code is taken from either.
//
// # Image files
//
// Every image but the inventory and the pages images is
//
//	+------------------+------------------+--------------------------------+
//	| IMG_COMMON (u32) | type magic (u32) | entries ...                    |
//	| 0x54564319       | e.g. CORE        |                                |
//	+------------------+------------------+--------------------------------+
//
//	entry:  +-------------+----------------------------------+
//	        | size (u32)  | protobuf message, size bytes     |
//	        +-------------+----------------------------------+
//
// All integers are little-endian. inventory.img has only its own magic
// (INVENTORY, 0x58313116); STATS and IRMAP_CACHE start with IMG_SERVICE
// (0x55105940) instead of IMG_COMMON. pagemap-<pid>.img's first entry is
// a pagemap_head {pages_id}; the entries after it are pagemap_entry
// {vaddr, nr_pages, flags}. pages-<pages_id>.img is raw: no magic, just
// the pages of every entry flagged PE_PRESENT, in entry order, 4 KiB
// each. Decode bounds an image at MaxImageBytes and an entry at
// MaxEntryBytes; it never panics (FuzzDecode).
//
// # The view of a store
//
//	inventory.img   pstree.img   files.img                 all records of the kind
//	core-<tid>.img  creds-<tid>.img (if stored)             per thread
//	ids-<pid>.img   mm-<pid>.img   fs-<pid>.img             per process, by its ids
//	fdinfo-<files id>.img   sigacts-<pid>.img (if stored)
//	pagemap-<pid>.img  pages-<n>.img                        n = 1, 2, ... in pid order
//
// Records are copied as they are stored (they already are CRIU's
// messages). crlazy's pagemap runs become CRIU entries, contiguous runs
// merged; CRIU has no flag for crlazy's zero runs, so their zeros are in
// the pages image (as holes: SEEK_HOLE and WriteDir skip them) and the
// entries carry PE_PRESENT only. Shared anonymous memory stays in the
// process's pagemap, where crlazy keeps it (CRIU would use
// pagemap-shmem-<id>.img). NewView reads only the process tree and ids;
// each file is built on first use and kept (pages images keep only their
// layout and read the store on every read).
//
// # Import
//
// Import reads inventory, pstree, files (or the older reg-files),
// core-<tid>, creds-<tid>, ids, mm, fs, fdinfo, sigacts (entries are
// signals 1..64 without SIGKILL and SIGSTOP), pagemap and pages images,
// and writes the records under the keys the dumper uses (mm and pagemap
// by vm_id, fs by fs_id, fdinfo by files_id and fd) and the pages as the
// dumper lays them out: zero pages as zero runs, others as chunks cut at
// images.ChunkMaxBytes-aligned addresses. Pages in a parent image
// (PE_PARENT, incremental dumps) or left to a page server (PE_LAZY) are
// refused with ErrUnsupported; a pages image shorter or longer than its
// pagemap says is store.ErrCorrupt. Any failure aborts the store. The
// header's arch comes from the core's machine type, its xfeatures from
// the first core's xstate_bv.
package criuimg
