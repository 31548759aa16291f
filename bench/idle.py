"""Idle keep-alive connections, and what they cost a server in memory.

open_idle() is one event-driven client (non-blocking sockets, selectors):
it opens n connections, at most `inflight` of them connecting or waiting
for an answer at a time (so no listen backlog overflows), sends one
keep-alive GET on each, reads the whole answer, and then leaves the
connection open and idle. rss_kib() reads a process's resident set."""

import errno
import resource
import selectors
import socket
import time


def raise_nofile(want=65536):
    """Raises this process's open-file limit (inherited by the servers it
    starts) as far as the hard limit allows; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), max(hard, target)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


class Conn:
    def __init__(self, sock):
        self.sock, self.buf, self.status = sock, b"", None

    def complete(self):
        """The whole answer is in: its status, else None."""
        head, sep, body = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return None
        lines = head.split(b"\r\n")
        headers = dict(line.lower().split(b":", 1) for line in lines[1:] if b":" in line)
        length = headers.get(b"content-length")
        if length is not None:
            done = len(body) >= int(length)
        else:
            done = body.endswith(b"0\r\n\r\n")
        return int(lines[0].split()[1]) if done else None


def open_idle(port, n, path="/healthz", inflight=256, timeout=120):
    """(open sockets, answers that were not 200, failed connections)."""
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, port)).encode()
    sel = selectors.DefaultSelector()
    done, failed, not_ok, started = [], 0, 0, 0
    deadline = time.monotonic() + timeout

    def start():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            return False
        sel.register(s, selectors.EVENT_WRITE, Conn(s))
        return True

    while (started < n or sel.get_map()) and time.monotonic() < deadline:
        while started < n and len(sel.get_map()) < inflight:
            started += 1
            if not start():
                failed += 1
        for key, events in sel.select(timeout=1):
            c = key.data
            try:
                if events & selectors.EVENT_WRITE:
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, "connect")
                    c.sock.sendall(request)
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                data = c.sock.recv(65536)
                if not data:
                    raise OSError("closed before the answer")
                c.buf += data
                status = c.complete()
                if status is not None:
                    sel.unregister(c.sock)
                    done.append(c.sock)
                    not_ok += status != 200
            except OSError:
                sel.unregister(c.sock)
                c.sock.close()
                failed += 1
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        key.fileobj.close()
        failed += 1
    sel.close()
    return done, not_ok, failed + (n - started)


def still_open(socks):
    """How many of socks the server has not closed."""
    alive = 0
    for s in socks:
        try:
            alive += s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def close_all(socks):
    for s in socks:
        s.close()
