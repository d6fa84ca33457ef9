#!/usr/bin/env python3
"""RTP pacing from a packet capture (classic pcap), standard library only.

    rtp_pacing.py CAPTURE [--src-ports LO-HI] [--dst-ports LO-HI] [--payload-types 0,8] [--frame-samples 160]
                          [--json]
    rtp_pacing.py CAPTURE --keys [--event-pt 101] [--event 11] [--dst-ports LO-HI] [--dst-ports-file F] [--json]

Pacing (the default): every UDP packet that looks like RTP (version 2) and matches the port filters and
payload types is put in a stream keyed by (source address, source port, SSRC), so it does not matter whether
the sender uses one port per call or one port for all of them. Within a stream, in capture order, a packet
counts only when it directly follows the previous one: sequence number +1 and timestamp +FRAME (160 samples,
20 ms at 8 kHz). Its inter-arrival time (capture timestamp minus the previous packet's) is one sample. This
skips gaps between prompts whether or not the sender sends anything during them (a sender that stops keeps
the sequence running but moves the timestamp on; one that sends silence is simply consecutive), and lost or
reordered packets. Prints p50, p99 (nearest rank) and max of those samples in ms, and the number of streams
and pairs.

Keys (--keys): for RFC 4733 telephone-event packets (payload type --event-pt) carrying --event (11 is `#`),
the capture time of the first packet of each key press (a new RTP timestamp) per stream; prints how far
apart the first and the last press were. Used to check that many callers pressed `#` within one second.

Link types: Ethernet (DLT_EN10MB), BSD loopback (DLT_NULL, DLT_LOOP), Linux cooked v1 and v2 (DLT_LINUX_SLL,
DLT_LINUX_SLL2), raw IP. IPv4 and IPv6.
"""

import argparse
import json
import math
import struct
import sys

LINKTYPE_NULL = 0
LINKTYPE_EN10MB = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = (0x8100, 0x88A8)
IPPROTO_UDP = 17


def read_pcap(path):
    """Yields ("linktype", N) first, then (capture time in seconds, frame bytes) for each packet."""
    with open(path, "rb") as f:
        header = f.read(24)
        if len(header) < 24:
            raise ValueError(f"{path}: not a pcap file (too short)")
        magic = header[:4]
        if magic == b"\xd4\xc3\xb2\xa1":
            endian, scale = "<", 1e-6
        elif magic == b"\xa1\xb2\xc3\xd4":
            endian, scale = ">", 1e-6
        elif magic == b"\x4d\x3c\xb2\xa1":
            endian, scale = "<", 1e-9
        elif magic == b"\xa1\xb2\x3c\x4d":
            endian, scale = ">", 1e-9
        elif magic == b"\x0a\x0d\x0d\x0a":
            raise ValueError(f"{path}: pcapng is not supported; capture with tcpdump -w (classic pcap)")
        else:
            raise ValueError(f"{path}: not a pcap file (magic {magic.hex()})")
        linktype = struct.unpack(endian + "I", header[20:24])[0] & 0x0FFFFFFF
        yield "linktype", linktype
        record = struct.Struct(endian + "IIII")
        while True:
            head = f.read(16)
            if len(head) < 16:
                return
            sec, frac, caplen, _ = record.unpack(head)
            data = f.read(caplen)
            if len(data) < caplen:
                return  # a capture cut short while being written
            yield sec + frac * scale, data


def network_layer(linktype, frame):
    """(ethertype, offset of the IP header) of a frame, or None."""
    if linktype == LINKTYPE_EN10MB:
        if len(frame) < 14:
            return None
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        offset = 14
        while ethertype in ETHERTYPE_VLAN and len(frame) >= offset + 4:
            ethertype = struct.unpack_from("!H", frame, offset + 2)[0]
            offset += 4
        return ethertype, offset
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None
        # The address family: host byte order for NULL, network order for LOOP; try both.
        family = struct.unpack_from("<I", frame, 0)[0]
        if family > 0xFFFF:
            family = struct.unpack_from(">I", frame, 0)[0]
        if family == 2:
            return ETHERTYPE_IPV4, 4
        if family in (10, 24, 28, 30):  # AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS
            return ETHERTYPE_IPV6, 4
        return None
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        return struct.unpack_from("!H", frame, 14)[0], 16
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        return struct.unpack_from("!H", frame, 0)[0], 20
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not frame:
            return None
        version = frame[0] >> 4
        return (ETHERTYPE_IPV4 if version == 4 else ETHERTYPE_IPV6), 0
    raise ValueError(f"link type {linktype} is not supported")


def udp_payload(linktype, frame):
    """(source address, source port, destination port, UDP payload) or None."""
    layer = network_layer(linktype, frame)
    if layer is None:
        return None
    ethertype, at = layer
    if ethertype == ETHERTYPE_IPV4:
        if len(frame) < at + 20 or frame[at] >> 4 != 4:
            return None
        ihl = (frame[at] & 0x0F) * 4
        flags_fragment = struct.unpack_from("!H", frame, at + 6)[0]
        if frame[at + 9] != IPPROTO_UDP or flags_fragment & 0x1FFF:
            return None  # not UDP, or not the first fragment
        source = ".".join(str(b) for b in frame[at + 12 : at + 16])
        at += ihl
    elif ethertype == ETHERTYPE_IPV6:
        if len(frame) < at + 40 or frame[at + 6] != IPPROTO_UDP:
            return None  # extension headers are not followed: RTP does not use them
        source = frame[at + 8 : at + 24].hex()
        at += 40
    else:
        return None
    if len(frame) < at + 8:
        return None
    sport, dport = struct.unpack_from("!HH", frame, at)
    return source, sport, dport, frame[at + 8 :]


def port_range(text):
    low, _, high = text.partition("-")
    low = int(low)
    high = int(high) if high else low
    if not 0 <= low <= high <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port or LOW-HIGH")
    return low, high


def percentile(sorted_values, p):
    """Nearest rank."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def rtp_packets(path, args):
    """(time, source, sport, dport, payload type, seq, timestamp, ssrc, RTP payload) of matching packets."""
    packets = read_pcap(path)
    _, linktype = next(packets)
    for ts, frame in packets:
        udp = udp_payload(linktype, frame)
        if udp is None:
            continue
        source, sport, dport, data = udp
        if args.src_ports and not args.src_ports[0] <= sport <= args.src_ports[1]:
            continue
        if args.dst_ports and not args.dst_ports[0] <= dport <= args.dst_ports[1]:
            continue
        if args.dst_port_set is not None and dport not in args.dst_port_set:
            continue
        if len(data) < 12 or data[0] >> 6 != 2:
            continue
        pt = data[1] & 0x7F
        seq, rtp_ts, ssrc = struct.unpack_from("!HII", data, 2)
        if args.start is not None and ts < args.start:
            continue
        if args.end is not None and ts > args.end:
            continue
        header = 12 + 4 * (data[0] & 0x0F)
        yield ts, source, sport, dport, pt, seq, rtp_ts, ssrc, data[header:]


def pacing(args):
    types = {int(t) for t in args.payload_types.split(",")} if args.payload_types else None
    last = {}  # stream -> (time, seq, timestamp)
    gaps = []
    packets = 0
    skipped = 0
    first = last_time = None
    for ts, source, sport, _, pt, seq, rtp_ts, ssrc, _ in rtp_packets(args.capture, args):
        if types is not None and pt not in types:
            continue
        packets += 1
        first = ts if first is None else first
        last_time = ts
        key = (source, sport, ssrc)
        previous = last.get(key)
        last[key] = (ts, seq, rtp_ts)
        if previous is None:
            continue
        p_ts, p_seq, p_rtp = previous
        if seq == (p_seq + 1) & 0xFFFF and rtp_ts == (p_rtp + args.frame_samples) & 0xFFFFFFFF:
            gaps.append((ts - p_ts) * 1000.0)
        else:
            skipped += 1
    gaps.sort()
    frame_ms = args.frame_samples / 8.0
    deviations = sorted(abs(g - frame_ms) for g in gaps)
    return {
        "packets": packets,
        "streams": len(last),
        "pairs": len(gaps),
        "not_consecutive": skipped,
        "seconds": round(last_time - first, 3) if gaps else 0.0,
        "p50_ms": round(percentile(gaps, 0.50), 3),
        "p99_ms": round(percentile(gaps, 0.99), 3),
        "max_ms": round(gaps[-1], 3) if gaps else 0.0,
        "min_ms": round(gaps[0], 3) if gaps else 0.0,
        "deviation_p99_ms": round(percentile(deviations, 0.99), 3),
        "over_25ms": sum(1 for g in gaps if g > 25.0),
    }


def keys(args):
    presses = []  # capture time of the first packet of each press
    seen = {}  # stream -> RTP timestamps of presses already counted
    for ts, source, sport, _, pt, _, rtp_ts, ssrc, payload in rtp_packets(args.capture, args):
        if pt != args.event_pt or len(payload) < 4 or payload[0] != args.event:
            continue
        stamps = seen.setdefault((source, sport, ssrc), set())
        if rtp_ts in stamps:
            continue  # a repeat or the end of a press already counted
        stamps.add(rtp_ts)
        presses.append(ts)
    presses.sort()
    return {
        "presses": len(presses),
        "streams": len(seen),
        "first": presses[0] if presses else None,
        "last": presses[-1] if presses else None,
        "spread_ms": round((presses[-1] - presses[0]) * 1000.0, 1) if presses else 0.0,
        "p50_offset_ms": round((percentile(presses, 0.5) - presses[0]) * 1000.0, 1) if presses else 0.0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("capture")
    parser.add_argument("--src-ports", type=port_range, help="only packets from these UDP ports")
    parser.add_argument("--dst-ports", type=port_range, help="only packets to these UDP ports")
    parser.add_argument("--dst-ports-file", help="only packets to the ports listed in this file, one a line")
    parser.add_argument("--payload-types", default="0,8", help="audio payload types (default 0,8; '' = any)")
    parser.add_argument("--frame-samples", type=int, default=160, help="RTP timestamp step of one packet")
    parser.add_argument("--start", type=float, help="only packets captured at or after this Unix time")
    parser.add_argument("--end", type=float, help="only packets captured at or before this Unix time")
    parser.add_argument("--keys", action="store_true", help="report RFC 4733 key presses instead")
    parser.add_argument("--event-pt", type=int, default=101, help="telephone-event payload type (101)")
    parser.add_argument("--event", type=int, default=11, help="the key's event code (11 is #)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = parser.parse_args()
    try:
        args.dst_port_set = None
        if args.dst_ports_file:
            with open(args.dst_ports_file) as f:
                args.dst_port_set = {int(line) for line in f if line.strip()}
        result = keys(args) if args.keys else pacing(args)
    except (OSError, ValueError) as error:
        print(f"rtp_pacing.py: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    elif args.keys:
        print(
            f"{result['presses']} presses in {result['streams']} streams, "
            f"first to last {result['spread_ms']} ms (median {result['p50_offset_ms']} ms after the first)"
        )
    else:
        print(
            f"RTP inter-arrival over {result['pairs']} consecutive pairs in {result['streams']} streams "
            f"({result['packets']} packets, {result['seconds']} s): p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms ({result['over_25ms']} over 25 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
