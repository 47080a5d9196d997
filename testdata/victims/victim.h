/*
 * victim.h: helpers shared by the crlazy test victims.
 *
 * Every victim writes one line per event to stdout and flushes it at once, so
 * a test that polls the output file sees complete lines. A line starts with a
 * keyword (ready, tick, handled, ...). A victim that finds its own state
 * corrupted prints a line starting with FAIL and exits with status 2.
 *
 * The helpers are static inline (so that unused ones raise no warning) and
 * each victim is a single translation unit compiled with
 * `cc -O2 -g -Wall -o NAME NAME.c`.
 */
#ifndef CRLAZY_VICTIM_H
#define CRLAZY_VICTIM_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Exit status of a victim that detected corruption. */
#define VICTIM_EXIT_FAIL 2
/* Exit status for bad command-line arguments. */
#define VICTIM_EXIT_USAGE 64

/* say prints one line (the newline is added) and flushes stdout. */
static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* fail prints "FAIL <message>" and exits with VICTIM_EXIT_FAIL. */
static inline void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(VICTIM_EXIT_FAIL);
}

/* fail_errno reports a failed libc call as a FAIL line. */
static inline void fail_errno(const char *what) __attribute__((noreturn));
static inline void fail_errno(const char *what)
{
	fail("%s: %s", what, strerror(errno));
}

static inline void usage(const char *text) __attribute__((noreturn));
static inline void usage(const char *text)
{
	fprintf(stderr, "usage: %s\n", text);
	exit(VICTIM_EXIT_USAGE);
}

/* now_ns reads CLOCK_MONOTONIC (through the vDSO) in nanoseconds. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		fail_errno("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * sleep_ms sleeps in nanosleep; it returns early (with 1) when a signal
 * handler ran, so that the caller can react, and 0 after a full sleep.
 */
static inline int sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	if (nanosleep(&ts, NULL) == 0)
		return 0;
	if (errno != EINTR)
		fail_errno("nanosleep");
	return 1;
}

/* mix64 is the splitmix64 finaliser: a cheap, well-spread 64-bit hash. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* parse_u64 parses a decimal argument or exits with a usage error. */
static inline uint64_t parse_u64(const char *s, const char *text)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *s < '0' || *s > '9' || *end != '\0')
		usage(text);
	return v;
}

/* parse_count parses a positive decimal argument or exits with a usage error. */
static inline unsigned long parse_count(const char *s, const char *text)
{
	uint64_t v = parse_u64(s, text);

	if (v == 0 || v > (uint64_t)(unsigned long)-1)
		usage(text);
	return (unsigned long)v;
}

#endif
