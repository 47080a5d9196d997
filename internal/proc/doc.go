// Package proc parses the /proc files the dumper reads: maps, smaps, status,
// stat, limits, fd and fdinfo, task, children, auxv, comm, personality,
// mountinfo and pagemap.
//
// # Layout
//
// Every parser of text exists twice: ParseX takes an io.Reader (or []byte
// for the one-line stat) and is what the unit tests run on captured fixtures
// (testdata/*.txt, from a 6.18 kernel) and what the fuzzers drive; ReadX(pid)
// opens /proc/<pid>/x and hands it to ParseX. Parsers never do I/O of their
// own and never panic. The package imports no x/sys/unix: directories are
// listed with os, links read with os.Readlink, pagemap read with pread
// (os.File.ReadAt).
//
// # Formats worth knowing
//
//   - maps: "start-end perms offset major:minor inode", then blanks padding
//     the inode column, then the name to the end of the line. Names may hold
//     blanks; the kernel escapes a newline as `\012` and nothing else, so
//     Mapping.Path is kept as shown (ReadMapFile gives the exact name). A
//     trailing " (deleted)" is cut into Mapping.Deleted, which is ambiguous
//     for a live file whose name ends that way.
//   - smaps: a maps line, then "Key: value" lines. Only VmFlags, Rss, Swap
//     and Anonymous are kept. VmFlags uses this package's own bit numbers
//     (see VmFlags); unknown mnemonics go to Mapping.UnknownVmFlags.
//   - stat: comm is printed raw and may contain ')' and newlines, so it is
//     taken between the first '(' and the LAST ')'. 52 fields are required.
//   - status: "Key:\tvalue" lines; Name has newline and backslash escaped,
//     which ParseStatus undoes. Unknown keys are ignored; Name, State, Tgid,
//     Pid, PPid, Uid and Gid are required.
//   - limits: a fixed-width table; rows are matched by their label, and all
//     16 (RLIM_NLIMITS) must appear exactly once.
//   - fdinfo: pos, flags (octal), mnt_id and ino are required; every other
//     line is kept verbatim in Fdinfo.Extra because keys repeat. Accessors
//     parse the lines of each kind (Eventfd, EpollTargets, SignalfdMask,
//     Timerfd, InotifyWatches, PidfdPid; fdinfo_kinds.go): numbers are hex
//     or decimal as the kernel prints each, an epoll target or inotify
//     watch is one line of "key:value" / "key: value" attributes.
//   - mountinfo: only id, major:minor, root and mount point are kept (to
//     open an inotify watch's file handle); \ooo escapes are undone.
//   - pagemap: one little-endian u64 per 4 KiB page at offset page*8; see
//     PagemapEntry for the bits.
//
// # Error handling
//
// Errors read "read /proc/42/maps: line 7: malformed: inode: ...": the
// *fs.PathError layer is dropped, since the path is already in the message.
// Every parse error wraps ErrMalformed. A process (or thread) that does not
// exist, or vanished while being read, gives an error matching both
// ErrNoProcess and fs.ErrNotExist; that covers ENOENT with /proc/<pid> gone
// and ESRCH, which is what a read of an already open /proc file returns
// once its task is reaped. A missing file of a live process (a closed fd)
// matches fs.ErrNotExist only.
//
// # Consistency
//
// Each file is a snapshot taken over several read(2) calls; maps, children
// and fd lists of a running process can change between and during reads.
// Callers that need a consistent view freeze or stop the tree first.
//
// # Limits
//
// One line may be at most maxLine (1 MiB) bytes; the longest legitimate
// line, "Groups:" with NGROUPS_MAX ids, is about 720 KiB. Pagemap reads
// allocate at most pagemapChunk entries (64 KiB) per call.
//
// # Platform
//
// Linux on x86_64 only: PageSize is 4096 and auxv words are 8 bytes.
package proc
