"""Black-box contract cases replayed in order over HTTP on an empty database.

The cases file is a JSON list; CONTRACT_CASES overrides its path. Each case
may use values captured by earlier ones, so the cases run in file order
against one server.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO_ROOT

CASES_PATH = Path(
    os.environ.get("CONTRACT_CASES")
    or REPO_ROOT.parent / "shared" / "contract" / "cases.json"
)


# The cases file is a sample with gaps in its seq numbers. urls_list_by_user
# expects three links for {user_id}, but the sample creates only two before
# it, so this case adds a third create when seq 44 is absent.
STAND_INS = [
    {
        "name": "urls_create_third_stand_in",
        "method": "POST",
        "path": "/urls",
        "body": {
            "user_id": "{user_id}",
            "original_url": "https://example.com/contract/three",
            "title": "Contract Three",
        },
        "expect_status": 201,
        "capture": {"url3_id": "id"},
        "seq": 44,
    }
]


def _load_cases() -> list[dict[str, Any]]:
    if not CASES_PATH.exists():
        return []
    cases = json.loads(CASES_PATH.read_text())
    present = {case.get("seq") for case in cases}
    cases += [case for case in STAND_INS if case["seq"] not in present]
    return sorted(cases, key=lambda case: case.get("seq", 0))


CASES = _load_cases()
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def substitute(value: Any, captured: dict[str, Any]) -> Any:
    """Replace ``{name}`` with captured values; a whole placeholder keeps its type."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in captured:
            return captured[whole.group(1)]
        return _PLACEHOLDER.sub(
            lambda m: str(captured.get(m.group(1), m.group(0))), value
        )
    if isinstance(value, list):
        return [substitute(item, captured) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, captured) for key, item in value.items()}
    return value


def send(base_url: str, case: dict[str, Any], captured: dict) -> requests.Response:
    """Send one case's request as the cases file describes it."""
    path = substitute(case["path"], captured)
    kwargs: dict[str, Any] = {"allow_redirects": case.get("follow_redirects", False)}
    if case.get("multipart"):
        files = {}
        for part, spec in case["multipart"].items():
            if "source" in spec:
                content = (REPO_ROOT / spec["source"]).read_bytes()
            else:
                content = spec["content"].encode()
            files[part] = (spec["filename"], content, "text/csv")
        kwargs["files"] = files
    elif case.get("raw_body") is not None:
        kwargs["data"] = case["raw_body"].encode()
        kwargs["headers"] = {"Content-Type": case["content_type"]}
    elif case.get("body") is not None:
        kwargs["data"] = json.dumps(substitute(case["body"], captured))
        kwargs["headers"] = {"Content-Type": "application/json"}
    return requests.request(case["method"], base_url + path, timeout=30, **kwargs)


def _matches(actual: Any, expected: Any) -> bool:
    """Subset match: every expected key is present with a matching value."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _matches(actual[key], value)
            for key, value in expected.items()
        )
    return actual == expected


def check(case: dict[str, Any], response: requests.Response, captured: dict) -> None:
    """Assert every expectation of a case on its response."""
    expected_status = case.get("preferred_status", case["expect_status"])
    if isinstance(expected_status, list):
        assert response.status_code in expected_status, response.text
    else:
        assert response.status_code == expected_status, response.text
    spec = substitute({k: v for k, v in case.items() if k != "path"}, captured)
    body = response.json() if response.content else None
    if "expect_json_keys" in spec:
        assert isinstance(body, dict), body
        for key in spec["expect_json_keys"]:
            assert key in body, f"{key!r} missing from {body}"
    if "expect_json" in spec:
        assert _matches(body, spec["expect_json"]), body
    if "expect_json_any_of" in spec:
        assert any(_matches(body, option) for option in spec["expect_json_any_of"])
    if spec.get("expect_json_type") == "array":
        assert isinstance(body, list), body
    _check_items(spec, body)
    for name, value in spec.get("expect_header", {}).items():
        assert response.headers.get(name) == value, response.headers


def _check_items(spec: dict[str, Any], body: Any) -> None:
    if "item_keys" in spec:
        for item in body:
            assert set(spec["item_keys"]) <= set(item), item
    if "expect_all_items" in spec:
        for item in body:
            assert _matches(item, spec["expect_all_items"]), item
    if "expect_len" in spec:
        assert len(body) == spec["expect_len"]
    if "expect_min_len" in spec:
        assert len(body) >= spec["expect_min_len"]
    if "expect_max_len" in spec:
        assert len(body) <= spec["expect_max_len"]
    ids = [item.get("id") for item in body] if isinstance(body, list) else []
    if "expect_contains_id" in spec:
        assert spec["expect_contains_id"] in ids
    if "expect_not_contains_id" in spec:
        assert spec["expect_not_contains_id"] not in ids
    if "expect_first_item_details_keys" in spec:
        details = body[0]["details"]
        for key in spec["expect_first_item_details_keys"]:
            assert key in details, details
    if "expect_min_count_where" in spec:
        where = dict(spec["expect_min_count_where"])
        count = where.pop("count")
        assert sum(1 for item in body if _matches(item, where)) >= count, body


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return {}


@pytest.mark.skipif(not CASES, reason=f"no contract cases file at {CASES_PATH}")
@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_contract_case(dev_server, captured, case) -> None:
    response = send(dev_server.base_url, case, captured)
    check(case, response, captured)
    body = response.json() if response.content else {}
    for name, key in case.get("capture", {}).items():
        captured[name] = body[key]
