// Package uffd serves the memory of a lazily restored process: its private
// anonymous memory is registered with userfaultfd, the process runs, and
// every page it touches is copied in from the image on demand while a
// background prefetch copies the rest.
//
// # Spaces
//
// A space is one userfaultfd and the address space behind it: the
// restored process, or a child it forks (UFFD_EVENT_FORK hands us a new
// userfaultfd). Each space has its layout: lazy areas, each mapping
// process addresses to image addresses (they differ once the process
// mremaps) with a bitmap of the pages still pending, i.e. not yet copied,
// zeroed or discarded.
//
// # Event ordering
//
// One goroutine per space reads its messages, updates the layout and does
// every UFFDIO_COPY and UFFDIO_ZEROPAGE of that space. This is what keeps
// discarded memory discarded: when the process calls madvise(MADV_DONTNEED)
// or mremap, the kernel blocks it until we read the event, and fails our
// copies with EAGAIN meanwhile; the moment we read the event the change
// proceeds, so the layout must be updated before our next copy. A copy
// that fails with EAGAIN reads the pending events first and then starts
// over from the updated layout. A reader goroutine that separated reading
// from copying could resurrect freed pages.
//
// # Lanes
//
// Demand faults go first: the space goroutine walks the chunks it still
// needs, working-set order first (the image addresses a previous restore
// faulted, in order), then address order, and drains all messages before
// each chunk it copies, so a fault waits for at most one chunk (128 KiB,
// ~50 µs). Each chunk is copied with UFFDIO_COPY straight out of the
// store's value (the store verifies its checksum as it reads it): no copy
// of ours and no hand-over between goroutines, which on a 2-CPU machine
// whose other CPU runs the process cost more than they bought. When the
// walk is over, pages still pending had no chunk: they are holes, which a
// fault turns into a zero page. With Config.PrefetchDelay the walk waits
// a while, serving faults only, so that a recorded working set shows what
// the process touches first.
//
// Demand also goes first across spaces. At most Config.Prefetchers spaces
// (GOMAXPROCS-1) walk at once, in arrival order; the others answer only
// their faults until their turn, so a CPU stays free for demand. Before
// each chunk a walk waits, at most maxPrefetchPause, while any fault of
// the Handler is being served (gate). An idle space waits for its
// userfaultfd in the Go poller, never in a blocking poll(2): a goroutine
// blocked in a system call keeps its P until the runtime takes it back,
// up to 10 ms later, which with many spaces left faults (and the page
// server's replies) with no P to run on. Other goroutines wake a space by
// setting its read deadline in the past (wait.go).
//
// A fault's service time (Stats.FaultTimes) runs from the read that
// brought it to the copy that answered it, so it holds its wait behind
// the messages read before it.
//
// # Never zero by mistake
//
// A fault on a pending page with no chunk is a zero page only if the
// image's pagemap says so (Source.HasData); otherwise the image is damaged
// and Config.OnFatal is called: the caller kills the process rather than
// let it run on zeros. Every error of the source is fatal the same way.
//
// # Completion
//
// When a space has nothing pending, Config.Done is called (the restorer
// removes the guard descriptor it left in the process) while the space
// goroutine goes on answering faults (with zero pages) until Done returns;
// then it closes its userfaultfd, which unregisters the areas.
package uffd
