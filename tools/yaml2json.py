#!/usr/bin/python3
"""Convert a YAML document to compact JSON.

Usage: yaml2json.py INPUT.yaml [OUTPUT.json]

Writes to OUTPUT.json if given (atomically, via a temporary file in the same
directory), else to standard output. The build uses it to turn
api/openapi.yaml into the JSON that the server embeds and serves at
/v1/openapi.json.

Only plain YAML is accepted: the file must hold exactly one document, and
every value must be representable in JSON (mapping keys are strings; no
timestamps, binary or sets). A failure prints one clear line to standard
error and exits with status 1, so make stops instead of embedding a broken
document. Needs Debian's python3-yaml.
"""

import datetime
import json
import os
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.stderr.write("yaml2json: the Python 'yaml' module is missing "
                     "(apt-get install python3-yaml)\n")
    sys.exit(1)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader that keeps YAML timestamps as the strings they were.

    An OpenAPI example such as 2026-01-01T00:00:00Z must stay a string, not
    become a datetime that JSON cannot hold.
    """


def _construct_mapping(loader, node, deep=False):
    """Build a mapping, refusing duplicate keys (PyYAML keeps the last)."""
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            dup = key in seen
        except TypeError:
            dup = False
        if dup:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found duplicate key %r" % (key,), key_node.start_mark)
        try:
            seen.add(key)
        except TypeError:
            pass
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node))
_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check(node, path):
    """Reject values that JSON cannot represent faithfully."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise ValueError("%s: mapping key %r is not a string"
                                 % (path or "/", key))
            _check(value, path + "/" + key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check(value, "%s/%d" % (path, i))
    elif isinstance(node, float):
        if node != node or node in (float("inf"), float("-inf")):
            raise ValueError("%s: %r has no JSON form" % (path or "/", node))
    elif node is None or isinstance(node, (str, bool, int)):
        pass
    elif isinstance(node, (datetime.date, bytes, set)):
        raise ValueError("%s: a %s value has no JSON form"
                         % (path or "/", type(node).__name__))
    else:
        raise ValueError("%s: unsupported value of type %s"
                         % (path or "/", type(node).__name__))


def convert(src):
    """Return the compact JSON text of the YAML file at src."""
    with open(src, "r", encoding="utf-8") as f:
        docs = list(yaml.load_all(f, Loader=_Loader))
    if len(docs) != 1:
        raise ValueError("expected exactly one YAML document, found %d"
                         % len(docs))
    doc = docs[0]
    _check(doc, "")
    # ASCII-only output (non-ASCII as \uXXXX) is safe to embed in C.
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":"),
                      allow_nan=False) + "\n"


def write_atomically(dst, text):
    d = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=".yaml2json.", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: yaml2json.py INPUT.yaml [OUTPUT.json]\n")
        return 2
    src = argv[1]
    try:
        text = convert(src)
    except OSError as e:
        sys.stderr.write("yaml2json: %s: %s\n" % (src, e.strerror or e))
        return 1
    except yaml.YAMLError as e:
        sys.stderr.write("yaml2json: %s: invalid YAML: %s\n"
                         % (src, " ".join(str(e).split())))
        return 1
    except (ValueError, UnicodeDecodeError) as e:
        sys.stderr.write("yaml2json: %s: %s\n" % (src, e))
        return 1
    if len(argv) == 3:
        try:
            write_atomically(argv[2], text)
        except OSError as e:
            sys.stderr.write("yaml2json: %s: %s\n"
                             % (argv[2], e.strerror or e))
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
