#!/usr/bin/env bash
# setup.sh: prepare a machine to build and test crlazy, then build bin/crlazy.
#
# Idempotent: Debian packages are installed (as root, quietly) only when
# missing, Go modules are downloaded into the module cache, and bin/crlazy is
# rebuilt. Works on a fresh Debian 12 with Go at /usr/local/go.
#
#   sudo ./scripts/setup.sh
set -euo pipefail

# gcc compiles the test victims; fuse3, iptables, nftables and iproute2
# (network namespaces for the page-server tests) are used by tests;
# protobuf-compiler is needed only to regenerate .pb.go files.
readonly PACKAGES=(gcc make fuse3 protobuf-compiler python3 iptables nftables iproute2)

die() {
	echo "setup: $*" >&2
	exit 1
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
			echo "$p"
		fi
	done
}

install_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		return
	fi
	if ((EUID != 0)); then
		die "missing packages: ${missing[*]}; run as root to install them"
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
}

find_go() {
	if ! command -v go >/dev/null 2>&1; then
		export PATH="$PATH:/usr/local/go/bin"
	fi
	command -v go >/dev/null 2>&1 || die "go is not on PATH nor in /usr/local/go/bin"
}

main() {
	cd "$(dirname "${BASH_SOURCE[0]}")/.."
	install_packages
	find_go
	echo "setup: $(go version)"
	go mod download
	mkdir -p bin
	go build -o bin/crlazy ./cmd/crlazy
	echo "setup: built bin/crlazy"
}

main "$@"
