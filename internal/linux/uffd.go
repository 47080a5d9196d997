package linux

import "encoding/binary"

// The userfaultfd ABI, declared by hand from include/uapi/linux/userfaultfd.h
// (x/sys/unix has none of it, and Debian 12's header predates MOVE, POISON
// and WP_ASYNC). All structs are naturally aligned: no implicit padding.

// uffdAPIVersion is UFFD_API, the only handshake version.
const uffdAPIVersion = 0xAA

// uffdioType is the ioctl type of every UFFDIO_* request.
const uffdioType = 0xAA

// ioctl numbers (_UFFDIO_* in the header), also the bit positions of the
// ioctls masks returned by UFFDIO_API and UFFDIO_REGISTER.
const (
	uffdioNrRegister     = 0x00
	uffdioNrUnregister   = 0x01
	uffdioNrWake         = 0x02
	uffdioNrCopy         = 0x03
	uffdioNrZeropage     = 0x04
	uffdioNrMove         = 0x05
	uffdioNrWriteprotect = 0x06
	uffdioNrContinue     = 0x07
	uffdioNrPoison       = 0x08
	uffdioNrAPI          = 0x3F
	uffdIocNrNew         = 0x00 // USERFAULTFD_IOC_NEW on /dev/userfaultfd
)

// Bits of the ioctls masks returned by UffdAPI and UffdRegister.
const (
	UffdIoctlRegister     = 1 << uffdioNrRegister
	UffdIoctlUnregister   = 1 << uffdioNrUnregister
	UffdIoctlWake         = 1 << uffdioNrWake
	UffdIoctlCopy         = 1 << uffdioNrCopy
	UffdIoctlZeropage     = 1 << uffdioNrZeropage
	UffdIoctlMove         = 1 << uffdioNrMove
	UffdIoctlWriteprotect = 1 << uffdioNrWriteprotect
	UffdIoctlContinue     = 1 << uffdioNrContinue
	UffdIoctlPoison       = 1 << uffdioNrPoison
	UffdIoctlAPI          = 1 << uffdioNrAPI
)

// uffdioAPI mirrors struct uffdio_api.
type uffdioAPI struct {
	API      uint64
	Features uint64
	Ioctls   uint64
}

// uffdioRange mirrors struct uffdio_range.
type uffdioRange struct {
	Start uint64
	Len   uint64
}

// uffdioRegister mirrors struct uffdio_register.
type uffdioRegister struct {
	Range  uffdioRange
	Mode   uint64
	Ioctls uint64 // written by the kernel
}

// uffdioCopy mirrors struct uffdio_copy.
type uffdioCopy struct {
	Dst  uint64
	Src  uint64
	Len  uint64
	Mode uint64
	Copy int64 // written by the kernel: bytes copied or -errno
}

// uffdioZeropage mirrors struct uffdio_zeropage.
type uffdioZeropage struct {
	Range    uffdioRange
	Mode     uint64
	Zeropage int64 // written by the kernel: bytes zeroed or -errno
}

// uffdioWriteprotect mirrors struct uffdio_writeprotect.
type uffdioWriteprotect struct {
	Range uffdioRange
	Mode  uint64
}

// uffdioMove mirrors struct uffdio_move.
type uffdioMove struct {
	Dst  uint64
	Src  uint64
	Len  uint64
	Mode uint64
	Move int64 // written by the kernel
}

// uffdioContinue mirrors struct uffdio_continue.
type uffdioContinue struct {
	Range  uffdioRange
	Mode   uint64
	Mapped int64 // written by the kernel
}

// uffdioPoison mirrors struct uffdio_poison.
type uffdioPoison struct {
	Range   uffdioRange
	Mode    uint64
	Updated int64 // written by the kernel
}

// ioctl request numbers, computed from the struct sizes.
var (
	uffdioAPIReq          = iowr(uffdioType, uffdioNrAPI, sizeOf[uffdioAPI]())
	uffdioRegisterReq     = iowr(uffdioType, uffdioNrRegister, sizeOf[uffdioRegister]())
	uffdioUnregisterReq   = ior(uffdioType, uffdioNrUnregister, sizeOf[uffdioRange]())
	uffdioWakeReq         = ior(uffdioType, uffdioNrWake, sizeOf[uffdioRange]())
	uffdioCopyReq         = iowr(uffdioType, uffdioNrCopy, sizeOf[uffdioCopy]())
	uffdioZeropageReq     = iowr(uffdioType, uffdioNrZeropage, sizeOf[uffdioZeropage]())
	uffdioMoveReq         = iowr(uffdioType, uffdioNrMove, sizeOf[uffdioMove]())
	uffdioWriteprotectReq = iowr(uffdioType, uffdioNrWriteprotect, sizeOf[uffdioWriteprotect]())
	uffdioContinueReq     = iowr(uffdioType, uffdioNrContinue, sizeOf[uffdioContinue]())
	uffdioPoisonReq       = iowr(uffdioType, uffdioNrPoison, sizeOf[uffdioPoison]())
	uffdIocNewReq         = ioc(iocNone, uffdioType, uffdIocNrNew, 0)
)

// UFFD_FEATURE_* bits, requested and reported by UffdAPI.
const (
	UffdFeaturePagefaultFlagWP  = 1 << 0
	UffdFeatureEventFork        = 1 << 1
	UffdFeatureEventRemap       = 1 << 2
	UffdFeatureEventRemove      = 1 << 3
	UffdFeatureMissingHugetlbfs = 1 << 4
	UffdFeatureMissingShmem     = 1 << 5
	UffdFeatureEventUnmap       = 1 << 6
	UffdFeatureSigbus           = 1 << 7
	UffdFeatureThreadID         = 1 << 8
	UffdFeatureMinorHugetlbfs   = 1 << 9
	UffdFeatureMinorShmem       = 1 << 10
	UffdFeatureExactAddress     = 1 << 11
	UffdFeatureWPHugetlbfsShmem = 1 << 12
	UffdFeatureWPUnpopulated    = 1 << 13
	UffdFeaturePoison           = 1 << 14
	UffdFeatureWPAsync          = 1 << 15
	UffdFeatureMove             = 1 << 16
)

// Flags of UserfaultfdOpen besides O_CLOEXEC and O_NONBLOCK.
const UffdUserModeOnly = 1 // UFFD_USER_MODE_ONLY

// Register modes (UFFDIO_REGISTER_MODE_*).
const (
	UffdRegisterModeMissing = 1 << 0
	UffdRegisterModeWP      = 1 << 1
	UffdRegisterModeMinor   = 1 << 2
)

// Modes of UffdCopy, UffdZeropage, UffdWriteprotect, UFFDIO_MOVE,
// UFFDIO_CONTINUE and UFFDIO_POISON.
const (
	UffdCopyModeDontwake         = 1 << 0
	UffdCopyModeWP               = 1 << 1
	UffdZeropageModeDontwake     = 1 << 0
	UffdWriteprotectModeWP       = 1 << 0
	UffdWriteprotectModeDontwake = 1 << 1
	UffdMoveModeDontwake         = 1 << 0
	UffdMoveModeAllowSrcHoles    = 1 << 1
	UffdContinueModeDontwake     = 1 << 0
	UffdContinueModeWP           = 1 << 1
	UffdPoisonModeDontwake       = 1 << 0
)

// Event codes of UffdMsg.Event (UFFD_EVENT_*).
const (
	UffdEventPagefault = 0x12
	UffdEventFork      = 0x13
	UffdEventRemap     = 0x14
	UffdEventRemove    = 0x15
	UffdEventUnmap     = 0x16
)

// Pagefault flags of UffdMsg.PagefaultFlags (UFFD_PAGEFAULT_FLAG_*).
const (
	UffdPagefaultFlagWrite = 1 << 0
	UffdPagefaultFlagWP    = 1 << 1
	UffdPagefaultFlagMinor = 1 << 2
)

// UffdMsgSize is the size of struct uffd_msg.
const UffdMsgSize = 32

// Offsets into struct uffd_msg (packed): u8 event, 7 reserved bytes, then
// the 24-byte arg union.
const (
	uffdMsgArg  = 8
	uffdMsgArg2 = uffdMsgArg + 8
	uffdMsgArg3 = uffdMsgArg + 16
)

// UffdMsg is one struct uffd_msg as read from a userfaultfd. Its union is
// decoded by the accessors; each is meaningful only for its event.
type UffdMsg [UffdMsgSize]byte

func (m *UffdMsg) u64(off int) uint64 { return binary.LittleEndian.Uint64(m[off:]) }

// Event returns the event code (UffdEvent*).
func (m *UffdMsg) Event() uint8 { return m[0] }

// PagefaultFlags returns the UffdPagefaultFlag* bits of a pagefault.
func (m *UffdMsg) PagefaultFlags() uint64 { return m.u64(uffdMsgArg) }

// PagefaultAddress returns the faulting address (page aligned unless
// UFFD_FEATURE_EXACT_ADDRESS was requested).
func (m *UffdMsg) PagefaultAddress() uint64 { return m.u64(uffdMsgArg2) }

// PagefaultPtid returns the faulting thread id (with
// UFFD_FEATURE_THREAD_ID).
func (m *UffdMsg) PagefaultPtid() uint32 { return binary.LittleEndian.Uint32(m[uffdMsgArg3:]) }

// ForkUffd returns the descriptor of the child's new userfaultfd, already
// installed in the reader's fd table by the kernel.
func (m *UffdMsg) ForkUffd() uint32 { return binary.LittleEndian.Uint32(m[uffdMsgArg:]) }

// RemapFrom returns the old start of a moved range (mremap).
func (m *UffdMsg) RemapFrom() uint64 { return m.u64(uffdMsgArg) }

// RemapTo returns the new start of a moved range.
func (m *UffdMsg) RemapTo() uint64 { return m.u64(uffdMsgArg2) }

// RemapLen returns the length of a moved range.
func (m *UffdMsg) RemapLen() uint64 { return m.u64(uffdMsgArg3) }

// RemoveStart returns the start of a range dropped by madvise (REMOVE) or
// munmap (UNMAP).
func (m *UffdMsg) RemoveStart() uint64 { return m.u64(uffdMsgArg) }

// RemoveEnd returns the end of a REMOVE or UNMAP range.
func (m *UffdMsg) RemoveEnd() uint64 { return m.u64(uffdMsgArg2) }

// Request numbers and argument layouts for setting up a userfaultfd
// inside another process by injection: the structs are written into the
// target's memory and the target runs ioctl(fd, req, addr).
var (
	UffdioAPIRequest      = uint64(uffdioAPIReq)
	UffdioRegisterRequest = uint64(uffdioRegisterReq)
)

// UffdAPIArg returns the bytes of struct uffdio_api asking for features.
func UffdAPIArg(features uint64) []byte {
	a := uffdioAPI{API: uffdAPIVersion, Features: features}
	return append([]byte(nil), StructBytes(&a)...)
}

// UffdAPIResult decodes the features and ioctls the kernel wrote back
// into a struct uffdio_api.
func UffdAPIResult(b []byte) (features, ioctls uint64, ok bool) {
	var a uffdioAPI
	if !StructFromBytes(&a, b) {
		return 0, 0, false
	}
	return a.Features, a.Ioctls, true
}

// UffdRegisterArg returns the bytes of struct uffdio_register.
func UffdRegisterArg(start, length, mode uint64) []byte {
	r := uffdioRegister{Range: uffdioRange{Start: start, Len: length}, Mode: mode}
	return append([]byte(nil), StructBytes(&r)...)
}
