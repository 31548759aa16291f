"""The OpenAPI document the server serves describes exactly the route table
the server dispatches on (`fairbeta-api --routes`): the same paths, methods
and roles, in both directions."""

import os
import re
import subprocess

import pytest

from harness import BUILD

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ALL_ROLES = {"admin", "staff", "finance", "artist"}
# served by the metrics listener, so not in the API route table
METRICS_ONLY = {("GET", "/metrics")}
# public routes that also accept a token (filled from --routes)
TOKEN_OPTIONAL = set()


def normalise(path):
    """/v1/things/:id and /v1/things/{thing_id} both become /v1/things/{}."""
    return "/".join("{}" if seg.startswith(":") or re.fullmatch(r"\{[^{}/]+\}", seg) else seg
                    for seg in path.split("/"))


def roles_of(spec):
    """The set of roles a --routes entry or an x-roles list allows, or 'anyone'."""
    if spec in ("anyone", "anyone+token", ["anyone"]):
        return "anyone"
    if spec == ["any"]:
        return frozenset(ALL_ROLES)
    if isinstance(spec, str):
        spec = spec.split(",")
    return frozenset(spec)


@pytest.fixture(scope="module")
def route_table():
    out = subprocess.run([os.path.join(BUILD, "fairbeta-api"), "--routes"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    table = {}
    for line in out.stdout.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        assert len(parts) == 3, line
        method, pattern, roles = parts
        assert method in {m.upper() for m in HTTP_METHODS}, line
        assert pattern.startswith("/"), line
        key = (method, normalise(pattern))
        assert key not in table, "route listed twice: %s" % line
        table[key] = (pattern, roles_of(roles))
        if roles == "anyone+token":
            TOKEN_OPTIONAL.add(key)
    assert table
    return table


@pytest.fixture(scope="module")
def document(api):
    r = api.request("GET", "/v1/openapi.json")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("application/json")
    return r.json


@pytest.fixture(scope="module")
def operations(document):
    ops = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                key = (method.upper(), normalise(path))
                assert key not in ops, "operation described twice: %s %s" % (method, path)
                ops[key] = (path, op)
    return ops


def test_route_listing_has_the_known_routes(route_table):
    for key in [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v1/openapi.json"),
                ("POST", "/v1/sessions"), ("DELETE", "/v1/sessions/current"),
                ("GET", "/v1/me"), ("POST", "/v1/users"), ("GET", "/v1/audit")]:
        assert key in route_table, key
    assert ("GET", "/metrics") not in route_table


def test_document_is_openapi_31_json(document):
    assert document["openapi"].startswith("3.1"), document.get("openapi")
    assert document["info"]["title"]
    assert isinstance(document["paths"], dict) and document["paths"]


def test_every_route_is_in_the_document_with_its_method(route_table, operations):
    missing = sorted("%s %s" % (m, route_table[(m, p)][0]) for m, p in route_table
                     if (m, p) not in operations)
    assert not missing, "routes the document does not describe: %s" % missing


def test_every_route_has_the_same_roles_in_the_document(route_table, operations):
    wrong = []
    for key, (pattern, roles) in sorted(route_table.items()):
        if key not in operations:
            continue
        path, op = operations[key]
        assert "x-roles" in op, "%s %s has no x-roles" % (key[0], path)
        documented = roles_of(op["x-roles"])
        if documented != roles:
            wrong.append("%s %s: table %s, document %s" % (key[0], pattern,
                                                           sorted(roles) if roles != "anyone" else roles,
                                                           op["x-roles"]))
    assert not wrong, wrong


def test_every_documented_operation_is_a_route(route_table, operations):
    extra = sorted("%s %s" % (m, operations[(m, p)][0]) for m, p in operations
                   if (m, p) not in route_table and (m, p) not in METRICS_ONLY)
    assert not extra, "operations the server does not route: %s" % extra


def test_document_describes_metrics(document):
    assert "/metrics" in document["paths"]
    op = document["paths"]["/metrics"].get("get")
    assert op is not None
    assert roles_of(op.get("x-roles")) == "anyone"


def test_x_roles_use_only_known_names(operations):
    for (method, _), (path, op) in operations.items():
        roles = op.get("x-roles")
        assert isinstance(roles, list) and roles, (method, path)
        if "anyone" in roles or "any" in roles:
            assert len(roles) == 1, (method, path, roles)
        else:
            assert set(roles) <= ALL_ROLES, (method, path, roles)


def test_public_operations_need_no_security_and_others_document_401(route_table, operations):
    assert ("POST", "/v1/enrollments") in TOKEN_OPTIONAL
    for (method, npath), (path, op) in operations.items():
        roles = roles_of(op["x-roles"])
        if (method, npath) in TOKEN_OPTIONAL:
            # no token needed, but one given is checked: both alternatives
            assert {} in op.get("security", []), (method, path)
            assert {"bearerAuth": []} in op["security"], (method, path)
            assert "401" in op["responses"], (method, path)
        elif roles == "anyone":
            assert op.get("security") == [], (method, path)
        else:
            assert "security" not in op or op["security"], (method, path)
            assert "401" in op["responses"], (method, path)
            if roles != frozenset(ALL_ROLES):
                assert "403" in op["responses"], (method, path)


def test_operation_ids_are_unique(operations):
    ids = [op.get("operationId") for _, op in operations.values()]
    assert all(ids), ids
    assert len(ids) == len(set(ids)), ids


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_every_local_ref_resolves(document):
    for ref in set(_refs(document)):
        assert ref.startswith("#/"), ref
        node = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, "unresolved $ref %s" % ref
            node = node[part]


def test_served_document_matches_the_one_routes_are_checked_against(api, document):
    # the document is served identically on every request (embedded at build time)
    again = api.request("GET", "/v1/openapi.json")
    assert again.json == document
