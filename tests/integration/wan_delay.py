#!/usr/bin/python3
"""A WAN link for tests: every packet routed through the TUN device is held
for a fixed delay, then sent on (tc netem is not in this kernel).

usage: wan_delay.py <tun-device> <one-way-delay-ms> [<A>:<B>=<ms> ...]
where A and B are /24 prefixes (10.1.2): traffic between them, either way,
is held <ms> instead (datacenters at different distances).
Run inside the router namespace whose policy routes send the traffic
between datacenters into the device; packets written back re-enter the
kernel from the device and are routed to their destination normally.
"""
import fcntl
import heapq
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def parse_pairs(args):
    """{(src /24, dst /24) as 3 bytes each: one-way delay in seconds}"""
    pairs = {}
    for arg in args:
        nets, ms = arg.split("=")
        a, b = (bytes(int(x) for x in n.split(".")) for n in nets.split(":"))
        pairs[(a, b)] = pairs[(b, a)] = float(ms) / 1000.0
    return pairs


def delay_of(pkt, default, pairs):
    if not pairs or len(pkt) < 20 or pkt[0] >> 4 != 4:
        return default
    return pairs.get((pkt[12:15], pkt[16:19]), default)


def main():
    dev, delay = sys.argv[1], float(sys.argv[2]) / 1000.0
    pairs = parse_pairs(sys.argv[3:])
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    held, seq = [], 0
    print("ready", flush=True)
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 1.0
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                seq += 1
                heapq.heappush(held, (time.monotonic() + delay_of(pkt, delay, pairs), seq, pkt))
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, pkt = heapq.heappop(held)
            try:
                os.write(fd, pkt)
            except OSError:
                pass  # a full queue drops, like a real link


if __name__ == "__main__":
    main()
