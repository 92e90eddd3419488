"""Every route has its /openapi.json entry, and every entry a route."""

from __future__ import annotations

from gridjobs.api.app import ROUTES
from gridjobs.api.openapi import build_openapi


def test_every_route_is_documented_and_nothing_else_is():
    routes = {(r.path, m.lower()) for r in ROUTES for m in r.methods if m != "HEAD"}
    documented = {(path, method) for path, item in build_openapi()["paths"].items() for method in item
                  if method in ("get", "post", "put", "delete", "patch")}
    assert routes - documented == set(), "routes without an OpenAPI entry"
    assert documented - routes == set(), "OpenAPI entries without a route"
