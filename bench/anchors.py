"""The anchors the figures are set beside, started by the bench itself on the
same machine: pgbench against the bench's own PostgreSQL cluster (in a
database of its own, so fairbeta's tables are untouched, or replaying the
API's captured statements in fairbeta's database), and nginx answering
`return 200` with as many workers as the API has loops."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PGBENCH_SCALE = 10
NGINX = "/usr/sbin/nginx"


def with_database(url, name):
    """The same cluster's URL for another database."""
    scheme, rest = url.split("://", 1)
    host, _, query = re.match(r"([^/]*)/([^?]*)(.*)", rest).groups()
    return "%s://%s/%s%s" % (scheme, host, name, query)


def pgbench_init(db, name="pgbench", scale=PGBENCH_SCALE):
    """CREATE DATABASE name and pgbench -i -s scale in it; its URL."""
    db.psql("CREATE DATABASE %s" % name)
    url = with_database(db.url, name)
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), url], check=True,
                   capture_output=True, text=True)
    return url


def pgbench(url, clients, seconds, *args):
    """One pgbench run, -M prepared, -j2: {tps, latency_ms, failed,
    transactions, whole_tps}. tps and latency_ms are over `seconds` seconds
    (its -P 1 reports) after a first second that warms its new connections
    up, as the API's are (its pool connects at start); whole_tps is
    pgbench's own figure for the whole run, first second included."""
    cmd = ["pgbench", "-M", "prepared", "-c", str(clients), "-j", "2",
           "-T", str(seconds + 2), "-P", "1", *args, url]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(cmd[:-1]), out.stdout, out.stderr))

    def num(pattern, default=0.0):
        m = re.search(pattern, out.stdout)
        return float(m.group(1)) if m else default
    steady = [(float(t), float(lat)) for t, lat in re.findall(
        r"^progress: [\d.]+ s, ([\d.]+) tps, lat ([\d.]+) ms", out.stderr, re.M)]
    steady = steady[1:1 + seconds]     # -T seconds + 2: the last report may be missing
    tps = sum(t for t, _ in steady) / len(steady) if steady else 0.0
    return {"tps": tps,
            "latency_ms": sum(t * lat for t, lat in steady) / (tps * len(steady)) if tps else 0.0,
            "whole_tps": num(r"tps = ([\d.]+) \(without initial connection time\)"),
            "failed": int(num(r"number of failed transactions: (\d+)")),
            "transactions": int(num(r"number of transactions actually processed: (\d+)"))}


def pgbench_script(url, clients, seconds, script, defines):
    """pgbench with a custom script (no vacuum of pgbench's tables first)."""
    with tempfile.NamedTemporaryFile("w", prefix="fairbeta-bench-", suffix=".sql",
                                     delete=False) as f:
        f.write(script)
    try:
        return pgbench(url, clients, seconds, "-n", "-f", f.name, *defines)
    finally:
        os.unlink(f.name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{ return 200 "ok"; }}
    }}
}}
"""


class Nginx:
    """nginx in a temporary prefix: `return 200 "ok"` on every path, one
    listening socket per worker (reuseport, as the API has one per loop),
    keep-alive without a request limit and a 300 s idle timeout."""

    def __init__(self, workers, connections, nofile):
        self.dir = tempfile.mkdtemp(prefix="fairbeta-nginx-")
        os.chmod(self.dir, 0o755)        # workers run as nobody
        self.port = free_port()
        self.workers = workers
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(workers=workers, connections=connections,
                                      nofile=nofile, dir=self.dir, port=self.port))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", self.conf,
                                      "-e", os.path.join(self.dir, "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: %s" % self.errors())
            if len(self.pids()) > self.workers:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("nginx did not start: %s" % self.errors())

    def errors(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def pids(self):
        """The master and its workers."""
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out
