package proc

import (
	"math/bits"
	"strings"
)

// VmFlags is the set of two-letter mnemonics on the "VmFlags:" line of
// /proc/PID/smaps (fs/proc/task_mmu.c, show_smap_vma_flags).
//
// The bit positions are this package's own and stable; they are NOT the
// kernel's VM_* bit numbers, which differ between architectures and kernel
// versions (bit 11 was "dw" before 5.15 and is "gu" from 6.19). The constants
// are declared in the kernel's x86_64 bit order, so String prints flags in the
// order the kernel does. Mnemonics the table does not know are returned
// separately by ParseVmFlags (Mapping.UnknownVmFlags), never dropped.
type VmFlags uint64

// Every mnemonic any kernel since 3.x has printed.
const (
	VmRead        VmFlags = 1 << iota // rd: readable
	VmWrite                           // wr: writable
	VmExec                            // ex: executable
	VmShared                          // sh: shared
	VmMayRead                         // mr: may read
	VmMayWrite                        // mw: may write
	VmMayExec                         // me: may execute
	VmMayShare                        // ms: may share
	VmGrowsDown                       // gd: stack segment grows down
	VmUffdMissing                     // um: userfaultfd missing tracking
	VmPFNMap                          // pf: pure PFN range
	VmMaybeGuard                      // gu: may contain guard regions (6.19+)
	VmDenyWrite                       // dw: disabled write to the mapped file (before 5.15)
	VmUffdWP                          // uw: userfaultfd write-protect tracking
	VmLocked                          // lo: pages are locked in memory
	VmIO                              // io: memory-mapped I/O area
	VmSeqRead                         // sr: sequential read advise
	VmRandRead                        // rr: random read advise
	VmDontCopy                        // dc: do not copy on fork
	VmDontExpand                      // de: do not expand on remap
	VmLockOnFault                     // lf: lock on fault (mlock2 MLOCK_ONFAULT)
	VmAccount                         // ac: area is accountable
	VmNoReserve                       // nr: swap space is not reserved
	VmHugeTLB                         // ht: hugetlb area
	VmSync                            // sf: synchronous page faults (MAP_SYNC)
	VmNonLinear                       // nl: non-linear mapping (before 4.0)
	VmArch1                           // ar: architecture specific
	VmWipeOnFork                      // wf: wipe on fork
	VmDontDump                        // dd: excluded from core dumps
	VmSoftDirty                       // sd: soft-dirty
	VmMixedMap                        // mm: mixed map area
	VmHugePage                        // hg: MADV_HUGEPAGE
	VmNoHugePage                      // nh: MADV_NOHUGEPAGE
	VmMergeable                       // mg: MADV_MERGEABLE (KSM)
	VmARM64BTI                        // bt: arm64 branch target identification
	VmMTE                             // mt: arm64 memory tagging
	VmMPX                             // mp: x86 MPX bounds table (before 5.6)
	VmShadowStack                     // ss: shadow stack
	VmDroppable                       // dp: MAP_DROPPABLE
	VmUffdMinor                       // ui: userfaultfd minor fault tracking
	VmSealed                          // sl: mseal()ed
	numVmFlags    = iota
)

// vmFlagNames holds the mnemonic of bit i at index i.
var vmFlagNames = [numVmFlags]string{
	"rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "um", "pf", "gu", "dw",
	"uw", "lo", "io", "sr", "rr", "dc", "de", "lf", "ac", "nr", "ht", "sf", "nl",
	"ar", "wf", "dd", "sd", "mm", "hg", "nh", "mg", "bt", "mt", "mp", "ss", "dp",
	"ui", "sl",
}

var vmFlagByName = func() map[string]VmFlags {
	m := make(map[string]VmFlags, numVmFlags)
	for i, n := range vmFlagNames {
		m[n] = 1 << i
	}
	return m
}()

// Has reports whether every bit of flag is set in f.
func (f VmFlags) Has(flag VmFlags) bool { return f&flag == flag }

// String returns the mnemonics of the known flags in f, separated by
// single spaces ("rd wr mr mw me ac"). Bits without a name are not shown.
func (f VmFlags) String() string {
	names := make([]string, 0, bits.OnesCount64(uint64(f)))
	for i, n := range vmFlagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, " ")
}

// ParseVmFlags parses the value of a "VmFlags:" line. Mnemonics it does not
// know are returned in unknown, in order.
func ParseVmFlags(s string) (flags VmFlags, unknown []string) {
	for _, w := range strings.Fields(s) {
		if f, ok := vmFlagByName[w]; ok {
			flags |= f
		} else {
			unknown = append(unknown, w)
		}
	}
	return flags, unknown
}
