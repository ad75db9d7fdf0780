"""Path variables that API Gateway would reject at deploy time.

API Gateway stores routes as a tree of resources, and all children of one
resource that are path variables must share one name. /urls/{id} next to
/urls/{code}/redirect fails the deploy with an error that a sibling already
has a variable path part. chalice local and the test client accept such
routes, so only this test catches them before a deploy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from app import app


def conflicting_path_variables(paths: Iterable[str]) -> list[str]:
    """Describe each place where sibling path variables have different names."""
    variables: dict[str, set[str]] = {}
    for path in paths:
        parent = ""
        for segment in path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                variables.setdefault(parent or "/", set()).add(segment)
            parent = f"{parent}/{segment}"
    return [
        f"{parent} has path variables {sorted(names)}"
        for parent, names in sorted(variables.items())
        if len(names) > 1
    ]


def test_checker_finds_different_sibling_names() -> None:
    problems = conflicting_path_variables(
        ["/urls/{url_id}", "/urls/{short_code}/redirect", "/{short_code}"]
    )
    assert problems == ["/urls has path variables ['{short_code}', '{url_id}']"]


def test_checker_allows_same_name_at_different_parents() -> None:
    paths = ["/users/{id}", "/urls/{id}", "/urls/{id}/redirect", "/{code}"]
    assert conflicting_path_variables(paths) == []


@pytest.mark.parametrize(
    "paths",
    [
        ["/{a}", "/{b}"],
        ["/users/{user_id}/links/{a}", "/users/{user_id}/links/{b}/stats"],
    ],
)
def test_checker_finds_conflicts_at_any_depth(paths: list[str]) -> None:
    assert len(conflicting_path_variables(paths)) == 1


def test_app_routes_have_consistent_path_variables() -> None:
    assert conflicting_path_variables(app.routes) == []


def test_packaged_api_has_consistent_path_variables(packaged_template) -> None:
    # The swagger document is what API Gateway imports, blueprints included.
    body: dict[str, Any] = packaged_template["Resources"]["RestAPI"]["Properties"][
        "DefinitionBody"
    ]
    assert set(body["paths"]) == set(app.routes)
    assert conflicting_path_variables(body["paths"]) == []
