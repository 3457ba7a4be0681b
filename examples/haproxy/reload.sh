#!/bin/sh
# reload.sh CONFIG PIDFILE - start haproxy on CONFIG, or reload it gracefully.
#
# For trying the example without systemd: `cairn template` runs this after
# every rewrite of CONFIG. The configuration is checked first, so a bad
# render never replaces a running haproxy; -sf lets the old process finish
# its connections while the new one takes the listening sockets.
set -eu
cfg=${1:-/tmp/haproxy-demo/haproxy.cfg}
pid=${2:-/tmp/haproxy-demo/haproxy.pid}
haproxy=${HAPROXY:-/usr/sbin/haproxy}

"$haproxy" -c -q -f "$cfg"
if [ -s "$pid" ] && kill -0 "$(head -n1 "$pid")" 2>/dev/null; then
    exec "$haproxy" -f "$cfg" -p "$pid" -sf $(cat "$pid")
fi
exec "$haproxy" -f "$cfg" -p "$pid"
