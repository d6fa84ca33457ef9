#!/usr/bin/env python3
"""Turn the C arrays of github.com/leiflundgren/rfc4475-c (src/<name>.c, `xxd -i` output of the
RFC 4475 archive's <name>.dat files) back into the .dat files, byte for byte.

Usage: extract.py SRC_DIR [OUT_DIR]   (OUT_DIR defaults to this script's directory)

Each file's array body is read: comments are skipped, `0xNN` bytes and the character literals
'\\r' and '\\n' (clerr.c spells its last four bytes that way) are taken in order. test.c is not an
RFC 4475 message and is skipped. A summary line per message shows the size and, to catch a
mangled copy, the Content-Length header next to the octets that follow the blank line.
"""
import pathlib
import re
import sys

ESCAPES = {"\\r": 0x0D, "\\n": 0x0A, "\\t": 0x09, "\\0": 0x00, "\\\\": 0x5C, "\\'": 0x27}
TOKEN = re.compile(r"0x([0-9a-fA-F]{2})|'(\\.|[^\\'])'")


def array_bytes(text: str) -> bytes:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    if "{" in text:
        text = text[text.index("{") + 1 : text.rindex("}")]
    out = bytearray()
    for match in TOKEN.finditer(text):
        hexpair, char = match.groups()
        if hexpair is not None:
            out.append(int(hexpair, 16))
        else:
            out.append(ESCAPES[char] if char.startswith("\\") else ord(char))
    leftover = TOKEN.sub("", text).replace(",", "").split()
    if leftover:
        raise ValueError(f"unexpected text in array: {leftover[:5]}")
    return bytes(out)


def main() -> None:
    src = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else pathlib.Path(__file__).parent
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.c")):
        if path.stem == "test":
            continue
        data = array_bytes(path.read_text(encoding="latin-1"))
        (out / f"{path.stem}.dat").write_bytes(data)
        head, _, body = data.partition(b"\r\n\r\n")
        lengths = re.findall(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\S+)", head)
        print(f"{path.stem:12} {len(data):5} octets, Content-Length {lengths}, {len(body)} after the blank line")


if __name__ == "__main__":
    main()
