#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Install what building relay46 needs, on Debian or Ubuntu (apt-get).
#   sh contrib/install-deps.sh           the compiler, autotools, libevent, inih
#   sh contrib/install-deps.sh --tests   the same and cmocka, for "make check"
# Runs apt-get directly as root and through sudo otherwise; fetches the
# package lists first when they are empty or lack a package (as on a fresh
# image), and does nothing when everything is installed already.
set -eu

pkgs="build-essential autoconf automake pkg-config libevent-dev libinih-dev netbase"
case "${1-}" in
"") ;;
--tests) pkgs="$pkgs libcmocka-dev" ;;
*) echo "usage: sh contrib/install-deps.sh [--tests]" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q ' ok installed$' || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: already installed:$(printf ' %s' $pkgs)"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: no apt-get here; install these (or your system's" \
	    "names for them) by hand:$missing" >&2
	exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1; then
	as_root=sudo
else
	echo "install-deps: run this as root, or install sudo; missing:$missing" >&2
	exit 1
fi
apt_get() {
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

updated=no
for p in $missing; do
	if ! apt-cache show "$p" >/dev/null 2>&1; then
		echo "install-deps: no package list has $p: apt-get update"
		apt_get update -q
		updated=yes
		break
	fi
done
echo "install-deps: installing$missing"
# shellcheck disable=SC2086
if ! apt_get install -y -q --no-install-recommends $missing; then
	# Old lists may name versions the mirror no longer has.
	[ "$updated" = no ] || exit 1
	apt_get update -q
	apt_get install -y -q --no-install-recommends $missing
fi
