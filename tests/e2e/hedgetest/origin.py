"""A real HTTPS list origin for `hedge update` tests: Debian's nginx on loopback with
a test CA and certificates made here with the openssl CLI, serving web roots written
by `hedge publish`, plus a scripted plain-HTTP backend (behind nginx, so TLS stays
nginx's) for the misbehaviours nginx will not do on its own: a slow body, a body
that stops half way, an endless body, a 500.

Certificates (all for 127.0.0.1 via the name `localhost`, which /etc/hosts maps):
  good       CA-signed, SAN localhost, valid from now for 30 days
  wronghost  CA-signed, SAN other.example (hostname mismatch)
  expired    CA-signed, valid 2020-01-01 for 30 days (made under faketime)
  untrusted  signed by a second CA the box does not trust
Each certificate gets its own port; the location /<webroot name>/ maps to that web
root and /bad/<mode>/<webroot name>/ to the backend.
"""
import http.server
import os
import shutil
import socketserver
import subprocess
import threading
import time

from . import util


def _run(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)
    if p.returncode != 0:
        raise AssertionError(f"`{' '.join(args)}` exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p


def make_ca(d, name):
    key, crt = os.path.join(d, f"{name}.key"), os.path.join(d, f"{name}.crt")
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", key, "-out", crt, "-days", "60", "-subj", f"/CN=Hedge test {name}",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return key, crt


def make_cert(d, name, ca_key, ca_crt, san, days=30, faketime=None):
    key, csr, crt = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "crt"))
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
          "-out", csr, "-subj", f"/CN={san}"])
    args = ["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", str(days), "-extfile", ext]
    if faketime:
        args = ["faketime", faketime] + args
    _run(args)
    return key, crt


class Backend:
    """Plain HTTP on loopback: /bad/<mode>/<root>/<file> serves <root>/<file>, misbehaving
    only for public.cdb (the pointer, manifest, signature and small files are served straight):
      slow      waits 30 s before the body       half      sends half, then closes
      endless   streams zeros forever (chunked)  bigger    the file plus 4 KiB, honest length
      500       HTTP 500 for everything"""

    def __init__(self, roots):
        self.roots = roots   # name -> directory
        self.requests = []

    def start(self):
        backend = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                backend.requests.append(self.path)
                parts = self.path.split("/")   # '', 'bad', mode, root, file...
                if len(parts) < 5 or parts[1] != "bad" or parts[3] not in backend.roots:
                    self.send_error(404)
                    return
                mode, root, rest = parts[2], backend.roots[parts[3]], "/".join(parts[4:])
                path = os.path.join(root, rest)
                if mode == "500":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not os.path.isfile(path):
                    self.send_error(404)
                    return
                with open(path, "rb") as f:
                    body = f.read()
                special = rest.endswith("/public.cdb")   # the big file; the others are served straight
                try:
                    if not special:
                        self._send(body)
                    elif mode == "slow":
                        time.sleep(30)
                        self._send(body)
                    elif mode == "half":
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[:len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                    elif mode == "bigger":
                        self._send(body + b"\0" * 4096)
                    elif mode == "endless":
                        self.send_response(200)
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        chunk = b"\0" * 65536
                        for _ in range(100000):   # bounded: 6.5 GB at most, the client stops far sooner
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    else:
                        self.send_error(404)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

            def _send(self, body):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Origin:
    """nginx + certificates + backend. roots: {name: directory}."""

    def __init__(self, roots, tmpdir=None):
        self.dir = tmpdir or util.make_tmpdir("hedge-e2e-origin-")
        self.roots = roots
        self.proc = None

    def start(self):
        d = self.dir
        self.ca_key, self.ca = make_ca(d, "ca")
        other_key, other_ca = make_ca(d, "otherca")
        certs = {
            "good": make_cert(d, "good", self.ca_key, self.ca, "localhost"),
            "wronghost": make_cert(d, "wronghost", self.ca_key, self.ca, "other.example"),
            "expired": make_cert(d, "expired", self.ca_key, self.ca, "localhost", days=30,
                                 faketime="2020-01-01 00:00:00"),
            "untrusted": make_cert(d, "untrusted", other_key, other_ca, "localhost"),
        }
        self.backend = Backend(self.roots).start()
        self.ports = {}
        servers = []
        for name, (key, crt) in certs.items():
            port = util.free_port()
            self.ports[name] = port
            locs = "\n".join(
                f"    location /{r}/ {{ alias {os.path.abspath(p)}/; }}" for r, p in self.roots.items())
            servers.append(f"""
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name localhost;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
{locs}
    location /bad/ {{ proxy_pass http://127.0.0.1:{self.backend.port}; proxy_buffering off;
                      proxy_read_timeout 60s; }}
  }}""")
        self.access_log = os.path.join(d, "access.log")
        conf = f"""
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log {self.access_log};
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  default_type application/octet-stream;
  types {{ application/json json; }}
  {''.join(servers)}
}}
"""
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        _run(["nginx", "-t", "-q", "-c", self.conf, "-p", d])
        self.proc = util.register_child(subprocess.Popen(
            ["nginx", "-c", self.conf, "-p", d], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        import socket

        def up():
            for p in self.ports.values():
                socket.create_connection(("127.0.0.1", p), timeout=0.5).close()
            return True
        util.wait_until(up, 10, 0.05, "nginx to listen")
        return self

    def url(self, root, cert="good", bad=None):
        prefix = f"bad/{bad}/" if bad else ""
        return f"https://localhost:{self.ports[cert]}/{prefix}{root}/"

    def access(self):
        with open(self.access_log) as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            util.stop_process(self.proc)
        self.backend.stop()


def copy_root(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
