package linux

import (
	"testing"
	"unsafe"
)

// TestABISizes pins every hand-declared struct to the kernel's size.
func TestABISizes(t *testing.T) {
	for _, c := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"ptrace_rseq_configuration", unsafe.Sizeof(RseqConfig{}), 24},
		{"clone_args (VER2)", unsafe.Sizeof(CloneArgs{}), 88},
		{"prctl_mm_map", unsafe.Sizeof(PrctlMMMap{}), 104},
		{"kernel sigaction", unsafe.Sizeof(KernelSigaction{}), 32},
		{"stack_t", unsafe.Sizeof(StackT{}), 24},
		{"rlimit64", unsafe.Sizeof(Rlimit64{}), 16},
		{"itimerval", unsafe.Sizeof(Itimerval{}), 32},
		{"itimerspec", unsafe.Sizeof(Itimerspec{}), 32},
		{"sigevent", unsafe.Sizeof(Sigevent{}), 64},
		{"sock_fprog", unsafe.Sizeof(SockFprog{}), 16},
		{"ptrace_peeksiginfo_args", unsafe.Sizeof(peekSiginfoArgs{}), 16},
		{"siginfo_t", unsafe.Sizeof(Siginfo{}), 128},
		{"user_regs_struct", unsafe.Sizeof(Regs{}), 216},
		{"__user_cap_header_struct", unsafe.Sizeof(CapUserHeader{}), 8},
		{"__user_cap_data_struct", unsafe.Sizeof(CapUserData{}), 12},
	} {
		if c.got != c.want {
			t.Errorf("sizeof(%s) = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestAddrAdd(t *testing.T) {
	if a, err := Addr(0x1000).Add(0x1000); err != nil || a != 0x2000 {
		t.Errorf("0x1000+0x1000 = %v, %v", a, err)
	}
	if _, err := Addr(^uint64(0) - 1).Add(2); err == nil {
		t.Error("overflowing add succeeded")
	}
}

func TestErrnoFromReturn(t *testing.T) {
	if err := ErrnoFromReturn(^uint64(0) - 8); err != EBADF { // -9
		t.Errorf("-9 gives %v, want EBADF", err)
	}
	for _, ok := range []uint64{0, 42, 1 << 40, ^uint64(0) - 4095} {
		if err := ErrnoFromReturn(ok); err != nil {
			t.Errorf("%#x gives %v, want nil", ok, err)
		}
	}
}
