#!/bin/sh
# Install the Debian 12 packages cairn needs, only those missing.
# usage: scripts/deps.sh [build|test|bench|fuzz]...   (default: build)
# As root it runs apt-get; otherwise it prints the command to run and fails,
# so a newcomer sees exactly what is missing instead of a compiler error later.
set -eu

build="meson ninja-build pkg-config gcc libc6-dev libuv1-dev libhttp-parser-dev
 libjansson-dev libssl-dev zlib1g-dev libcurl4-openssl-dev"
test="python3 python3-consul python3-dnspython dnsutils curl iproute2 iptables
 haproxy clang libclang-rt-14-dev"
bench="etcd-server etcd-client nsd dnsperf wrk"
fuzz="clang libclang-rt-14-dev"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
    case "$group" in
    build) want="$want $build" ;;
    test) want="$want $build $test" ;;
    bench) want="$want $build $test $bench" ;;
    fuzz) want="$want $build $fuzz" ;;
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$s" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages:$missing" >&2
    echo "deps.sh: run: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when an install fails on stale ones.
apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends $missing >/dev/null 2>&1 || {
    apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
    apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends $missing >/dev/null
}
