#!/usr/bin/env python3
"""The known speech of bench/deposit.sh and bench/retrieval.sh, and the check of what the portal stored.

    deposit_audio.py gen --seconds S --out speech.pcap
        S seconds of PCMU as a pcap (Ethernet, IPv4, UDP, RTP; one 20 ms frame every 20 ms) for SIPp's
        play_pcap_audio. Frame k is 160 pseudo-random u-law codes seeded by k, all of them loud (segments 4 to
        6: about -30 to -6 dBm0, far above the portal's -40 dBm0 silence level, and no DTMF tone), so every
        frame is unique and survives G.711 exactly: a stored 20 ms block is frame k when its samples encode to
        frame k's codes.

    deposit_audio.py check --data DIR --seconds S --caller-prefix P [--json]
        For every message of mailbox 1001 whose calling number starts with P (`vportal admin user messages`
        gives the list; the store's `messages` table gives each WAV's file name), reads the stored WAV and
        identifies its 20 ms blocks: frame k, a block of zeros (a gap the portal filled with silence, or the
        100 ms of silence kept after trimming the tail), or anything else (unmatched samples). Counts, over all
        messages: the frames sent (S x 50 each), the frames found, the missing ones by where they were missing
        (head: before the first frame found; middle; tail: after the last), duplicates, frames out of order,
        and each WAV's length against S.

    deposit_audio.py times TRANSCRIPT
        From a `vportal-harness call` transcript: seconds from the `press 1` line to the first `heard you_have`,
        the first `heard received` (the first envelope) and the first `heard <audio` after it (the message), as
        JSON; also from the start of the last item heard before the message (the caller's last digit) to the
        message.
"""

import argparse
import json
import os
import random
import re
import sqlite3
import struct
import subprocess
import sys

FRAME = 160


def ulaw_decode(code):
    code = ~code & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 7
    mantissa = code & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


def ulaw_encode(sample):
    bias, clip = 0x84, 32635
    sign = 0
    if sample < 0:
        sample = -sample
        sign = 0x80
    sample = min(sample, clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


DECODE = [ulaw_decode(c) for c in range(256)]
ENCODE = {}


def encode(sample):
    code = ENCODE.get(sample)
    if code is None:
        code = ENCODE[sample] = ulaw_encode(sample)
    return code


def frame_codes(k):
    rnd = random.Random(1_000_003 * (k + 1))
    out = bytearray(FRAME)
    for i in range(FRAME):
        sign = rnd.randrange(2) << 7
        segment = rnd.randrange(4, 7)
        mantissa = rnd.randrange(16)
        out[i] = ~(sign | (segment << 4) | mantissa) & 0xFF
    return bytes(out)


def frames_for(seconds):
    return int(round(seconds * 50))


def gen(args):
    n = frames_for(args.seconds)
    pcap = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    ssrc = 0x5EED0711
    for k in range(n):
        rtp = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | 0, k & 0xFFFF, (k * FRAME) & 0xFFFFFFFF, ssrc)
        rtp += frame_codes(k)
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                                   bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])))
        s = sum(struct.unpack("!10H", bytes(ip)))
        while s > 0xFFFF:
            s = (s & 0xFFFF) + (s >> 16)
        ip[10:12] = struct.pack("!H", ~s & 0xFFFF)
        eth = bytes([0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00])
        frame = eth + bytes(ip) + udp
        ms = k * 20
        pcap += struct.pack("<IIII", ms // 1000, (ms % 1000) * 1000, len(frame), len(frame)) + frame
    with open(args.out, "wb") as f:
        f.write(pcap)
    print(n)


def read_wav(path):
    """The data chunk of a 16-bit mono WAV file, as bytes (little-endian samples)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"data":
            body = data[pos + 8:pos + 8 + size]
            return body[: len(body) // 2 * 2]
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def block_codes(raw):
    return bytes(encode(v) for v in struct.unpack(f"<{len(raw) // 2}h", raw))


def analyse(raw, by_samples, by_codes):
    """Blocks of one stored message (raw 16-bit samples): the frame indices found, in order; blocks of zeros;
    unmatched samples. A block is matched on its samples (G.711 decoded as the standard table does), else on
    its samples encoded again to u-law (any decoder that G.711 encoding inverts)."""
    step = 2 * FRAME
    zero = bytes(step)
    found, zero_blocks, unmatched, pos = [], 0, 0, 0
    while pos + step <= len(raw):
        block = raw[pos:pos + step]
        k = by_samples.get(block)
        if k is None:
            k = by_codes.get(block_codes(block))
        if k is not None:
            found.append(k)
            pos += step
            continue
        if block == zero:
            zero_blocks += 1
            pos += step
            continue
        # Out of step (should not happen: the portal records whole frames): look for the next frame.
        nxt = pos + 2
        while nxt + step <= len(raw) and raw[nxt:nxt + step] not in by_samples and \
                block_codes(raw[nxt:nxt + step]) not in by_codes:
            nxt += 2
        unmatched += (nxt - pos) // 2
        pos = nxt
    if pos < len(raw) and any(raw[pos:]):
        unmatched += (len(raw) - pos) // 2
    return found, zero_blocks, unmatched


def check(args):
    n = frames_for(args.seconds)
    by_codes = {frame_codes(k): k for k in range(n)}
    by_samples = {struct.pack(f"<{FRAME}h", *(DECODE[c] for c in codes)): k for codes, k in by_codes.items()}
    out = subprocess.run([args.vportal, "admin", "--data", args.data, "user", "messages", args.mailbox],
                         check=True, capture_output=True, text=True).stdout
    listed = json.loads(out)
    mine = [m for m in listed if (m.get("from") or "").startswith(args.caller_prefix)]
    db = sqlite3.connect(f"file:{os.path.join(args.data, 'vportal.db')}?mode=ro", uri=True)
    names = dict(db.execute("SELECT id, file_name FROM messages"))
    totals = dict(messages_listed=len(listed), messages=len(mine), frames_sent_each=n, frames_expected=n * len(mine),
                  frames_found=0, frames_missing=0, missing_head=0, missing_middle=0, missing_tail=0,
                  duplicates=0, out_of_order=0, zero_blocks_inside=0, unmatched_samples=0,
                  messages_complete=0, messages_missing_frames=0, unreadable=0)
    lengths, durations, worst = [], [], []
    for m in mine:
        path = os.path.join(args.data, "messages", names.get(m["id"], "?"))
        try:
            raw = read_wav(path)
        except (OSError, ValueError) as error:
            totals["unreadable"] += 1
            worst.append((n, m["id"], f"unreadable: {error}"))
            continue
        found, zero_blocks, unmatched = analyse(raw, by_samples, by_codes)
        seconds = len(raw) / 2 / 8000
        lengths.append(seconds)
        durations.append(m.get("duration_ms", 0) / 1000)
        distinct = sorted(set(found))
        missing = n - len(distinct)
        if distinct:
            head = distinct[0]
            tail = n - 1 - distinct[-1]
        else:
            head, tail = n, 0
        middle = missing - head - tail
        ooo = sum(1 for a, b in zip(found, found[1:]) if b <= a)
        # zero blocks between the first and the last frame found are gaps the portal filled
        inside = 0
        if found:
            # count zero blocks before the last found frame: re-walk cheaply
            zero_tail = 0
            last = len(raw)
            while last >= 2 * FRAME and not any(raw[last - 2 * FRAME:last]):
                zero_tail += 1
                last -= 2 * FRAME
            inside = max(0, zero_blocks - zero_tail)
        totals["frames_found"] += len(distinct)
        totals["frames_missing"] += missing
        totals["missing_head"] += head
        totals["missing_middle"] += middle
        totals["missing_tail"] += tail
        totals["duplicates"] += len(found) - len(distinct)
        totals["out_of_order"] += ooo
        totals["zero_blocks_inside"] += inside
        totals["unmatched_samples"] += unmatched
        if missing == 0 and unmatched == 0:
            totals["messages_complete"] += 1
        else:
            totals["messages_missing_frames"] += 1
            worst.append((missing, m["id"], f"{missing} missing (head {head}, middle {middle}, tail {tail}), "
                                            f"{inside} zero blocks inside, {unmatched} unmatched samples, "
                                            f"{seconds:.3f} s stored"))
    if lengths:
        lengths.sort()
        totals["wav_s_min"] = round(lengths[0], 3)
        totals["wav_s_median"] = round(lengths[len(lengths) // 2], 3)
        totals["wav_s_max"] = round(lengths[-1], 3)
        durations.sort()
        totals["duration_ms_min"] = int(durations[0] * 1000)
        totals["duration_ms_max"] = int(durations[-1] * 1000)
    worst.sort(reverse=True)
    totals["worst"] = [f"message {i}: {text}" for _, i, text in worst[:5]]
    print(json.dumps(totals))


def times(args):
    with open(args.transcript) as f:
        lines = f.read().splitlines()
    entries = []
    for line in lines:
        m = re.match(r"^\s*([0-9]+\.[0-9]+) (.*)$", line)
        if m:
            entries.append((float(m.group(1)), m.group(2)))
    press = next((t for t, text in entries if text.startswith("press 1 ")), None)
    out = dict(press_1_s=press, you_have_ms=None, envelope_ms=None, message_audio_ms=None, heard=[])
    if press is None:
        print(json.dumps(out))
        return
    after = [(t, text) for t, text in entries if t >= press and text.startswith("heard ")]
    out["heard"] = [f"{t - press:.3f} {text[6:]}" for t, text in after[:40]]
    you = next((t for t, text in after if text.startswith("heard you_have")), None)
    env = next((t for t, text in after if text.startswith("heard received")), None)
    audio = next((t for t, text in after if env is not None and t > env and text.startswith("heard <audio")), None)
    for key, t in (("you_have_ms", you), ("envelope_ms", env), ("message_audio_ms", audio)):
        out[key] = None if t is None else round((t - press) * 1000, 1)
    # From the start of the envelope's last item (the caller's last digit, about 0.5 s long) to the message.
    before = [t for t, _ in after if audio is not None and t < audio]
    out["after_last_envelope_item_ms"] = round((audio - before[-1]) * 1000, 1) if before else None
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--seconds", type=float, required=True)
    g.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--data", required=True)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--caller-prefix", required=True)
    c.add_argument("--mailbox", default="1001")
    c.add_argument("--vportal", default="vportal")
    t = sub.add_parser("times")
    t.add_argument("transcript")
    args = p.parse_args()
    {"gen": gen, "check": check, "times": times}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
