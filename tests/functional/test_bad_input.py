"""Bad input on every route that takes input: the right 4xx, never a 500.

Each case checks the status, the JSON error body ``{"error", "code"[, "field"]}``
and that no table changed. The ``world`` fixture gives every case the same
rows: user 1 (live), user 2 (deleted), link 1 (live) and link 2 (deleted),
both owned by user 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.functional.conftest import (
    SNAKE_CASE,
    TABLES,
    create_url,
    create_user,
    table_rows,
)

HUGE = 99999999999999999999
ABOVE_BIGINT = 2**63
GOOD_URL = "https://example.com/page"


@dataclass(frozen=True)
class Case:
    """One bad request and the rejection it must get."""

    label: str
    method: str
    path: str
    body: bytes | None
    content_type: str | None = "application/json"
    statuses: tuple[int, ...] = (400,)
    code: str | None = None
    field: str | None = None
    mentions: tuple[str, ...] = ()


def raw(case_id, method, path, body, **expected) -> Case:
    """Build a case whose body is sent exactly as given."""
    data = body.encode() if isinstance(body, str) else body
    return Case(case_id, method, path, data, **expected)


def field_case(method, path, base, field, value, **expected) -> Case:
    """Build a case that sets one field of a valid body to a bad value."""
    body = {**base, field: value}
    text = json.dumps(value)
    if len(text) > 40:
        text = f"{text[:20]}...({len(text)} chars)"
    case_id = f"{method} {path} {field}={text}"
    expected.setdefault("field", field)
    expected.setdefault("mentions", (field,))
    return Case(case_id, method, path, json.dumps(body).encode(), **expected)


def missing_case(method, path, base, field) -> Case:
    """Build a case whose body lacks one required field."""
    body = {key: value for key, value in base.items() if key != field}
    case_id = f"{method} {path} without {field}"
    return Case(
        case_id,
        method,
        path,
        json.dumps(body).encode(),
        field=field,
        mentions=(field,),
    )


NEW_USER = {"username": "newbie", "email": "newbie@example.com"}
NEW_URL = {"user_id": 1, "original_url": GOOD_URL, "title": "Page"}
NEW_EVENT = {"url_id": 1, "event_type": "share", "details": {"via": "mail"}}
USER_CHANGE = {"username": "renamed"}
URL_CHANGE = {"title": "Renamed"}

BODY_ROUTES = [
    ("POST", "/users", NEW_USER),
    ("PUT", "/users/1", USER_CHANGE),
    ("POST", "/urls", NEW_URL),
    ("PUT", "/urls/1", URL_CHANGE),
    ("POST", "/events", NEW_EVENT),
]

# Whole bodies that are not a JSON object.
NOT_AN_OBJECT = {
    "array": "[]",
    "array of object": json.dumps([NEW_USER]),
    "string": '"hello"',
    "number": "42",
    "float": "1.5",
    "null": "null",
    "true": "true",
    "unclosed": '{"username": "a"',
    "trailing comma": '{"username": "a",}',
    "single quotes": "{'username': 'a'}",
    "two objects": "{}{}",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "whitespace": "   ",
    "deeply nested array": "[" * 20_000 + "]" * 20_000,
    "deeply nested object": '{"a": ' * 5_000 + "1" + "}" * 5_000,
}


def whole_body_cases() -> list[Case]:
    cases = []
    for method, path, base in BODY_ROUTES:
        prefix = f"{method} {path}"
        for name, text in NOT_AN_OBJECT.items():
            cases.append(raw(f"{prefix} body {name}", method, path, text))
        cases += [
            raw(f"{prefix} empty body", method, path, ""),
            raw(f"{prefix} no body", method, path, None, content_type=None),
            raw(
                f"{prefix} NaN inside object",
                method,
                path,
                json.dumps(base)[:-1] + ', "extra": NaN}',
            ),
            raw(
                f"{prefix} invalid UTF-8",
                method,
                path,
                b'{"username": "\xff\xfe"}',
            ),
            raw(
                f"{prefix} text/plain",
                method,
                path,
                "username=newbie",
                content_type="text/plain",
                statuses=(400, 415),
            ),
            raw(
                f"{prefix} form encoded",
                method,
                path,
                "username=newbie&email=newbie%40example.com",
                content_type="application/x-www-form-urlencoded",
                statuses=(400, 415),
            ),
            raw(
                f"{prefix} over 64 KiB",
                method,
                path,
                json.dumps({**base, "padding": "x" * 70_000}),
                statuses=(413,),
            ),
        ]
    return cases


WRONG_ID_TYPES = [True, False, 1.5, "1", "5", None, [1], {"id": 1}, 0.0]
HUGE_IDS = [ABOVE_BIGINT, HUGE, 10**40]
NOT_STRINGS = [1, 1.5, True, ["text"], {"text": "x"}]
BAD_URLS = [
    "hello",
    "example.com/x",
    "www.example.com",
    "javascript:alert(1)",
    "ftp://x.org",
    "mailto:someone@example.com",
    "data:text/html,hi",
    "file:///etc/passwd",
    "http://",
    "https://",
    "http:///path-only",
    "//example.com/no-scheme",
    "https://exa mple.com",
    "https://example.com/a\tb",
    "https://example.com:99999/",
    "https://" + "a" * 2040 + ".com",
]
BAD_EMAILS = [
    "not-an-email",
    "missing-at.example.com",
    "a@",
    "@example.com",
    "a b@example.com",
    "a@@example.com",
    "a" * 250 + "@example.com",
]


def user_cases() -> list[Case]:
    cases = []
    for method, path, base in [
        ("POST", "/users", NEW_USER),
        ("PUT", "/users/1", {"username": "renamed", "email": "renamed@example.com"}),
    ]:
        for field in ("username", "email"):
            cases.append(field_case(method, path, base, field, "   "))
            cases.append(field_case(method, path, base, field, ""))
            cases.append(field_case(method, path, base, field, None))
            cases += [
                field_case(method, path, base, field, value) for value in NOT_STRINGS
            ]
        cases.append(field_case(method, path, base, "username", "u" * 151))
        for email in BAD_EMAILS:
            mentions = ("email", email) if len(email) < 60 else ("email",)
            cases.append(
                field_case(method, path, base, "email", email, mentions=mentions)
            )
    cases += [
        missing_case("POST", "/users", NEW_USER, "username"),
        missing_case("POST", "/users", NEW_USER, "email"),
        raw("POST /users empty object", "POST", "/users", "{}"),
    ]
    return cases


def url_cases() -> list[Case]:
    cases = []
    for value in WRONG_ID_TYPES + HUGE_IDS:
        cases.append(field_case("POST", "/urls", NEW_URL, "user_id", value))
    cases.append(
        raw(
            "POST /urls user_id=1e999",
            "POST",
            "/urls",
            f'{{"user_id": 1e999, "original_url": "{GOOD_URL}"}}',
            field="user_id",
        )
    )
    cases.append(missing_case("POST", "/urls", NEW_URL, "user_id"))
    cases.append(missing_case("POST", "/urls", NEW_URL, "original_url"))
    for method, path, base in [
        ("POST", "/urls", NEW_URL),
        ("PUT", "/urls/1", {"original_url": GOOD_URL}),
    ]:
        for value in ["   ", None, *NOT_STRINGS]:
            cases.append(field_case(method, path, base, "original_url", value))
        for url in BAD_URLS:
            named = url.isprintable() and len(url) < 60
            mentions = ("original_url", url) if named else ("original_url",)
            cases.append(
                field_case(method, path, base, "original_url", url, mentions=mentions)
            )
        cases.append(
            field_case(
                method,
                path,
                base,
                "original_url",
                "https://example.com/" + "p" * 2030,
                mentions=("original_url", "2048"),
            )
        )
    for method, path, base in [
        ("POST", "/urls", NEW_URL),
        ("PUT", "/urls/1", URL_CHANGE),
    ]:
        cases += [field_case(method, path, base, "title", v) for v in NOT_STRINGS]
        cases.append(field_case(method, path, base, "title", "t" * 501))
    for value in [1, 0, "true", "false", None, [True], {"value": True}, 1.0]:
        cases.append(field_case("PUT", "/urls/1", {}, "is_active", value))
    return cases


def event_cases() -> list[Case]:
    cases = []
    for field in ("url_id", "user_id"):
        cases += [
            field_case("POST", "/events", NEW_EVENT, field, value)
            for value in WRONG_ID_TYPES + HUGE_IDS
        ]
    for value in ["   ", None, *NOT_STRINGS]:
        cases.append(field_case("POST", "/events", NEW_EVENT, "event_type", value))
    for value in ["text", '{"a": 1}', [1, 2], [], 5, 1.5, True]:
        cases.append(field_case("POST", "/events", NEW_EVENT, "details", value))
    cases.append(missing_case("POST", "/events", NEW_EVENT, "url_id"))
    cases.append(missing_case("POST", "/events", NEW_EVENT, "event_type"))
    return cases


def text_character_cases() -> list[Case]:
    """Strings that PostgreSQL text or jsonb cannot store: NUL, lone surrogates."""
    cases = []
    for char, name in [("\u0000", "NUL"), ("\ud800", "lone surrogate")]:
        for method, path, base, field in [
            ("POST", "/users", NEW_USER, "username"),
            ("PUT", "/users/1", USER_CHANGE, "username"),
            ("POST", "/urls", NEW_URL, "title"),
            ("PUT", "/urls/1", URL_CHANGE, "title"),
            ("POST", "/events", NEW_EVENT, "event_type"),
        ]:
            cases.append(
                Case(
                    f"{method} {path} {field} with {name}",
                    method,
                    path,
                    json.dumps({**base, field: f"a{char}b"}).encode(),
                    field=field,
                    mentions=(field,),
                )
            )
        for where, details in [
            ("value", {"note": f"a{char}b"}),
            ("key", {f"a{char}b": 1}),
            ("nested value", {"outer": [{"inner": char}]}),
        ]:
            cases.append(
                Case(
                    f"POST /events details {where} with {name}",
                    "POST",
                    "/events",
                    json.dumps({**NEW_EVENT, "details": details}).encode(),
                    field="details",
                    mentions=("details",),
                )
            )
    return cases


def not_found_cases() -> list[Case]:
    """Unknown or deleted ids named in the path or the body: 404."""

    def case(case_id, method, path, body, code, mentions=()):
        data = None if body is None else json.dumps(body).encode()
        return Case(
            case_id,
            method,
            path,
            data,
            content_type=None if body is None else "application/json",
            statuses=(404,),
            code=code,
            mentions=mentions,
        )

    cases = []
    bad_ids = ["abc", "0", "-1", "1.5", "1e3", "01x", str(HUGE), str(ABOVE_BIGINT)]
    for ref in [*bad_ids, "999", "2"]:
        mentions = (ref,)
        for method, body in [("GET", None), ("PUT", USER_CHANGE), ("DELETE", None)]:
            cases.append(
                case(
                    f"{method} /users/{ref}",
                    method,
                    f"/users/{ref}",
                    body,
                    "user_not_found",
                    mentions,
                )
            )
        for method, body in [("GET", None), ("PUT", URL_CHANGE), ("DELETE", None)]:
            cases.append(
                case(
                    f"{method} /urls/{ref}",
                    method,
                    f"/urls/{ref}",
                    body,
                    "url_not_found",
                    mentions,
                )
            )
    for ref in [*bad_ids, "999"]:
        cases.append(
            case(
                f"GET /events/{ref}",
                "GET",
                f"/events/{ref}",
                None,
                "event_not_found",
                (ref,),
            )
        )
    cases += [
        case(
            "POST /urls unknown user",
            "POST",
            "/urls",
            {**NEW_URL, "user_id": 999},
            "user_not_found",
            ("999",),
        ),
        case(
            "POST /urls deleted user",
            "POST",
            "/urls",
            {**NEW_URL, "user_id": 2},
            "user_not_found",
        ),
        case(
            "POST /events unknown url",
            "POST",
            "/events",
            {**NEW_EVENT, "url_id": 999},
            "url_not_found",
            ("999",),
        ),
        case(
            "POST /events deleted url",
            "POST",
            "/events",
            {**NEW_EVENT, "url_id": 2},
            "url_not_found",
        ),
        case(
            "POST /events unknown user",
            "POST",
            "/events",
            {**NEW_EVENT, "user_id": 999},
            "user_not_found",
            ("999",),
        ),
        case(
            "POST /events deleted user",
            "POST",
            "/events",
            {**NEW_EVENT, "user_id": 2},
            "user_not_found",
        ),
    ]
    return cases


def query_cases() -> list[Case]:
    """Bad pagination and filter values in list query strings: 400."""
    params = [
        ("page", "0"),
        ("page", "-1"),
        ("page", "abc"),
        ("page", "1.5"),
        ("page", "true"),
        ("per_page", "0"),
        ("per_page", "-1"),
        ("per_page", "1001"),
        ("per_page", "abc"),
        ("per_page", "2.5"),
        ("per_page", str(HUGE)),
    ]
    cases = []
    for path in ("/users", "/urls", "/events"):
        for name, value in params:
            cases.append(
                Case(
                    f"GET {path}?{name}={value}",
                    "GET",
                    f"{path}?{name}={value}",
                    None,
                    content_type=None,
                    field=name,
                    mentions=(name, value),
                )
            )
    filters = [
        ("/urls", "user_id", "abc"),
        ("/urls", "user_id", "1.5"),
        ("/urls", "user_id", "true"),
        ("/urls", "is_active", "yes"),
        ("/urls", "is_active", "1"),
        ("/urls", "is_active", "0"),
        ("/events", "url_id", "abc"),
        ("/events", "user_id", "abc"),
        ("/events", "user_id", "-3"),
    ]
    for path, name, value in filters:
        cases.append(
            Case(
                f"GET {path}?{name}={value}",
                "GET",
                f"{path}?{name}={value}",
                None,
                content_type=None,
                field=name,
                mentions=(name, value),
            )
        )
    return cases


def wrong_method_cases() -> list[Case]:
    """Methods a route does not serve: 405 in the API's error shape."""
    routes = [
        ("PATCH", "/urls"),
        ("PUT", "/urls"),
        ("DELETE", "/urls"),
        ("PATCH", "/urls/1"),
        ("POST", "/urls/1"),
        ("PATCH", "/users"),
        ("DELETE", "/users"),
        ("PATCH", "/users/1"),
        ("POST", "/users/1"),
        ("PUT", "/events"),
        ("PUT", "/events/1"),
        ("DELETE", "/events/1"),
        ("GET", "/users/bulk"),
    ]
    return [
        Case(
            f"{method} {path}",
            method,
            path,
            b"{}",
            statuses=(405,),
            mentions=(method,),
        )
        for method, path in routes
    ]


CASES = (
    whole_body_cases()
    + user_cases()
    + url_cases()
    + event_cases()
    + text_character_cases()
    + not_found_cases()
    + query_cases()
    + wrong_method_cases()
)


@pytest.fixture()
def world(client) -> None:
    """Create the rows every case refers to."""
    owner = create_user(client, "owner", "owner@example.com")
    deleted = create_user(client, "deleted", "deleted@example.com")
    assert (owner["id"], deleted["id"]) == (1, 2)
    live = create_url(client, owner["id"])
    dead = create_url(client, owner["id"])
    assert (live["id"], dead["id"]) == (1, 2)
    assert client.http.delete("/users/2").status_code == 204
    assert client.http.delete("/urls/2").status_code == 204


def snapshot(database) -> dict[str, list[str]]:
    return {table: table_rows(database, table) for table in TABLES}


def send(client, case: Case):
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    body = b"" if case.body is None else case.body
    return client.http.request(case.method, case.path, headers=headers, body=body)


def check_error_body(body: Any, case: Case) -> None:
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str), body
    assert body["error"].strip(), body
    assert SNAKE_CASE.match(str(body.get("code"))), body
    if case.code is not None:
        assert body["code"] == case.code, body
    if case.field is not None:
        assert body.get("field") == case.field, body
    for text in case.mentions:
        assert text in body["error"], body


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_bad_input_is_rejected(client, database, world, case):
    before = snapshot(database)

    response = send(client, case)

    assert response.status_code in case.statuses, response.body
    check_error_body(response.json_body, case)
    after = snapshot(database)
    for table in TABLES:
        assert after[table] == before[table], f"{table} changed"


def test_case_labels_are_unique():
    labels = [case.label for case in CASES]

    assert len(labels) == len(set(labels))


@pytest.mark.parametrize(
    "path",
    [
        "/users?username=a%00b",
        "/users?email=a%00b@example.com",
        "/events?event_type=a%00b",
    ],
)
def test_filter_with_nul_is_not_500(client, world, path):
    response = client.http.get(path)

    assert response.status_code in (200, 400), response.body
