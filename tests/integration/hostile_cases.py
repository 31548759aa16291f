"""Hostile inputs for test_hostile.py, derived from the OpenAPI document
(api/openapi.yaml, which the server embeds and serves as /v1/openapi.json):
every operation, its parameters and its request-body schema. Also a raw
HTTP/1.1 client (http.client normalises too much for this) and a small
validator for the JSON Schema keywords the document uses, so that a body is
only sent as hostile when the document itself says it is invalid."""

import decimal
import http.client
import json
import math
import os
import re
import socket

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC_PATH = os.path.join(ROOT, "api", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch")
# served by the metrics listener, not the API router (checked separately)
METRICS_ONLY = {("GET", "/metrics")}
TIMEOUT_S = 10           # a socket timeout, not a speed assertion: no answer by then is a hang
PLACEHOLDER = "\u2603HOSTILE\u2603"


def load_document():
    with open(DOC_PATH) as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


DOC = load_document()


def resolve(node, doc=DOC):
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


class Operation:
    def __init__(self, method, path, op, item):
        self.method = method.upper()
        self.path = path
        self.op_id = op["operationId"]
        self.roles = op.get("x-roles", [])
        self.responses = set(op.get("responses", {}))
        params = [resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
        self.path_params = [p for p in params if p["in"] == "path"]
        self.query_params = {p["name"]: p for p in params if p["in"] == "query"}
        self.headers = {p["name"].lower(): p for p in params if p["in"] == "header"}
        rb = resolve(op.get("requestBody")) if op.get("requestBody") else None
        self.body_required = bool(rb and rb.get("required"))
        self.schema = None
        self.examples = []
        if rb:
            content = rb["content"]["application/json"]
            self.schema = content["schema"]
            if "example" in content:
                self.examples = [("example", content["example"])]
            else:
                self.examples = [(k, v["value"]) for k, v in content.get("examples", {}).items()]

    @property
    def public(self):
        return "anyone" in self.roles

    @property
    def key(self):
        return (self.method, self.path)

    @property
    def name(self):
        return "%s %s %s" % (self.op_id, self.method, self.path)

    def __repr__(self):
        return self.name


def operations(doc=DOC):
    """Every operation the document describes, /metrics (another listener) aside."""
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS and (method.upper(), path) not in METRICS_ONLY:
                ops.append(Operation(method, path, op, item))
    return ops


OPERATIONS = operations()
BY_ID = {o.op_id: o for o in OPERATIONS}
PATHS = sorted({o.path for o in OPERATIONS})


def allowed_methods(path):
    return {o.method for o in OPERATIONS if o.path == path}


# ---- a validator for the keywords the document uses ----

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
RFC3339_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                        r"([Zz]|([+-])(\d{2}):(\d{2}))$")


def valid_datetime(s):
    """RFC 3339, a real calendar date, and an offset PostgreSQL can hold (at most 15:59)."""
    m = RFC3339_RE.match(s)
    if not m:
        return False
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and sec <= 60 and y >= 1):
        return False
    import calendar
    if d > calendar.monthrange(y, mo)[1]:
        return False
    if m.group(9) and (int(m.group(10)) > 15 or int(m.group(11)) > 59):
        return False
    return True


def _is_type(v, t):
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float) and not math.isfinite(v):
        return False
    if t == "number":
        return True
    if t == "integer":
        return isinstance(v, int) or v.is_integer()
    raise AssertionError("unknown type %r" % t)


def valid(schema, v):
    """True when v satisfies schema. A string holding U+0000 or an infinite
    number is never valid: neither can be stored (PostgreSQL text, JSON)."""
    s = resolve(schema)
    if s is True or s == {}:
        return not (isinstance(v, str) and "\0" in v)
    for sub in s.get("allOf", []):
        if not valid(sub, v):
            return False
    if "anyOf" in s and not any(valid(x, v) for x in s["anyOf"]):
        return False
    if "oneOf" in s and sum(1 for x in s["oneOf"] if valid(x, v)) != 1:
        return False
    if "not" in s and valid(s["not"], v):
        return False
    if "const" in s and v != s["const"]:
        return False
    if "enum" in s and v not in s["enum"]:
        return False
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is_type(v, t) for t in types):
            return False
    if isinstance(v, str):
        if "\0" in v:
            return False
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 62):
            return False
        if "pattern" in s and not re.search(s["pattern"], v):
            return False
        fmt = s.get("format")
        if fmt == "uuid" and not UUID_RE.match(v):
            return False
        if fmt == "date-time" and not valid_datetime(v):
            return False
        if fmt == "email" and ("@" not in v or any(ord(c) < 0x21 or 0x7f <= ord(c) <= 0x9f
                                                   for c in v)):
            return False
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        if isinstance(v, float) and not math.isfinite(v):
            return False
        if "minimum" in s and v < s["minimum"]:
            return False
        if "maximum" in s and v > s["maximum"]:
            return False
        if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
            return False
        if "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]:
            return False
        if "multipleOf" in s:
            q = decimal.Decimal(repr(v)) / decimal.Decimal(repr(s["multipleOf"]))
            if q != q.to_integral_value():
                return False
        if s.get("format") == "int64" and not (-(1 << 63) <= v <= (1 << 63) - 1):
            return False
    elif isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", 1 << 62):
            return False
        if s.get("uniqueItems") and len({json.dumps(x, sort_keys=True) for x in v}) != len(v):
            return False
        if "items" in s and not all(valid(s["items"], x) for x in v):
            return False
    elif isinstance(v, dict):
        if len(v) < s.get("minProperties", 0) or len(v) > s.get("maxProperties", 1 << 62):
            return False
        for r in s.get("required", []):
            if r not in v:
                return False
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        for k, x in v.items():
            if k in props:
                if not valid(props[k], x):
                    return False
            elif extra is False:
                return False
            elif isinstance(extra, dict) and not valid(extra, x):
                return False
    return True


def object_schema(schema):
    """The schema itself, or the first allOf/oneOf member that declares properties."""
    s = resolve(schema)
    if "properties" in s or "additionalProperties" in s or "maxProperties" in s:
        return s
    for k in ("allOf", "oneOf", "anyOf"):
        for sub in s.get(k, []):
            r = object_schema(sub)
            if r is not None:
                return r
    return s


def types_of(schema):
    s = resolve(schema)
    if "type" in s:
        return set(s["type"]) if isinstance(s["type"], list) else {s["type"]}
    out = set()
    for k in ("allOf", "oneOf", "anyOf"):
        for sub in s.get(k, []):
            out |= types_of(sub)
    return out


# ---- body mutations ----

def set_at(body, path, value):
    """A deep copy of body with the member at path (a tuple of keys and indexes)
    replaced by value, or removed when value is REMOVE."""
    body = json.loads(json.dumps(body))
    node = body
    for p in path[:-1]:
        node = node[p]
    if value is REMOVE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


REMOVE = object()


def fields(schema, value, path=()):
    """(path, schema, value) for every member the base value has, at any depth
    (objects by property, arrays by their first item), with the schema of its
    parent object: the fields whose types and contents get mutated."""
    out = []
    s = object_schema(schema)
    if isinstance(value, dict):
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        for k, v in value.items():
            sub = props.get(k, extra if isinstance(extra, dict) else {})
            out.append((path + (k,), sub, v))
            out.extend(fields(sub, v, path + (k,)))
    elif isinstance(value, list) and value:
        sub = resolve(schema).get("items", {})
        out.append((path + (0,), sub, value[0]))
        out.extend(fields(sub, value[0], path + (0,)))
    return out


def objects(schema, value, path=()):
    """(path, schema) of every object in the base value, the body itself first."""
    out = []
    if isinstance(value, dict):
        out.append((path, object_schema(schema)))
        props = object_schema(schema).get("properties", {})
        extra = object_schema(schema).get("additionalProperties", True)
        for k, v in value.items():
            out.extend(objects(props.get(k, extra if isinstance(extra, dict) else {}), v,
                               path + (k,)))
    elif isinstance(value, list) and value:
        out.extend(objects(resolve(schema).get("items", {}), value[0], path + (0,)))
    return out


def label(path):
    return ".".join(str(p) for p in path) or "(body)"


WRONG_TYPES = [("int", 1), ("float", 1.5), ("true", True), ("null", None), ("array", []),
               ("object", {}), ("string", "x"), ("numeric-string", "1"), ("empty-string", ""),
               ("array-of-object", [{}])]

# raw JSON number texts: (name, text); json.dumps cannot write most of them
NUMBERS = [("1e400", "1e400"), ("-1e400", "-1e400"), ("1e-300", "1e-300"), ("-0", "-0"),
           ("-0.0", "-0.0"), ("0.1+0.2", "0.30000000000000004"), ("2^63", "9223372036854775808"),
           ("-2^63-1", "-9223372036854775809"), ("1e308", "1e308"), ("2^64", "18446744073709551616"),
           ("10^30", "1000000000000000000000000000000"), ("-1", "-1"), ("0.001", "0.001"),
           ("2^53+1", "9007199254740993"), ("1.5", "1.5"), ("-2^63", "-9223372036854775808")]
# texts that are not JSON numbers at all (malformed: 400)
NOT_NUMBERS = [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"),
               ("hex", "0x10"), ("leading-zero", "01"), ("plus", "+1"), ("dot", ".5"),
               ("trailing-dot", "1."), ("bare-e", "1e")]


def hostile_strings(schema):
    """(name, value) strings, each only where the document says it is invalid."""
    s = resolve(schema)
    maxlen = s.get("maxLength")
    cands = [("nul", "a\u0000b"), ("nul-only", "\u0000"), ("c1-0085", "a\u0085b"),
             ("c1-009b", "a\u009bb"), ("c1-0080", "\u0080"), ("c1-009f", "x\u009f"),
             ("c0-bel", "a\u0007b"), ("del", "a\u007fb"), ("newline", "a\nb"), ("tab", "a\tb"),
             ("cr", "a\rb"), ("empty", ""), ("space-only", " "),
             ("not-a-uuid", "not-a-uuid"), ("uuid-braces", "{7c9e6679-7425-40de-944b-e07fc1f90ae7}"),
             ("bad-month", "2026-13-01T00:00:00Z"), ("feb-30", "2027-02-30T00:00:00Z"),
             ("hour-24", "2027-01-01T24:00:00Z"), ("offset-16", "2027-01-01T00:00:00+16:00"),
             ("offset--16", "2027-01-01T00:00:00-16:00"), ("no-offset", "2027-01-01T00:00:00"),
             ("date-only", "2027-01-01"), ("year-0", "0000-01-01T00:00:00Z"),
             ("year-99999", "99999-01-01T00:00:00Z"), ("space-sep", "2027-01-01 00:00:00Z"),
             ("javascript-uri", "javascript:alert(1)"), ("uri-with-c1", "https://a.example/\u0085")]
    if maxlen is not None:
        cands.append(("maxlen+1", "a" * (maxlen + 1)))
        cands.append(("maxlen+1-multibyte", "\u00e9" * (maxlen + 1)))
        cands.append(("maxlen*100", "a" * min(maxlen * 100, 200000)))
    else:
        cands.append(("200k", "a" * 200000))
    return [(n, v) for n, v in cands if not valid(schema, v)]


def dump(body):
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def with_raw(body, path, raw_text):
    """The body's JSON text with the member at path written as raw_text."""
    text = json.dumps(set_at(body, path, PLACEHOLDER), ensure_ascii=False)
    return text.replace(json.dumps(PLACEHOLDER, ensure_ascii=False), raw_text, 1).encode("utf-8")


def unknown_members(schema, base):
    """Bodies with one member the document does not allow, at every object level."""
    out = []
    for path, s in objects(schema, base):
        extra = s.get("additionalProperties", True)
        if extra is not False and s.get("maxProperties") is None:
            continue
        props = s.get("properties", {})
        node = base
        for p in path:
            node = node[p]
        for name, key, val in [("zz", "zz", 1), ("empty-name", "", 1), ("proto", "__proto__", {}),
                               ("null-value", "zz", None), ("nul-name", "z\u0000z", 1),
                               ("long-name", "z" * 5000, 1)]:
            if key in props:
                continue
            out.append(("%s+%s" % (label(path), name), dump(set_at(base, path + (key,), val))))
        for prop in props:
            for variant in (prop.upper(), prop + " ", prop + "\u0000"):
                if variant not in props and variant not in node:
                    b = set_at(base, path + (variant,), node.get(prop, 1))
                    out.append(("%s+%r" % (label(path), variant), dump(b)))
                    break
    return out


def body_cases(schema, base, cls):
    """(name, raw body bytes, expected statuses) of one class for one base body;
    every body is invalid according to the document."""
    out = []
    if cls == "unknown":
        # a NUL is refused as malformed (400) or as a field problem (422)
        out = [(n, b, {400, 422} if "nul" in n else {422}) for n, b in unknown_members(schema, base)]
    elif cls == "types":
        for path, sub, _ in fields(schema, base):
            for n, v in WRONG_TYPES:
                b = set_at(base, path, v)
                if not valid(schema, b):
                    out.append(("%s=%s" % (label(path), n), dump(b), {422}))
        for path, sub, _ in fields(schema, base):
            b = set_at(base, path, REMOVE)
            if not valid(schema, b):
                out.append(("%s-missing" % label(path), dump(b), {422}))
    elif cls == "numbers":
        for path, sub, _ in fields(schema, base):
            if not types_of(sub) & {"integer", "number"}:
                continue
            for n, text in NUMBERS:
                if not valid(schema, set_at(base, path, json.loads(text))):
                    out.append(("%s=%s" % (label(path), n), with_raw(base, path, text),
                                {400, 422}))
            for n, text in NOT_NUMBERS:
                out.append(("%s=%s" % (label(path), n), with_raw(base, path, text), {400}))
    elif cls == "strings":
        for path, sub, _ in fields(schema, base):
            if "string" not in types_of(sub):
                continue
            for n, v in hostile_strings(sub):
                b = set_at(base, path, v)
                if not valid(schema, b):
                    out.append(("%s=%s" % (label(path), n), dump(b),
                                {400, 422} if "\0" in v else {422}))
            # a lone surrogate is not Unicode: 400 (malformed) or 422
            for n, text in [("lone-high", '"a\\ud800b"'), ("lone-low", '"\\udc00"'),
                            ("reversed-pair", '"\\udc00\\ud800"'), ("escaped-nul", '"\\u0000"')]:
                out.append(("%s=%s" % (label(path), n), with_raw(base, path, text), {400, 422}))
    elif cls == "encoding":
        # bytes that are not UTF-8, inside the first string member
        strs = [p for p, sub, v in fields(schema, base) if isinstance(v, str)]
        targets = strs[:1] or [None]
        for path in targets:
            for n, raw in [("invalid-ff", b"\xff\xfe"), ("overlong-slash", b"\xc0\xaf"),
                           ("overlong-nul", b"\xc0\x80"), ("cesu-surrogate", b"\xed\xa0\x80"),
                           ("truncated", b"\xe2\x82"), ("latin1", b"caf\xe9"),
                           ("over-max-codepoint", b"\xf4\x90\x80\x80"), ("5-byte", b"\xf8\x88\x80\x80\x80")]:
                if path is None:
                    out.append((n, b'{"zz":"' + raw + b'"}', {400}))
                else:
                    text = with_raw(base, path, '"' + PLACEHOLDER + '"')
                    out.append(("%s=%s" % (label(path), n),
                                text.replace(PLACEHOLDER.encode(), raw), {400}))
    return out


def syntax_cases(base, body_required):
    """Bodies that are not one JSON object: 400 (malformed), or 422 (JSON, not an object)."""
    text = dump(base)
    bad_base = dump(dict(base, zz=1)) if isinstance(base, dict) else b'{"zz":1}'
    out = [("truncated", text[:-1], {400}), ("trailing-garbage", text + b"x", {400}),
           ("trailing-object", text + b"{}", {400}), ("two-documents", text + b"\n" + text, {400}),
           ("trailing-nul", text + b"\0", {400}), ("single-quotes", text.replace(b'"', b"'"), {400}),
           ("comment", b"/*x*/" + text, {400}), ("trailing-comma", text[:-1] + b",}", {400}),
           ("unquoted-key", b"{zz:1}", {400}), ("just-brace", b"{", {400}),
           ("garbage", b"\x00\x01\x02\x03", {400}), ("xml", b"<a/>", {400}),
           ("whitespace-only", b"   \n", {400}),
           ("array", b"[]", {400, 422}), ("array-of-body", b"[" + text + b"]", {400, 422}),
           ("string", b'"x"', {400, 422}), ("number", b"1", {400, 422}),
           ("null", b"null", {400, 422}), ("true", b"true", {400, 422}),
           ("deep-array-10k", b"[" * 10000 + b"]" * 10000, {400, 413, 422}),
           ("deep-object-10k", b'{"a":' * 10000 + b"1" + b"}" * 10000, {400, 413, 422}),
           ("deep-unclosed-10k", b"[" * 10000, {400, 413}),
           ("bom+invalid", b"\xef\xbb\xbf" + bad_base, {400, 422}),
           ("utf16le-bom", b"\xff\xfe" + text.decode().encode("utf-16-le"), {400})]
    if isinstance(base, dict) and base:
        k = next(iter(base))
        dup = text[:-1] + b"," + json.dumps(k).encode() + b":" + json.dumps(base[k]).encode() + b"}"
        out.append(("duplicate-key-same", dup, {400, 422}))
        dup2 = text[:-1] + b"," + json.dumps(k).encode() + b":{}}"
        out.append(("duplicate-key-other", dup2, {400, 422}))
    else:
        out.append(("duplicate-key", b'{"zz":1,"zz":1}', {400, 422}))
    if body_required:
        out.append(("empty", b"", {400, 422}))
    return [c for c in out if c[1] != text]      # e.g. no quotes to replace in "{}"


# ---- raw HTTP ----

class Answer:
    def __init__(self, status, headers, body, raw_head=b""):
        self.status, self.headers, self.body, self.raw_head = status, headers, body, raw_head

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_named(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<%s %s %r>" % (self.status, self.header("Content-Type"), self.body[:160])


class NoAnswer(Exception):
    pass


def raw_request(port, data, method="GET", half_close=False, timeout=TIMEOUT_S):
    """Sends bytes as they are; returns the first answer, or raises NoAnswer
    (connection closed without a status line, or no answer within timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass               # the server may close early (e.g. a huge body): read what it said
        if half_close:
            s.shutdown(socket.SHUT_WR)
        r = http.client.HTTPResponse(s, method=method)
        try:
            r.begin()
            body = b"" if method == "HEAD" else r.read()
        except socket.timeout:
            raise NoAnswer("no answer within %d s (hang)" % timeout)
        except (http.client.HTTPException, ConnectionError) as e:
            raise NoAnswer("no HTTP answer: %r" % e)
        return Answer(r.status, r.getheaders(), body)


def build(method, target, headers=(), body=None, version="HTTP/1.1", content_length=True):
    """A request's bytes. headers: (name, value) pairs, values str or bytes."""
    lines = [("%s %s %s" % (method, target, version)).encode("latin-1")
             if isinstance(target, str) else method.encode() + b" " + target + b" " + version.encode()]
    names = {n.lower() if isinstance(n, str) else n.decode().lower() for n, _ in headers}
    if "host" not in names:
        lines.append(b"Host: 127.0.0.1")
    if "connection" not in names:
        lines.append(b"Connection: close")
    for n, v in headers:
        n = n.encode("latin-1") if isinstance(n, str) else n
        v = v.encode("latin-1") if isinstance(v, str) else v
        lines.append(n + b": " + v)
    if body is not None and content_length and "content-length" not in names \
            and "transfer-encoding" not in names:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
