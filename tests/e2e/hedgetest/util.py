"""Small helpers shared by the harness: free ports, polling, temp dirs, cleanup."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

_CHILDREN = []  # Popen objects still to be killed at exit
_CLEANUPS = []  # callables run at exit (namespaces, temp dirs)


def register_child(proc):
    _CHILDREN.append(proc)
    return proc


def register_cleanup(fn):
    _CLEANUPS.append(fn)
    return fn


def unregister_cleanup(fn):
    try:
        _CLEANUPS.remove(fn)
    except ValueError:
        pass


@atexit.register
def _cleanup_all():
    for proc in list(_CHILDREN):
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=5)
            except Exception:
                pass
    for fn in reversed(list(_CLEANUPS)):
        try:
            fn()
        except Exception:
            pass


def free_port(hosts=("127.0.0.1",)):
    """A port number that is free for both UDP and TCP on every host given."""
    for _ in range(200):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        socks = []
        try:
            for host in hosts:
                fam = socket.AF_INET6 if ":" in host else socket.AF_INET
                for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(fam, typ)
                    socks.append(s)
                    if typ == socket.SOCK_STREAM:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port found")


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - remembered for the message
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}" +
                       (f" (last error: {last_exc!r})" if last_exc else ""))


def make_tmpdir(prefix="hedge-e2e-"):
    d = tempfile.mkdtemp(prefix=prefix)
    keep = os.environ.get("HEDGE_E2E_KEEP")

    def rm():
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
    register_cleanup(rm)
    return d


def stop_process(proc, sig=signal.SIGTERM, timeout=5.0):
    """Send sig, wait up to timeout; kill if needed. Returns (returncode, seconds, killed)."""
    if proc.poll() is not None:
        return proc.returncode, 0.0, False
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=timeout)
        return rc, time.monotonic() - t0, False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        return proc.returncode, time.monotonic() - t0, True


def tail(path, n=40):
    try:
        with open(path, "r", errors="replace") as f:
            lines = f.readlines()
        return "".join(lines[-n:])
    except OSError as e:
        return f"<cannot read {path}: {e}>"
