#!/usr/bin/python3
"""E2E: signed bundles and their tamper checks, the confidential tier never in
plain text, `hedge lists lookup`, and failures that leave no partial bundle."""
import gzip
import json
import os
import shutil
import stat
import subprocess
import tempfile

BIN = os.environ["HEDGE_BIN"]


def run(*args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
    if ok is not None:
        assert (p.returncode == 0) == ok, f"{args}: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def write(path, text, gz=False):
    data = text.encode()
    if gz:
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
    return path


SECRET = ["secret-abuse-one.hedge.test", "secret-abuse-two.hedge.test", "terror-secret.hedge.test"]


def main():
    with tempfile.TemporaryDirectory(prefix="hedge-e2e-bundle-") as tmp:
        j = lambda *p: os.path.join(tmp, *p)
        porn = write(j("porn.txt.gz"), "0.0.0.0 porn-site.example.com\n0.0.0.0 localhost\n", gz=True)
        ads = write(j("ads.txt"), "! title\n||ads.example.net^\n@@||ok.example.net^\n||x.ok.example.net^\n")
        iwf = write(j("iwf.txt"), f"{SECRET[0]}\n{SECRET[1]}/some/page.jpg\nbad line with spaces\n")
        terror = write(j("ctiru.txt"), f"{SECRET[2]}\n")

        # Keys: private key 0600, never overwritten.
        run("keygen", "--out", j("k"))
        assert stat.S_IMODE(os.stat(j("k.key")).st_mode) == 0o600
        assert "PUBLIC KEY" in open(j("k.pub")).read()
        assert run("keygen", "--out", j("k"), ok=False).returncode == 1
        run("keygen", "--out", j("other"))

        b = j("bundle")
        out = run("compile", "--out", b, "--sign", j("k.key"), "--version", "7", f"pornography={porn}",
                  f"ads={ads}", "--url-entries", "block-host", f"child-abuse={iwf}", f"terrorism={terror}").stdout
        assert "version 7" in out and "signed" in out, out
        for s in SECRET:
            assert s not in out, "confidential names printed"
        assert sorted(os.listdir(b)) == ["confidential.cdb", "confidential.filter", "manifest.json", "manifest.sig", "public.cdb",
                                         "report.json"]
        # No listed confidential name anywhere in the bundle, in any case or as its registrable part.
        blob = b"".join(open(j("bundle", f), "rb").read() for f in os.listdir(b)).lower()
        for s in SECRET:
            assert s.encode() not in blob and s.split(".")[0].encode() not in blob, s
        assert b"porn-site.example.com" in blob  # public names are there (sanity of the check)

        assert "OK" in run("verify", b, "--pubkey", j("k.pub")).stdout

        # lookup: public entries show categories and sources; confidential only "listed in".
        p = run("lists", "lookup", "a.porn-site.example.com", "--bundle", b)
        assert "pornography" in p.stdout and "porn.txt.gz" in p.stdout, p.stdout
        p = run("lists", "lookup", "www." + SECRET[0], "--bundle", b)
        assert "listed in child-abuse" in p.stdout and "iwf.txt" not in p.stdout, p.stdout
        p = run("lists", "lookup", SECRET[1], "--bundle", b)  # URL entry, host blocked
        assert "listed in child-abuse" in p.stdout, p.stdout
        assert "listed in terrorism" in run("lists", "lookup", SECRET[2], "--bundle", b).stdout
        assert run("lists", "lookup", "x.ok.example.net", "--bundle", b, ok=None).returncode == 3  # @@ exception
        assert run("lists", "lookup", "example.org", "--bundle", b, ok=None).returncode == 3

        # Tampering: each case rejected, with the file named.
        def tampered(name, mutate, expect):
            t = j("t-" + name)
            shutil.copytree(b, t)
            mutate(t)
            p = run("verify", t, "--pubkey", j("k.pub"), ok=False)
            assert expect in p.stderr, (name, p.stderr)

        def flip(path, offset=None):
            def m(t):
                with open(os.path.join(t, path), "r+b") as f:
                    data = bytearray(f.read())
                    i = len(data) // 2 if offset is None else offset
                    data[i] ^= 0x01
                    f.seek(0)
                    f.write(data)
            return m

        tampered("cdb", flip("public.cdb"), "public.cdb")
        tampered("conf", flip("confidential.cdb", 2050), "confidential.cdb")
        tampered("report", flip("report.json"), "report.json")
        tampered("manifest", flip("manifest.json"), "signature")
        tampered("sig", flip("manifest.sig", 10), "signature")
        tampered("missing", lambda t: os.remove(os.path.join(t, "report.json")), "report.json")
        tampered("nosig", lambda t: os.remove(os.path.join(t, "manifest.sig")), "manifest.sig")
        tampered("extra", lambda t: write(os.path.join(t, "evil.cdb"), "x"), "evil.cdb")
        p = run("verify", b, "--pubkey", j("other.pub"), ok=False)
        assert "signature" in p.stderr, p.stderr

        # A failing source leaves the previous bundle untouched and no temp dir behind.
        before = open(j("bundle", "manifest.json"), "rb").read()
        write(j("corrupt.gz"), "")
        with open(j("corrupt.gz"), "wb") as f:
            full = gzip.compress("".join(f"host{i}.example.com\n" for i in range(5000)).encode())
            f.write(full[: len(full) // 2])
        p = run("compile", "--out", b, f"pornography={j('corrupt.gz')}", ok=False)
        assert "gzip" in p.stderr and "no bundle written" in p.stderr, p.stderr
        p = run("compile", "--out", b, f"pornography={j('nope.txt')}", ok=False)
        assert open(j("bundle", "manifest.json"), "rb").read() == before
        assert not [n for n in os.listdir(tmp) if ".tmp-" in n], os.listdir(tmp)
        p = run("compile", "--out", j("new"), "--sign", j("missing.key"), f"pornography={porn}", ok=False)
        assert not os.path.exists(j("new")) and not [n for n in os.listdir(tmp) if ".tmp-" in n]
        # Never replaces a directory that is not a bundle.
        os.mkdir(j("notabundle"))
        write(j("notabundle", "precious.txt"), "keep me")
        run("compile", "--out", j("notabundle"), f"pornography={porn}", ok=False)
        assert os.path.exists(j("notabundle", "precious.txt"))
        # Recompiling over a bundle replaces it; versions only go up.
        run("compile", "--out", b, "--quiet", "--version", "8", f"pornography={porn}")
        assert '"version": 8' in open(j("bundle", "manifest.json")).read()
        assert not os.path.exists(j("bundle", "confidential.cdb"))
        p = run("compile", "--out", b, "--quiet", "--version", "8", f"pornography={porn}", ok=False)
        assert "not newer" in p.stderr, p.stderr
        run("compile", "--out", j("v"), "--quiet", f"pornography={porn}")
        v1 = json.load(open(j("v", "manifest.json")))["version"]
        run("compile", "--out", j("v"), "--quiet", f"pornography={porn}")
        assert json.load(open(j("v", "manifest.json")))["version"] > v1
        # A file name that is not UTF-8 still gives a valid JSON manifest and report.
        odd = os.path.join(os.fsencode(tmp), b"odd-\xff.txt")
        with open(odd, "wb") as f:
            f.write(b"odd.example.com\n")
        p = subprocess.run([os.fsencode(BIN), b"compile", b"--quiet", b"--out", os.fsencode(j("odd")),
                            b"ads=" + odd], capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        for f in ("manifest.json", "report.json"):
            json.load(open(j("odd", f)))

        # The sample lists `make samples` / `make run` use.
        src = os.environ.get("HEDGE_SOURCE_DIR", ".")
        samples = os.path.join(src, "blocklists", "samples")
        args = [f"{f[:-4]}={os.path.join(samples, f)}" for f in sorted(os.listdir(samples)) if f.endswith(".txt")]
        run("compile", "--quiet", "--out", j("samples"), *args)
        assert "pornography" in run("lists", "lookup", "www.pornhub.com", "--bundle", j("samples")).stdout
        assert "gambling" in run("lists", "lookup", "bet365.com", "--bundle", j("samples")).stdout
        p = run("lists", "lookup", "child-abuse-sample.hedge.test", "--bundle", j("samples"))
        assert "listed in child-abuse" in p.stdout, p.stdout
    print("test_lists_bundle: OK")


if __name__ == "__main__":
    main()
