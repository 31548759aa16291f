"""The path a newcomer takes: the CLI makes an admin, who signs in and reads /v1/me."""


def test_admin_from_cli_signs_in_and_reads_me(api, admin):
    r = api.request("GET", "/v1/me", token=admin["token"])
    assert r.status == 200
    assert r.json["email"] == admin["email"]
    assert r.json["role"] == "admin"
    assert r.header("ETag")


def test_healthz_and_readyz(api):
    assert api.request("GET", "/healthz").json == {"status": "ok"}
    r = api.request("GET", "/readyz")
    assert r.status == 200
    assert r.json["migrations"] == "current"
