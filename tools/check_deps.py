#!/usr/bin/python3
"""check-deps: the include graph between the modules of api/, lib/, workers/
and admin/ (`make check-deps`, issue 12).

A module is a .h/.c pair with one basename in one directory (api/idem.h +
api/idem.c = api/idem); a .c or .h without its partner is a module alone
(api/h_ledger.c, api/handlers.h). Module A depends on module B when A's .h or
.c has `#include "B.h"`. A quoted name resolves as the compiler resolves it:
first in the includer's own directory, then along the Makefile's -I list in
its order. <system> includes, headers found outside the module directories
(the generated ones under build/) and headers found nowhere are not edges.

It fails (exit 1) on
  - any cycle in that graph: it prints every elementary cycle (up to
    --max-cycles) and the members of each strongly connected component;
  - a handler including another handler's header: api/h_X.c (and api/h_X.h)
    may include no h_*.h but h_X.h.
It also lists, as information only, the functions a handler (api/h_*.c) calls
that another handler defines (non-static, the return type on its own line and
the name at the start of the next, as this project writes definitions).

Standard library only. `--root DIR` checks another tree (the tests use small
ones); `--include-dirs lib api ...` replaces the -I list read from DIR/Makefile.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

MODULE_DIRS = ("api", "lib", "workers", "admin")
HANDLER_DIR = "api"
HANDLER_RE = re.compile(r"^h_\w+\.[ch]$")
INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"', re.M)
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else", "case",
            "goto", "_Alignof", "_Generic", "_Static_assert", "defined"}


# ---- reading C ----------------------------------------------------------

def strip_c(text, strings=False):
    """text with comments (and, if strings, the insides of string and char
    literals) blanked to spaces; newlines are kept, so line numbers hold."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            lit = text[i:j]
            if strings and len(lit) >= 2:
                lit = lit[0] + re.sub(r"[^\n]", " ", lit[1:-1]) + lit[-1]
            out.append(lit)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_if0(text):
    """text with `#if 0` ... `#endif` blocks blanked (an #else of one kept)."""
    lines = text.split("\n")
    depth = 0          # nesting inside a dead #if 0 block (0: live)
    for k, line in enumerate(lines):
        d = re.match(r"^\s*#\s*(\w+)(.*)$", line)
        word = d.group(1) if d else ""
        if depth == 0:
            if word == "if" and d.group(2).strip() == "0":
                depth = 1
                lines[k] = ""
            continue
        if word in ("if", "ifdef", "ifndef"):
            depth += 1
        elif word == "endif":
            depth -= 1
        elif word in ("else", "elif") and depth == 1:
            depth = 0      # the #else branch of `#if 0` is live
        lines[k] = ""
    return "\n".join(lines)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def quoted_includes(path):
    """[(line, name)] of the `#include "name"` lines of a C file."""
    text = drop_if0(strip_c(read(path)))
    return [(text.count("\n", 0, m.start()) + 1, m.group(1))
            for m in INCLUDE_RE.finditer(text)]


# ---- the -I list ----------------------------------------------------------

def makefile_include_dirs(root):
    """The -I directories of the Makefile's CFLAGS/CPPFLAGS, in order, as paths
    relative to root; $(VAR)s defined in the Makefile are expanded, flags that
    stay dynamic ($(shell ...)) or lie outside root are dropped."""
    path = os.path.join(root, "Makefile")
    if not os.path.exists(path):
        return None
    text = read(path).replace("\\\n", " ")
    assign = re.compile(r"^(?:override\s+)?([A-Za-z_][\w]*)\s*([?:+]?=)\s*(.*)$")
    simple = {}
    flags = []
    for line in text.splitlines():
        line = re.sub(r"(?<!\\)#.*$", "", line)
        m = assign.match(line)
        if not m:
            continue
        name, op, value = m.groups()
        if name in ("CFLAGS", "CPPFLAGS"):
            flags.append(value)
        elif op != "+=" and name not in simple:
            simple[name] = value.strip()

    def expand(s, depth=0):
        if depth > 10:
            return s
        new = re.sub(r"\$[({]([A-Za-z_]\w*)[)}]",
                     lambda m: simple.get(m.group(1), m.group(0)), s)
        return s if new == s else expand(new, depth + 1)

    dirs = []
    for value in flags:
        for tok in re.findall(r"-I\s*((?:\$\([^)]*\)|\$\{[^}]*\}|[^\s$])+)", value):
            tok = expand(tok)
            if "$" in tok or os.path.isabs(tok):
                continue
            d = os.path.normpath(tok)
            if d.startswith("..") or d in dirs:
                continue
            dirs.append(d)
    return dirs


# ---- the graph ------------------------------------------------------------

class Tree:
    def __init__(self, root, module_dirs, include_dirs):
        self.root = root
        self.module_dirs = [d for d in module_dirs if os.path.isdir(os.path.join(root, d))]
        self.include_dirs = include_dirs
        self.files = []             # "api/http.c", ...
        for d in self.module_dirs:
            for f in sorted(os.listdir(os.path.join(root, d))):
                if f.endswith((".c", ".h")) and os.path.isfile(os.path.join(root, d, f)):
                    self.files.append(d + "/" + f)
        self.modules = sorted({f[:-2] for f in self.files})
        self.edges = defaultdict(dict)   # A -> {B: [(file, line, name)]}
        self.includes = []               # (file, line, name, resolved or None)
        self.unresolved = []             # (file, line, name)
        for f in self.files:
            for line, name in quoted_includes(os.path.join(root, f)):
                target = self.resolve(f, name)
                self.includes.append((f, line, name, target))
                if target is None:
                    self.unresolved.append((f, line, name))
                    continue
                a, b = f[:-2], target[:-2]
                if b in self.modules and a != b and target.endswith(".h"):
                    self.edges[a].setdefault(b, []).append((f, line, name))

    def resolve(self, includer, name):
        """The root-relative path `#include "name"` in includer finds, or None."""
        for d in [os.path.dirname(includer)] + list(self.include_dirs):
            p = os.path.normpath(os.path.join(d, name))
            if os.path.isfile(os.path.join(self.root, p)):
                return p.replace(os.sep, "/")
        return None

    def edge_count(self):
        return sum(len(v) for v in self.edges.values())


def sccs(nodes, adj):
    """Tarjan's strongly connected components of the graph (iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(adj.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(adj.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


class TooMany(Exception):
    pass


def elementary_cycles(nodes, adj, limit=0):
    """(cycles, truncated): every elementary cycle (Johnson, 1975), each as
    [n0, ..., n0] with n0 its least node, shortest first; at most `limit` of
    them (0: no limit), truncated saying whether there were more."""
    order = sorted(nodes)
    rank = {v: i for i, v in enumerate(order)}
    found = []
    for s in order:
        allowed = {v for v in order if rank[v] >= rank[s]}
        sub = {v: [w for w in adj.get(v, ()) if w in allowed] for v in allowed}
        comp = next(c for c in sccs(sorted(allowed), sub) if s in c)
        comp = set(comp)
        if len(comp) == 1 and s not in sub[s]:
            continue
        blocked, bmap, path = set(), defaultdict(set), []

        def unblock(u):
            todo = [u]
            while todo:
                x = todo.pop()
                if x in blocked:
                    blocked.discard(x)
                    todo.extend(bmap.pop(x, ()))

        def circuit(v):
            closed = False
            path.append(v)
            blocked.add(v)
            for w in sorted(sub[v]):
                if w not in comp:
                    continue
                if w == s:
                    found.append(path + [s])
                    if limit and len(found) > limit:
                        raise TooMany()
                    closed = True
                elif w not in blocked and circuit(w):
                    closed = True
            if closed:
                unblock(v)
            else:
                for w in sub[v]:
                    if w in comp:
                        bmap[w].add(v)
            path.pop()
            return closed

        try:
            circuit(s)
        except TooMany:
            return sorted(found[:limit], key=lambda c: (len(c), c)), True
    return sorted(found, key=lambda c: (len(c), c)), False


# ---- handlers -------------------------------------------------------------

def is_handler(path):
    d, f = os.path.split(path)
    return d == HANDLER_DIR and bool(HANDLER_RE.match(f))


def forbidden_includes(tree):
    """[(file, line, name)]: a handler (api/h_X.c or api/h_X.h) including an
    h_*.h that is not its own h_X.h."""
    bad = []
    for f, line, name, _target in tree.includes:
        if not is_handler(f):
            continue
        base = os.path.basename(name)
        own = os.path.basename(f)[:-2] + ".h"
        if re.match(r"^h_\w*\.h$", base) and base != own:
            bad.append((f, line, name))
    return bad


DEF_TYPE_RE = re.compile(r"^[A-Za-z_][\w \t*]*$")
DEF_NAME_RE = re.compile(r"^([A-Za-z_]\w*)\s*\(")


def function_definitions(text):
    """({name: line} of non-static definitions, {names of static ones}) in C
    text (comments and strings blanked): the name at column 0 of a line whose
    previous line is the return type, and a `{` before any `;`."""
    lines = text.split("\n")
    public, private = {}, set()
    for k in range(1, len(lines)):
        m = DEF_NAME_RE.match(lines[k])
        if not m or m.group(1) in KEYWORDS:
            continue
        prev = lines[k - 1].rstrip()
        if not prev or not DEF_TYPE_RE.match(prev) or prev.lstrip().startswith("#"):
            continue
        words = set(re.findall(r"\w+", prev))
        if words & {"return", "typedef", "else", "goto", "case"}:
            continue
        rest = "\n".join(lines[k:])
        brace, semi = rest.find("{"), rest.find(";")
        if brace < 0 or (0 <= semi < brace):
            continue                    # a prototype, not a definition
        if words & {"static", "extern"}:
            private.add(m.group(1))
        else:
            public.setdefault(m.group(1), k + 1)
    return public, private


def cross_handler_calls(tree):
    """[(caller file, name, definer file, [lines])] where one api/h_*.c calls
    a non-static function that another api/h_*.c defines."""
    handlers = [f for f in tree.files if is_handler(f) and f.endswith(".c")]
    texts = {f: strip_c(read(os.path.join(tree.root, f)), strings=True) for f in handlers}
    defs = {f: function_definitions(texts[f]) for f in handlers}
    out = []
    for definer in handlers:
        for name in sorted(defs[definer][0]):
            call = re.compile(r"(?<![\w.>])%s\s*\(" % re.escape(name))
            for caller in handlers:
                if caller == definer:
                    continue
                pub, priv = defs[caller]
                if name in pub or name in priv:
                    continue            # its own function of that name
                text = texts[caller]
                lines = sorted({text.count("\n", 0, m.start()) + 1
                                for m in call.finditer(text)})
                if lines:
                    out.append((caller, name, definer, lines))
    return sorted(out)


# ---- main -----------------------------------------------------------------

def split_list(values):
    out = []
    for v in values or ():
        out.extend(p for p in re.split(r"[,\s]+", v) if p)
    return out


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.dirname(here),
                    help="the tree to check (default: this project)")
    ap.add_argument("--include-dirs", nargs="+", metavar="DIR",
                    help="the -I directories, in order, relative to --root "
                         "(default: the -I flags of ROOT/Makefile's CFLAGS/CPPFLAGS, "
                         "else lib api workers admin)")
    ap.add_argument("--module-dirs", nargs="+", metavar="DIR",
                    help="the directories whose files are modules (default: %s)"
                         % " ".join(MODULE_DIRS))
    ap.add_argument("--max-cycles", type=int, default=500,
                    help="print at most this many elementary cycles (0: all)")
    ap.add_argument("--edges", action="store_true", help="also print every edge")
    args = ap.parse_args(argv)

    root = os.path.abspath(args.root)
    if not os.path.isdir(root):
        ap.error("no directory %s" % root)
    if args.include_dirs is not None:
        include_dirs = [os.path.normpath(d) for d in split_list(args.include_dirs)]
    else:
        include_dirs = makefile_include_dirs(root)
        if include_dirs is None:
            include_dirs = list(MODULE_DIRS)
    module_dirs = split_list(args.module_dirs) if args.module_dirs else list(MODULE_DIRS)

    tree = Tree(root, module_dirs, include_dirs)
    adj = {a: sorted(bs) for a, bs in tree.edges.items()}

    if args.edges:
        for a in sorted(adj):
            for b in adj[a]:
                where = ", ".join("%s:%d" % (f, line) for f, line, _ in tree.edges[a][b])
                print("edge: %s -> %s (%s)" % (a, b, where))

    for f, line, name in tree.unresolved:
        print("check-deps: note: %s:%d includes \"%s\", found in no include directory "
              "(not an edge)" % (f, line, name), file=sys.stderr)

    components = [c for c in sccs(tree.modules, adj)
                  if len(c) > 1 or c[0] in adj.get(c[0], ())]
    components.sort()
    cycles, more = [], False
    for comp in components:
        sub = {v: [w for w in adj.get(v, ()) if w in comp] for v in comp}
        room = args.max_cycles - len(cycles) if args.max_cycles else 0
        if args.max_cycles and room <= 0:
            more = True
            break
        found, truncated = elementary_cycles(comp, sub, room)
        cycles.extend(found)
        more = more or truncated
    for c in cycles:
        print("cycle: " + " -> ".join(c))
    if more:
        print("cycle: ... more not shown (--max-cycles %d; 0 shows all)" % args.max_cycles)
    for comp in components:
        print("strongly connected (%d modules): %s" % (len(comp), " ".join(comp)))

    bad = forbidden_includes(tree)
    for f, line, name in bad:
        own = os.path.basename(f)[:-2] + ".h"
        print("forbidden: %s:%d includes \"%s\": a handler may include no h_*.h but its "
              "own %s" % (f, line, name, own))

    for caller, name, definer, lines in cross_handler_calls(tree):
        print("info: %s calls %s() defined in %s (line%s %s)"
              % (caller, name, definer, "s" if len(lines) > 1 else "",
                 ", ".join(map(str, lines))))

    head = "check-deps: %d modules, %d edges" % (len(tree.modules), tree.edge_count())
    if not components and not bad:
        print(head + ", no cycle, no handler imports a handler")
        return 0
    parts = [head]
    if components:
        parts.append("%s%d elementary cycle%s in %d strongly connected component%s"
                     % ("at least " if more else "", len(cycles),
                        "" if len(cycles) == 1 else "s", len(components),
                        "" if len(components) == 1 else "s"))
    else:
        parts.append("no cycle")
    if bad:
        parts.append("%d handler include%s of another handler's header"
                     % (len(bad), "" if len(bad) == 1 else "s"))
    else:
        parts.append("no handler imports a handler")
    print(", ".join(parts) + ": FAILED")
    return 1


if __name__ == "__main__":
    sys.exit(main())
