#!/usr/bin/python3
"""E2E: every real list in ../shared/data/lists compiles (UT1 via its mapping,
the rest via blocklists/sources/shared-lists.toml) and the report accounts for
every line: the line count matches the file, and
accepted + duplicates + skipped = entries for every source."""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

BIN = os.environ["HEDGE_BIN"]
SRC = os.environ["HEDGE_SOURCE_DIR"]
DATA = os.path.normpath(os.path.join(SRC, "..", "shared", "data", "lists"))
if not os.path.isdir(DATA):
    DATA = "/work/shared/data/lists"


def text_lines(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    n = raw.count(b"\n")
    if raw and not raw.endswith(b"\n"):
        n += 1
    return n, raw


def readme_entries(raw):
    """The README's definition: not blank, not starting with # ! ; //."""
    n = 0
    for line in raw.split(b"\n"):
        s = line.strip()
        if not s or s.startswith((b"#", b"!", b";", b"//")):
            continue
        n += 1
    return n


def compile_bundle(out, mapping, source_dir):
    t0 = time.monotonic()
    p = subprocess.run([BIN, "compile", "--out", out, "--mapping", mapping, "--source-dir", source_dir],
                       capture_output=True, text=True, timeout=120)
    dt = time.monotonic() - t0
    assert p.returncode == 0, p.stderr + p.stdout
    print(f"  compiled {os.path.basename(mapping)} in {dt:.2f} s")
    return p.stdout


def check_report(bundle):
    with open(os.path.join(bundle, "report.json")) as f:
        rep = json.load(f)
    with open(os.path.join(bundle, "manifest.json")) as f:
        man = json.load(f)
    assert len(rep["sources"]) == len(man["sources"]) > 0
    tot = {"entries": 0, "accepted": 0, "duplicates": 0, "skipped": 0}
    for s in rep["sources"]:
        where = f'{s["path"]} ({s["format"]})'
        if s.get("test_names"):  # the compiler's own: the category's test names, no file behind it
            assert s["accepted"] + s["duplicates"] == s["entries"] > 0 and s["skipped"] == 0, where
            for k in tot:
                tot[k] += s[k]
            continue
        lines, raw = text_lines(s["path"])
        assert s["lines"] == lines, f'{where}: report says {s["lines"]} lines, file has {lines}'
        assert s["accepted"] + s["duplicates"] + s["skipped"] == s["entries"], where
        assert sum(r["count"] for r in s["reasons"].values()) == s["skipped"], where
        assert s["blank"] + s["comments"] + s["directives"] <= s["lines"], where
        # Every line the README counts as an entry is an entry, an allow rule
        # or zone plumbing here (a hosts line naming several hosts counts each).
        assert s["entries"] + s["exceptions"] + s["directives"] >= readme_entries(raw) - s["comments"], where
        for k in tot:
            tot[k] += s[k]
    t = rep["totals"]
    for k in tot:
        assert t[k] == tot[k], k
    assert t["accepted"] + t["duplicates"] + t["skipped"] == t["entries"]
    assert sum(c["entries"] for c in man["categories"]) >= t["public_names"] > 0
    # Every category with a list carries its test names (for the built-in filtering check).
    generated = {s["category"] for s in rep["sources"] if s.get("test_names")}
    sourced = {s["category"] for s in rep["sources"] if not s.get("test_names")}
    assert generated == sourced, (generated, sourced)
    rep["sources"] = [s for s in rep["sources"] if not s.get("test_names")]  # the files, for the checks below
    return rep


def main():
    with tempfile.TemporaryDirectory(prefix="hedge-e2e-lists-") as tmp:
        out = os.path.join(tmp, "ut1")
        compile_bundle(out, os.path.join(SRC, "blocklists/sources/ut1.toml"), os.path.join(DATA, "ut1"))
        rep = check_report(out)
        names = {s["path"].split("/ut1/")[1] for s in rep["sources"]}
        assert "gambling/domains" in names and "redirector/domains.gz" in names, names
        # UT1 mixes bare IPv4 addresses into domain lists: they are skipped, with examples.
        shopping = next(s for s in rep["sources"] if s["path"].endswith("shopping/domains"))
        ex = shopping["reasons"]["ip-address"]["examples"][0]
        assert ex["line"] == 56 and ex["text"] == "109.168.127.170", ex

        out2 = os.path.join(tmp, "shared")
        compile_bundle(out2, os.path.join(SRC, "blocklists/sources/shared-lists.toml"), DATA)
        rep = check_report(out2)
        fmts = {s["format"] for s in rep["sources"]}
        assert fmts >= {"domains", "hosts", "adblock", "wildcard", "rpz", "dnsmasq", "unbound"}, fmts
        # The same list in every syntax yields the same names: all but the first are duplicates.
        drugs = [s for s in rep["sources"] if s["category"] == "drugs" and "vaping" not in s["path"]]
        assert drugs[0]["accepted"] > 20000 and all(s["accepted"] == 0 for s in drugs[1:]), drugs
        # Real-address hosts lines and public suffixes are reported, not blocked.
        fb = next(s for s in rep["sources"] if s["path"].endswith("facebook.txt"))
        assert fb["reasons"]["public-suffix"]["count"] >= 1
        p = subprocess.run([BIN, "lists", "lookup", "www.xnxx.com", "--bundle", out2], capture_output=True, text=True)
        assert p.returncode == 0 and "pornography" in p.stdout, p.stdout
        # Both mappings in one command: the technician's "full bundle from public data".
        both = os.path.join(tmp, "both")
        p = subprocess.run([BIN, "compile", "--quiet", "--out", both,
                            "--mapping", os.path.join(SRC, "blocklists/sources/ut1.toml"),
                            "--source-dir", os.path.join(DATA, "ut1"),
                            "--mapping", os.path.join(SRC, "blocklists/sources/shared-lists.toml"),
                            "--source-dir", DATA], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        rep = check_report(both)
        assert any("/ut1/" in s["path"] for s in rep["sources"])
        assert any("/pornhosts/" in s["path"] for s in rep["sources"])

        # Every file under the data directory, whatever it is (README, PDF, JSON, IP lists,
        # allow-lists, symlink stubs), goes through the compiler without a crash and with
        # every line accounted for.
        everything = []
        for root, _, files in os.walk(DATA):
            everything += [os.path.join(root, f) for f in sorted(files)]
        out3 = os.path.join(tmp, "everything")
        p = subprocess.run([BIN, "compile", "--quiet", "--out", out3] + [f"ads={f}" for f in everything],
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stderr
        rep = check_report(out3)
        assert len(rep["sources"]) == len(everything)
        safe = subprocess.run([BIN, "compile", "--out", os.path.join(tmp, "ss"),
                               "pornography=" + os.path.join(DATA, "pornhosts/SafeSearch/hosts")],
                              capture_output=True, text=True, timeout=60)
        assert safe.returncode == 0 and "real-address" in safe.stdout, safe.stdout
    print("test_lists_real: OK")


if __name__ == "__main__":
    main()
