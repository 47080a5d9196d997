#!/usr/bin/env bash
# demo.sh: checkpoint a busy process with crlazy and bring it back.
#
#   sudo ./scripts/demo.sh
#
# It first runs scripts/setup.sh (installs what is missing, builds
# bin/crlazy), then compiles testdata/victims/demo.c, starts it with 256 MiB of memory that
# it keeps rewriting and verifying, dumps it with `crlazy dump` (which kills
# it), restores it with `crlazy restore -d`, and checks that the restored
# process has the same PID and goes on counting from where it stopped, with
# its memory verified by the process itself. Everything lives in a temporary
# directory that is removed at the end. Exits non-zero on any failure.
set -euo pipefail

readonly MIB=256
readonly WAIT_SECONDS=60 # limit of each wait
readonly POLL=0.1        # seconds between two looks at a condition

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo
readonly crlazy="$repo/bin/crlazy"
work=""   # the temporary directory
log=""    # the demo process's output
pid=""    # the demo process, before and after the restore
lines=0   # lines in the log when the restore started
want=""   # the checksum the demo must print at its last counter

say() { printf 'demo: %s\n' "$*"; }

show() {
	local f
	for f in "$@"; do
		if [[ -s "$f" ]]; then
			printf -- '--- last lines of %s:\n' "${f#"$work"/}" >&2
			tail -n 15 "$f" >&2
		fi
	done
}

die() {
	printf 'demo: FAILED: %s\n' "$*" >&2
	if [[ -n "$work" ]]; then
		show "$log" "$work"/{dump,restore}.{out,log} "$work"/images/{dump,restore}.log
	fi
	exit 1
}

# is_demo tells whether PID $1 is our demo program (and not a reused PID).
is_demo() {
	local exe argv0=""
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	[[ "$exe" == "$work/demo" ]] && return 0
	IFS= read -r -d '' argv0 <"/proc/$1/cmdline" 2>/dev/null || true
	[[ "$argv0" == "$work/demo" ]]
}

# exited tells whether PID $1 is gone or a zombie waiting to be reaped.
exited() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[[ "${stat:0:1}" == Z || "${stat:0:1}" == X ]]
}

cleanup() {
	if [[ -n "$pid" ]] && is_demo "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	if [[ -n "$work" ]]; then
		rm -rf "$work"
	fi
}

# check_log dies if the demo process reported a failure of its own checks.
check_log() {
	local line
	line=$(grep -m1 '^FAIL' "$log" || true)
	if [[ -n "$line" ]]; then
		die "the demo process found its memory corrupted: $line"
	fi
}

# wait_until DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_until() {
	local what=$1 deadline=$((SECONDS + WAIT_SECONDS))
	shift
	until "$@"; do
		check_log
		if ((SECONDS >= deadline)); then
			die "timed out after ${WAIT_SECONDS}s waiting for $what"
		fi
		sleep "$POLL"
	done
}

counter_lines() { grep '^counter=' "$log" || true; }
# counters_after N: the counter lines after the first N lines of the log.
counters_after() { tail -n +"$(($1 + 1))" "$log" | grep '^counter=' || true; }
count_lines() { grep -c . || true; }
has_counters() { (($(counter_lines | count_lines) >= $1)); }
has_counters_after() { (($(counters_after "$1" | count_lines) >= $2)); }
has_ready() { grep -q '^ready [0-9]' "$log"; }
gone() { [[ ! -e "/proc/$1" ]]; }
counter_of() { sed -n 's/^counter=\([0-9]*\) .*/\1/p' <<<"$1"; }
checksum_of() { sed -n 's/.* checksum=\([0-9a-f]*\) .*/\1/p' <<<"$1"; }
now_ms() { date +%s%3N; }

# launch runs in a background subshell: it closes the descriptors this script
# inherited beyond stdio (crlazy refuses to dump, say, a stray pipe), then
# execs the demo in a session of its own.
launch() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if ((fd > 2)); then
			eval "exec $fd>&-"
		fi
	done
	exec setsid "$work/demo" "$MIB" </dev/null >>"$log" 2>&1
}

preflight() {
	((EUID == 0)) || die "crlazy needs root: run sudo $0"
	bash "$repo/scripts/setup.sh" || die "setup failed"
	[[ -x "$crlazy" ]] || die "$crlazy is missing: run sudo ./scripts/setup.sh first"
	command -v cc >/dev/null 2>&1 || die "no C compiler (cc): run sudo ./scripts/setup.sh first"
}

start_demo() {
	cc -O2 -g -Wall -o "$work/demo" "$repo/testdata/victims/demo.c" || die "cannot compile demo.c"
	# memcount --expect computes the checksum the demo must print at a counter.
	cc -O2 -g -Wall -o "$work/memcount" "$repo/testdata/victims/memcount.c" || die "cannot compile memcount.c"
	cd "$work"
	launch &
	# bash still reaps a disowned child when it exits, but does not report it.
	disown "$!"
	wait_until "the demo process to fill its memory" has_ready
	pid=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$log" | head -n 1)
	say "started the demo process: PID $pid, $MIB MiB of memory it rewrites and verifies"
	wait_until "two counter lines" has_counters 2
	counter_lines | sed 's/^/    /'
}

dump() {
	local t0 status=0
	say "dumping PID $pid: crlazy dump -t $pid -D images -v 2 -o dump.log"
	t0=$(now_ms)
	"$crlazy" dump -t "$pid" -D "$work/images" -v 2 -o dump.log >"$work/dump.out" 2>&1 || status=$?
	((status == 0)) || die "crlazy dump exited with status $status"
	dump_ms=$(($(now_ms) - t0))
	wait_until "the dumped process to exit" exited "$pid"
	# A restore needs the PID free: wait until the zombie is reaped.
	wait_until "PID $pid to be free" gone "$pid"
	before=$(counter_lines | tail -n 1)
	say "dumped in ${dump_ms} ms; the process is gone. Its last line was:"
	printf '    %s\n' "$before"
}

restore() {
	local t0 status=0 pidfile
	lines=$(wc -l <"$log")
	say "restoring: crlazy restore -D images -d --pidfile pidfile -v 2 -o restore.log"
	t0=$(now_ms)
	"$crlazy" restore -D "$work/images" -d --pidfile pidfile -v 2 -o restore.log \
		>"$work/restore.out" 2>&1 || status=$?
	((status == 0)) || die "crlazy restore exited with status $status"
	restore_ms=$(($(now_ms) - t0))
	for pidfile in "$work/pidfile" "$work/images/pidfile" ""; do
		[[ -s "$pidfile" ]] && break
	done
	[[ -n "$pidfile" ]] || die "crlazy restore wrote no pidfile"
	new_pid=$(tr -d '[:space:]' <"$pidfile")
	[[ "$new_pid" == "$pid" ]] || die "restored PID is '$new_pid', the dumped one was $pid"
	is_demo "$pid" || die "PID $pid is not the demo program after the restore"
	say "restored in ${restore_ms} ms as PID $new_pid; new lines:"
	wait_until "two counter lines from the restored process" has_counters_after "$lines" 2
	counters_after "$lines" | sed 's/^/    /'
	first_after=$(counters_after "$lines" | head -n 1)
	after=$(counters_after "$lines" | tail -n 1)
}

verify() {
	local b f a
	if tail -n +"$((lines + 1))" "$log" | grep -q '^ready'; then
		die "the process started afresh after the restore (it printed ready again)"
	fi
	b=$(counter_of "$before")
	f=$(counter_of "$first_after")
	a=$(counter_of "$after")
	[[ -n "$b" && -n "$f" && -n "$a" ]] || die "cannot read the counters"
	((f > b)) || die "the counter restarted: $f after the restore, $b before the dump"
	((a > f)) || die "the restored process does not count: $f, then $a"
	want=$("$work/memcount" --expect "$a" "$MIB" | sed -n 's/^expect [0-9]* //p')
	[[ "$(checksum_of "$after")" == "$want" ]] ||
		die "checksum at counter $a is $(checksum_of "$after"), want $want"
	is_demo "$pid" || die "the restored process died"
}

summary() {
	cat <<SUMMARY

crlazy demo: OK
  PID               $pid before the dump, $new_pid after the restore (the same)
  counter           $(counter_of "$before") in the last line before the dump
                    $(counter_of "$after") now: the restored process went on counting
  memory            $MIB MiB, re-verified page by page by the process after the restore
  checksum          $want at counter $(counter_of "$after"), as computed independently
  dump / restore    ${dump_ms} ms / ${restore_ms} ms

SUMMARY
}

stop_demo() {
	kill -KILL "$pid" 2>/dev/null || true
	wait_until "the restored process to exit" exited "$pid"
	say "killed the restored process; removing $work"
}

main() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	preflight
	work=$(mktemp -d /tmp/crlazy-demo.XXXXXX)
	log="$work/demo.log"
	start_demo
	dump
	restore
	verify
	summary
	stop_demo
}

main "$@"
