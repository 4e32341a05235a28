"""Shared helpers for the policy end-to-end tests (tests/e2e/test_policy_*.py).

Writes a list bundle exactly per docs/bundle-format.md (tinycdb format written
in Python, so these tests do not depend on `hedge compile`), a policy config,
and runs the hedge binary with an injected clock (HEDGE_FAKE_NOW).
"""
import hashlib
import hmac
import json
import os
import struct
import subprocess
import tomllib

SRC = os.environ.get("HEDGE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("HEDGE_BIN", os.path.join(SRC, "build", "hedge"))
CONF_KEY = bytes((i * 7 + 1) & 0xFF for i in range(32))


def _cdb_hash(key: bytes) -> int:
    h = 5381
    for b in key:
        h = (((h << 5) + h) & 0xFFFFFFFF) ^ b
    return h


def write_cdb(path: str, items: dict) -> None:
    """items: bytes key -> bytes value (the classic D. J. Bernstein cdb layout)."""
    body = bytearray()
    tables = [[] for _ in range(256)]
    pos = 2048
    for k, v in items.items():
        h = _cdb_hash(k)
        tables[h & 255].append((h, pos))
        rec = struct.pack("<II", len(k), len(v)) + k + v
        body += rec
        pos += len(rec)
    header = bytearray()
    tail = bytearray()
    for entries in tables:
        n = 2 * len(entries)
        header += struct.pack("<II", pos + len(tail), n)
        slots = [(0, 0)] * n
        for h, p in entries:
            i = (h >> 8) % n
            while slots[i][1] != 0:
                i = (i + 1) % n
            slots[i] = (h, p)
        for h, p in slots:
            tail += struct.pack("<II", h, p)
    with open(path, "wb") as f:
        f.write(header + body + tail)


def taxonomy():
    with open(os.path.join(SRC, "blocklists", "categories.toml"), "rb") as f:
        return tomllib.load(f)["category"]


def write_bundle(dirpath: str, entries: dict) -> None:
    """entries: name -> list of category ids (subtree entries)."""
    os.makedirs(dirpath, exist_ok=True)
    cats = taxonomy()
    bit = {c["id"]: i for i, c in enumerate(cats)}
    conf_ids = {c["id"] for c in cats if c.get("confidential")}
    pub, conf = {}, {}
    for name, ids in entries.items():
        for cid in ids:
            if cid in conf_ids:
                key = hmac.new(CONF_KEY, name.encode(), hashlib.sha256).digest()[:16]
                conf[key] = conf.get(key, 0) | (1 << bit[cid])
            else:
                pub[name.encode()] = pub.get(name.encode(), 0) | (1 << bit[cid])
    pack = lambda d: {k: struct.pack("<QQ", v, 0) for k, v in d.items()}
    write_cdb(os.path.join(dirpath, "public.cdb"), pack(pub))
    files = {}
    names = ["public.cdb"]
    if conf:
        write_cdb(os.path.join(dirpath, "confidential.cdb"), pack(conf))
        names.append("confidential.cdb")
    for n in names:
        with open(os.path.join(dirpath, n), "rb") as f:
            data = f.read()
        files[n] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = {
        "format": 1,
        "version": 1764000000,
        "created": "2026-11-24T14:00:00Z",
        "categories": [
            {"id": c["id"], "bit": i, "tier": c["tier"], "name": c["name"],
             "confidential": bool(c.get("confidential", False)), "entries": 0}
            for i, c in enumerate(cats)
        ],
        "sources": [],
        "files": files,
    }
    if conf:
        manifest["confidential"] = {"hash": "hmac-sha256-128", "key": CONF_KEY.hex()}
    with open(os.path.join(dirpath, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)


ENTRIES = {
    "porn.example": ["pornography"],
    "bet.example": ["gambling"],
    "game.example": ["games"],
    "social.example": ["social-media"],
    "vpn.example": ["bypass"],
    "abuse.example": ["child-abuse"],
}


def policy_toml(bundle: str, db: str, require_approval: bool = True, extra: str = "") -> str:
    return f"""
[lists]
bundle = "{bundle}"

[[schedule]]
name = "lunchtime"
days = ["mon", "tue", "wed", "thu", "fri"]
times = ["12:00-13:15"]

[[group]]
name = "staff"
clients = ["10.10.0.0/16", "192.0.2.10/32"]
block = ["pornography", "gambling", "malware"]

[[group]]
name = "pupils"
clients = ["10.20.0.0/16", "192.0.2.20/32"]
block = ["pornography", "gambling", "malware", "social-media", "games", "bypass"]
allow_during = {{ lunchtime = ["games"] }}
safe_search = "strict"

[[group]]
name = "infants"
clients = ["10.30.0.0/24", "198.51.100.30/32"]
mode = "allowlist"
allow = ["bbc.co.uk", "purplemash.com"]

[[group]]
name = "guests"
block = ["pornography", "gambling", "malware", "bypass", "social-media", "games"]

[policy]
default_group = "guests"
timezone = "Europe/London"
require_approval = {"true" if require_approval else "false"}
exception_max_days = 30

[store]
path = "{db}"
{extra}
"""


def hedge(*args, now=None, check=False, env_extra=None):
    env = dict(os.environ)
    if now is not None:
        env["HEDGE_FAKE_NOW"] = str(now)
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=env, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"hedge {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def add_account(conf, name, role="dsl", password=None):
    """A console account (hedge user add) for approvals under the two-person rule;
    returns the password file beside the config."""
    pw_file = os.path.join(os.path.dirname(conf), f"{name}.password")
    with open(pw_file, "w") as fh:
        fh.write((password or f"correct horse {name} battery") + "\n")
    hedge("user", "add", name, "--role", role, "--password-file", pw_file, "--config", conf, check=True)
    return pw_file
