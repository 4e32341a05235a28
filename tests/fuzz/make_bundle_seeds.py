#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_bundle (tests/fuzz/corpus/bundle/) from a
compiled bundle directory: the whole bundle as it is, with hash fix-up on and
off, and a few hand-made damages the fuzzer should start from.
Usage: make_bundle_seeds.py BUNDLE_DIR OUT_DIR"""
import json
import os
import struct
import sys

FILES = ["manifest.json", "public.cdb", "confidential.cdb", "confidential.filter"]


def pack(flags, parts):
    out = bytes([flags])
    for p in parts:
        out += struct.pack("<I", len(p)) + p
    return out


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    parts = []
    for f in FILES:
        p = os.path.join(src, f)
        parts.append(open(p, "rb").read() if os.path.exists(p) else b"")
    m = json.loads(parts[0])
    # The harness writes only FILES: drop the rest (report.json) from the table.
    m["files"] = {k: v for k, v in m["files"].items() if k in FILES}
    parts[0] = json.dumps(m, indent=1).encode()
    seeds = {
        "whole": pack(0, parts),
        "whole-verify": pack(2, parts),
        "fixup": pack(1, parts),
        "fixup-verify": pack(3, parts),
        "public-only": pack(1, [parts[0], parts[1]]),
        # cdb header pointing past the end, after the hash fix-up.
        "cdb-bad-header": pack(1, [parts[0], b"\xff\xff\xff\x7f" * 8 + parts[1][32:], parts[2], parts[3]]),
        "cdb-truncated": pack(1, [parts[0], parts[1][: len(parts[1]) // 2], parts[2], parts[3]]),
        "filter-truncated": pack(1, [parts[0], parts[1], parts[2], parts[3][:9]]),
    }
    # A manifest that tries to take child-abuse out of the illegal tier.
    m2 = json.loads(parts[0])  # already without report.json
    for c in m2.get("categories", []):
        if c.get("id") in ("child-abuse", "terrorism"):
            c["tier"] = "school"
            c["confidential"] = False
    seeds["illegal-floor"] = pack(1, [json.dumps(m2).encode(), parts[1], parts[2], parts[3]])
    m3 = dict(m)
    m3["format"] = 99
    seeds["format-99"] = pack(1, [json.dumps(m3).encode(), parts[1], parts[2], parts[3]])
    seeds["not-json"] = pack(1, [b"{\"files\": [", parts[1]])
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
