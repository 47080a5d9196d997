// Package xsave converts between the kernel's XSAVE buffer (the standard,
// non-compacted "uabi" layout that PTRACE_GETREGSET NT_X86_XSTATE returns)
// and CRIU's user_x86_fpregs_entry image message.
//
// # Layout
//
//	0    legacy FXSAVE area: fcw fsw ftw fop fip fdp mxcsr mxcsr_mask
//	32   st0..st7 (8 x 16 bytes)
//	160  xmm0..xmm15 (16 x 16 bytes)
//	416  reserved; 464 software-reserved bytes (the kernel's fx_sw_bytes:
//	     magic1, extended size, xfeatures, xstate size)
//	512  XSAVE header: xstate_bv, xcomp_bv (0 in this layout)
//	576  AVX: upper halves of ymm0..15           (feature 2)
//	960  MPX bound registers, 1024 MPX BNDCSR    (features 3, 4)
//	1088 AVX-512 opmask k0..k7                   (feature 5)
//	1152 upper 256 bits of zmm0..15              (feature 6)
//	1664 zmm16..31                               (feature 7)
//	2688 PKRU                                    (feature 9)
//
// These offsets are architectural for the standard format (CPUID leaf 0xD
// reports the same on Intel and AMD parts with these features).
//
// # Compatibility
//
// Features CRIU's schema cannot hold (AMX tile state, features 17 and 18)
// make Encode fail with UnsupportedFeatureError. Decode refuses an image
// whose xstate_bv needs a feature the host's buffer lacks.
package xsave
