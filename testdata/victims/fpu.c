/*
 * fpu [avx2|avx512]: a victim that keeps known values in the vector, mask,
 * x87 and MXCSR registers and checks them in a tight assembly loop, so that a
 * dump usually freezes it with live register state.
 *
 * Each round loads the registers from struct fpu_state, sets MXCSR to round
 * toward zero with flush-to-zero, the x87 control word to round up and pushes
 * an 80-bit value on the x87 stack, then
 * compares every register with its expected value for about ROUND_MS, and
 * restores MXCSR, the control word and the x87 stack on return.
 *   avx2:   ymm0..ymm15, r12..r15, MXCSR, x87 control word, st(0)
 *   avx512: zmm0..zmm31 (all 512 bits), k1..k7 (64 bits), and the same others
 * The mode is avx512 when the CPU has AVX-512F and AVX-512BW, else avx2; an
 * argument forces it.
 *
 * Output (one line each, flushed):
 *   ready <avx2|avx512> <pid>
 *   tick <n> ok                      after each round (n rounds done)
 *   FAIL reg <name> got <hex> want <hex>
 *   SKIP noavx | SKIP noavx512       the CPU lacks the mode; exit 0
 */
#include "victim.h"

#include <stddef.h>

#define USAGE "fpu [avx2|avx512]"
#define ROUND_MS 50u
#define CALIBRATE_ITERS 4096u
#define MAX_ITERS (1u << 26)
#define VEC_REGS_AVX2 16
#define VEC_REGS_AVX512 32
#define VEC_WORDS_AVX2 4 /* 64-bit words in a ymm register */
#define VEC_WORDS 8      /* 64-bit words in a zmm register */
#define MASK_REGS 8      /* k0..k7; k0 is not used */
#define GPRS 4           /* r12..r15 */
#define MXCSR_TEST 0xff80u /* all exceptions masked, round toward zero, FTZ */
#define FCW_TEST 0x0b7fu   /* x87: all exceptions masked, 64-bit precision, round up */
#define X87_TEST 2.71828182845904523536028747135266250L /* all 64 mantissa bits used */

/* Failure codes the loop returns in eax; CODE_OK means every round passed. */
#define CODE_MASK 32 /* + k index */
#define CODE_GPR 40  /* + 0..3 for r12..r15 */
#define CODE_MXCSR 50
#define CODE_X87 51
#define CODE_FCW 52
#define CODE_OK (-1)

struct fpu_state {
	uint64_t vec[VEC_REGS_AVX512][VEC_WORDS]; /* at offset 0: reg i at i*64 */
	uint64_t mask[MASK_REGS];
	uint64_t gpr[GPRS];
	uint64_t x87[2];    /* the 80-bit value kept in st(0), as stored by fstpt */
	uint32_t mxcsr;
	uint32_t saved_mxcsr;
	uint16_t fcw;       /* x87 control word */
	uint16_t saved_fcw;
	uint64_t scratch[VEC_WORDS] __attribute__((aligned(64)));
} __attribute__((aligned(64)));

static struct fpu_state st;

#define OFF(field) "i"(offsetof(struct fpu_state, field))

/* CHECK_WORD compares word W of the scratch area with expected word W of reg \r. */
#define CHECK_WORD(W)                                                       \
	"mov %c[scr]+" #W "*8(%[s]), %%rdx\n\t"                             \
	"cmp \\r*64+" #W "*8(%[s]), %%rdx\n\t"                              \
	"jne 2f\n\t"

#define LOAD_GPRS                                                           \
	"mov %c[gpr](%[s]), %%r12\n\t"                                      \
	"mov %c[gpr]+8(%[s]), %%r13\n\t"                                    \
	"mov %c[gpr]+16(%[s]), %%r14\n\t"                                   \
	"mov %c[gpr]+24(%[s]), %%r15\n\t"

#define CHECK_GPRS                                                          \
	".irp g,12,13,14,15\n\t"                                            \
	"mov $(" "\\g-12+40" "), %%eax\n\t"                                 \
	"mov %%r\\g, %c[scr](%[s])\n\t"                                    \
	"cmp %c[gpr]+(\\g-12)*8(%[s]), %%r\\g\n\t"                          \
	"jne 2f\n\t"                                                        \
	".endr\n\t"

#define CHECK_MXCSR_X87                                                     \
	"stmxcsr %c[scr](%[s])\n\t"                                         \
	"mov $50, %%eax\n\t"                                                \
	"mov %c[scr](%[s]), %%edx\n\t"                                      \
	"cmp %c[mx](%[s]), %%edx\n\t"                                       \
	"jne 2f\n\t"                                                        \
	"fnstcw %c[scr](%[s])\n\t"                                          \
	"mov $52, %%eax\n\t"                                                \
	"movzwl %c[scr](%[s]), %%edx\n\t"                                   \
	"cmpw %c[cw](%[s]), %%dx\n\t"                                       \
	"jne 2f\n\t"                                                        \
	"fld %%st(0)\n\t"                                                    \
	"fstpt %c[scr](%[s])\n\t"                                           \
	"mov $51, %%eax\n\t"                                                \
	"mov %c[scr](%[s]), %%rdx\n\t"                                      \
	"cmp %c[x87](%[s]), %%rdx\n\t"                                      \
	"jne 2f\n\t"                                                        \
	"movzwl %c[scr]+8(%[s]), %%edx\n\t"                                 \
	"cmpw %c[x87]+8(%[s]), %%dx\n\t"                                    \
	"jne 2f\n\t"

#define ENTER                                                               \
	"stmxcsr %c[smx](%[s])\n\t"                                         \
	"ldmxcsr %c[mx](%[s])\n\t"                                          \
	"fnstcw %c[scw](%[s])\n\t"                                          \
	"fldcw %c[cw](%[s])\n\t"                                            \
	"fldt %c[x87](%[s])\n\t"

#define LEAVE                                                               \
	"dec %%rcx\n\t"                                                     \
	"jnz 1b\n\t"                                                        \
	"mov $-1, %%eax\n"                                                  \
	"2:\n\t"                                                            \
	"fstp %%st(0)\n\t"                                                  \
	"ldmxcsr %c[smx](%[s])\n\t"                                         \
	"fldcw %c[scw](%[s])\n\t"                                           \
	"vzeroupper\n\t"

#define OPERANDS                                                            \
	: "=&a"(code), "+c"(iters)                                          \
	: [s] "r"(&st), [scr] OFF(scratch), [gpr] OFF(gpr), [mx] OFF(mxcsr), \
	  [smx] OFF(saved_mxcsr), [x87] OFF(x87), [k] OFF(mask),   \
	  [cw] OFF(fcw), [scw] OFF(saved_fcw)

static int loop_avx2(unsigned long iters)
{
	int code;

	__asm__ volatile(
		ENTER
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
		"vmovdqu \\r*64(%[s]), %%ymm\\r\n\t"
		".endr\n\t"
		LOAD_GPRS
		"1:\n\t"
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
		"vmovdqu %%ymm\\r, %c[scr](%[s])\n\t"
		"mov $\\r, %%eax\n\t"
		CHECK_WORD(0) CHECK_WORD(1) CHECK_WORD(2) CHECK_WORD(3)
		".endr\n\t"
		CHECK_GPRS
		CHECK_MXCSR_X87
		LEAVE
		OPERANDS
		: "rdx", "r12", "r13", "r14", "r15", "memory", "cc",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return code;
}

__attribute__((target("avx512f,avx512bw")))
static int loop_avx512(unsigned long iters)
{
	int code;

	__asm__ volatile(
		ENTER
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
		"vmovdqu64 \\r*64(%[s]), %%zmm\\r\n\t"
		".endr\n\t"
		".irp r,1,2,3,4,5,6,7\n\t"
		"kmovq %c[k]+\\r*8(%[s]), %%k\\r\n\t"
		".endr\n\t"
		LOAD_GPRS
		"1:\n\t"
		".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
		"vmovdqu64 %%zmm\\r, %c[scr](%[s])\n\t"
		"mov $\\r, %%eax\n\t"
		CHECK_WORD(0) CHECK_WORD(1) CHECK_WORD(2) CHECK_WORD(3)
		CHECK_WORD(4) CHECK_WORD(5) CHECK_WORD(6) CHECK_WORD(7)
		".endr\n\t"
		".irp r,1,2,3,4,5,6,7\n\t"
		"kmovq %%k\\r, %%rdx\n\t"
		"mov %%rdx, %c[scr](%[s])\n\t"
		"mov $(32+\\r), %%eax\n\t"
		"cmp %c[k]+\\r*8(%[s]), %%rdx\n\t"
		"jne 2f\n\t"
		".endr\n\t"
		CHECK_GPRS
		CHECK_MXCSR_X87
		LEAVE
		OPERANDS
		: "rdx", "r12", "r13", "r14", "r15", "memory", "cc",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
		  "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
		  "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
		  "k1", "k2", "k3", "k4", "k5", "k6", "k7");
	return code;
}

static void state_init(void)
{
	long double x = X87_TEST;

	for (int i = 0; i < VEC_REGS_AVX512; i++)
		for (int j = 0; j < VEC_WORDS; j++)
			st.vec[i][j] = mix64((uint64_t)(i * VEC_WORDS + j) + 0xf9u);
	for (int i = 0; i < MASK_REGS; i++)
		st.mask[i] = mix64(0x6b00u + (uint64_t)i);
	for (int i = 0; i < GPRS; i++)
		st.gpr[i] = mix64(0x9700u + (uint64_t)i);
	memcpy(st.x87, &x, 10); /* the x87 extended format: 64-bit mantissa, 16-bit exponent */
	st.mxcsr = MXCSR_TEST;
	st.fcw = FCW_TEST;
}

static void print_words(const char *label, const uint64_t *w, int n)
{
	fputs(label, stdout);
	for (int i = n - 1; i >= 0; i--)
		printf("%016llx", (unsigned long long)w[i]);
}

/* report prints the FAIL line for a failure code of the loop and exits. */
static void report(int code, int avx512)
{
	int words = avx512 ? VEC_WORDS : VEC_WORDS_AVX2;

	if (code >= 0 && code < VEC_REGS_AVX512) {
		printf("FAIL reg %s%d", avx512 ? "zmm" : "ymm", code);
		print_words(" got ", st.scratch, words);
		print_words(" want ", st.vec[code], words);
		putchar('\n');
		fflush(stdout);
		exit(VICTIM_EXIT_FAIL);
	}
	if (code > CODE_MASK && code < CODE_MASK + MASK_REGS)
		fail("reg k%d got %016llx want %016llx", code - CODE_MASK,
		     (unsigned long long)st.scratch[0], (unsigned long long)st.mask[code - CODE_MASK]);
	if (code == CODE_MXCSR)
		fail("reg mxcsr got %08x want %08x", (unsigned)st.scratch[0] & 0xffffffffu, st.mxcsr);
	if (code == CODE_FCW)
		fail("reg fcw got %04x want %04x", (unsigned)st.scratch[0] & 0xffffu, st.fcw);
	if (code == CODE_X87)
		fail("reg st0 got %04llx%016llx want %04llx%016llx",
		     (unsigned long long)(st.scratch[1] & 0xffffu), (unsigned long long)st.scratch[0],
		     (unsigned long long)st.x87[1], (unsigned long long)st.x87[0]);
	if (code >= CODE_GPR && code < CODE_GPR + GPRS)
		fail("reg r%d got %016llx want %016llx", 12 + code - CODE_GPR,
		     (unsigned long long)st.scratch[0], (unsigned long long)st.gpr[code - CODE_GPR]);
	fail("reg unknown code %d", code);
}

static void run_round(unsigned long iters, int avx512)
{
	int code = avx512 ? loop_avx512(iters) : loop_avx2(iters);

	if (code != CODE_OK)
		report(code, avx512);
}

/* calibrate returns the iteration count of a round of about ROUND_MS. */
static unsigned long calibrate(int avx512)
{
	uint64_t t0 = now_ns(), dt;
	unsigned long iters;

	run_round(CALIBRATE_ITERS, avx512);
	dt = now_ns() - t0;
	if (dt == 0)
		dt = 1;
	iters = (unsigned long)((uint64_t)CALIBRATE_ITERS * ROUND_MS * 1000000u / dt);
	if (iters < 1)
		iters = 1;
	if (iters > MAX_ITERS)
		iters = MAX_ITERS;
	return iters;
}

static int choose_mode(int argc, char **argv)
{
	int has512;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2")) {
		say("SKIP noavx");
		exit(0);
	}
	has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
	if (argc == 1)
		return has512;
	if (argc == 2 && strcmp(argv[1], "avx2") == 0)
		return 0;
	if (argc != 2 || strcmp(argv[1], "avx512") != 0)
		usage(USAGE);
	if (!has512) {
		say("SKIP noavx512");
		exit(0);
	}
	return 1;
}

int main(int argc, char **argv)
{
	int avx512 = choose_mode(argc, argv);
	unsigned long iters;

	state_init();
	say("ready %s %d", avx512 ? "avx512" : "avx2", (int)getpid());
	iters = calibrate(avx512);
	for (unsigned long long n = 1;; n++) {
		run_round(iters, avx512);
		say("tick %llu ok", n);
	}
}
