"""Field rules, short codes and Link headers, without a database."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import shortcodes
from chalicelib.errors import InvalidInput, NotFound, PayloadTooLarge
from chalicelib.pagination import link_header
from chalicelib.validation import (
    DEFAULT_PER_PAGE,
    MAX_ID,
    MAX_PER_PAGE,
    MAX_URL_LENGTH,
    MISSING,
    PageRequest,
    bool_field,
    email_address,
    http_url,
    id_field,
    nullable_string_field,
    object_field,
    page_request,
    parse_json_object,
    path_id,
    query_bool,
    query_id,
    query_str,
    string_field,
)

LIMIT = 1024


# parse_json_object


def test_parse_json_object_returns_dict():
    assert parse_json_object(b'{"a": [1, {"b": null}]}', LIMIT) == {
        "a": [1, {"b": None}]
    }


def test_parse_json_object_accepts_str():
    assert parse_json_object('{"a": 1}', LIMIT) == {"a": 1}


@pytest.mark.parametrize("raw", [None, b"", ""])
def test_parse_json_object_rejects_missing_body(raw):
    with pytest.raises(InvalidInput) as caught:
        parse_json_object(raw, LIMIT)

    assert caught.value.status == 400
    assert "body" in caught.value.message


@pytest.mark.parametrize(
    "raw",
    [b"[]", b'"x"', b"1", b"1.5", b"null", b"true", b"[{}]"],
)
def test_parse_json_object_rejects_non_objects(raw):
    with pytest.raises(InvalidInput) as caught:
        parse_json_object(raw, LIMIT)

    assert caught.value.status == 400


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"{'a': 1}",
        b'{"a": 1,}',
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b"   ",
        b"{}{}",
    ],
)
def test_parse_json_object_rejects_invalid_json(raw):
    with pytest.raises(InvalidInput) as caught:
        parse_json_object(raw, LIMIT)

    assert caught.value.status == 400
    assert "JSON" in caught.value.message


@pytest.mark.parametrize(
    "raw", ["[" * 20_000 + "]" * 20_000, '{"a": ' * 5_000 + "1" + "}" * 5_000]
)
def test_parse_json_object_rejects_deep_nesting(raw):
    with pytest.raises(InvalidInput) as caught:
        parse_json_object(raw, 1024 * 1024)

    assert caught.value.status == 400


def test_parse_json_object_rejects_body_over_limit():
    raw = b'{"a": "' + b"x" * LIMIT + b'"}'

    with pytest.raises(PayloadTooLarge) as caught:
        parse_json_object(raw, LIMIT)

    assert caught.value.status == 413
    assert str(LIMIT) in caught.value.message


# string_field and nullable_string_field


def test_string_field_trims():
    assert string_field({"name": "  ann \n"}, "name", max_length=10, required=True) == (
        "ann"
    )


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "  \t "}])
def test_string_field_required_missing_raises(body):
    with pytest.raises(InvalidInput) as caught:
        string_field(body, "name", max_length=10, required=True)

    assert caught.value.field == "name"
    assert "name" in caught.value.message


@pytest.mark.parametrize("body", [{}, {"name": "   "}])
def test_string_field_optional_missing_returns_missing(body):
    assert string_field(body, "name", max_length=10, required=False) is MISSING


@pytest.mark.parametrize("value", [None, 1, 1.5, True, ["a"], {"a": "b"}])
def test_string_field_rejects_non_strings(value):
    with pytest.raises(InvalidInput) as caught:
        string_field({"name": value}, "name", max_length=10, required=False)

    assert caught.value.field == "name"


def test_string_field_max_length_counts_trimmed_text():
    value = " " + "a" * 10 + " "

    assert string_field({"n": value}, "n", max_length=10, required=True) == "a" * 10


def test_string_field_rejects_over_max_length():
    with pytest.raises(InvalidInput) as caught:
        string_field({"n": "a" * 11}, "n", max_length=10, required=True)

    assert caught.value.field == "n"
    assert "10" in caught.value.message


def test_nullable_string_field_null_returns_none():
    assert nullable_string_field({"t": None}, "t", max_length=5) is None


def test_nullable_string_field_blank_returns_none():
    assert nullable_string_field({"t": "   "}, "t", max_length=5) is None


def test_nullable_string_field_absent_returns_missing():
    assert nullable_string_field({}, "t", max_length=5) is MISSING


def test_nullable_string_field_rejects_number():
    with pytest.raises(InvalidInput):
        nullable_string_field({"t": 5}, "t", max_length=5)


# id_field


@pytest.mark.parametrize("value", [1, 42, MAX_ID])
def test_id_field_accepts_positive_bigint(value):
    assert id_field({"id": value}, "id", required=True) == value


@pytest.mark.parametrize(
    "value",
    [True, False, 1.0, 1.5, "1", None, [1], {"id": 1}, float("inf"), float("nan")],
)
def test_id_field_rejects_non_integers(value):
    with pytest.raises(InvalidInput) as caught:
        id_field({"id": value}, "id", required=True)

    assert caught.value.field == "id"
    assert caught.value.status == 400


@pytest.mark.parametrize("value", [0, -1, MAX_ID + 1, 10**20])
def test_id_field_rejects_out_of_range(value):
    with pytest.raises(InvalidInput) as caught:
        id_field({"id": value}, "id", required=True)

    assert caught.value.field == "id"


def test_id_field_required_missing_raises():
    with pytest.raises(InvalidInput) as caught:
        id_field({}, "id", required=True)

    assert caught.value.field == "id"


def test_id_field_optional_missing_returns_missing():
    assert id_field({}, "id", required=False) is MISSING


# bool_field and object_field


@pytest.mark.parametrize("value", [True, False])
def test_bool_field_accepts_booleans(value):
    assert bool_field({"flag": value}, "flag") is value


@pytest.mark.parametrize("value", [1, 0, "true", "false", None, [True], 1.0])
def test_bool_field_rejects_non_booleans(value):
    with pytest.raises(InvalidInput) as caught:
        bool_field({"flag": value}, "flag")

    assert caught.value.field == "flag"


def test_bool_field_absent_returns_missing():
    assert bool_field({}, "flag") is MISSING


def test_object_field_returns_object():
    assert object_field({"d": {"a": [1]}}, "d") == {"a": [1]}


def test_object_field_absent_returns_missing():
    assert object_field({}, "d") is MISSING


@pytest.mark.parametrize("value", ["text", '{"a": 1}', [1], [], 5, 1.5, True])
def test_object_field_rejects_non_objects(value):
    with pytest.raises(InvalidInput) as caught:
        object_field({"d": value}, "d")

    assert caught.value.field == "d"


def test_object_field_rejects_oversized_object():
    with pytest.raises(InvalidInput) as caught:
        object_field({"d": {"blob": "x" * 20_000}}, "d")

    assert caught.value.field == "d"


# email_address


@pytest.mark.parametrize(
    "value", ["a@example.com", "first.last+tag@sub.example.org", "A@EXAMPLE.COM"]
)
def test_email_address_accepts_valid(value):
    assert email_address("email", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "a@",
        "@example.com",
        "a b@example.com",
        "a@@example.com",
        "a@example..com",
        "a" * 250 + "@example.com",
    ],
)
def test_email_address_rejects_invalid(value):
    with pytest.raises(InvalidInput) as caught:
        email_address("email", value)

    assert caught.value.field == "email"
    assert "email" in caught.value.message


# http_url


@pytest.mark.parametrize(
    "value",
    [
        "http://example.com",
        "https://example.com/a/b?c=1&d=%20#frag",
        "HTTPS://EXAMPLE.COM/",
        "http://127.0.0.1:8080/x",
        "https://[::1]/x",
        "https://user@example.com/",
    ],
)
def test_http_url_accepts_absolute_http_urls(value):
    assert http_url("u", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "hello",
        "example.com/x",
        "javascript:alert(1)",
        "ftp://x.org",
        "mailto:a@example.com",
        "http://",
        "https://",
        "http:///path",
        "//example.com/x",
        "https://exa mple.com",
        "https://example.com/\x00",
        "https://example.com:99999/",
        "https://[::1/x",
    ],
)
def test_http_url_rejects_invalid(value):
    with pytest.raises(InvalidInput) as caught:
        http_url("u", value)

    assert caught.value.field == "u"


def test_http_url_accepts_max_length():
    value = "https://example.com/" + "a" * (MAX_URL_LENGTH - 20)

    assert http_url("u", value) == value


def test_http_url_rejects_over_max_length():
    value = "https://example.com/" + "a" * (MAX_URL_LENGTH - 19)

    with pytest.raises(InvalidInput) as caught:
        http_url("u", value)

    assert str(MAX_URL_LENGTH) in caught.value.message


# path_id and query filters


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", 1), ("007", 7), (str(MAX_ID), MAX_ID)]
)
def test_path_id_parses_positive_ids(raw, expected):
    assert path_id(raw, "user") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0",
        "-1",
        "+1",
        "1.5",
        "abc",
        " 1",
        "1e3",
        "\u0661",
        str(MAX_ID + 1),
        "9" * 30,
    ],
)
def test_path_id_rejects_as_not_found(raw):
    with pytest.raises(NotFound) as caught:
        path_id(raw, "user")

    assert caught.value.status == 404
    assert caught.value.code == "user_not_found"


def test_query_id_absent_returns_none():
    assert query_id({}, "user_id") is None


def test_query_id_parses_digits():
    assert query_id({"user_id": "12"}, "user_id") == 12


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", "", str(MAX_ID + 1)])
def test_query_id_rejects_invalid(raw):
    with pytest.raises(InvalidInput) as caught:
        query_id({"user_id": raw}, "user_id")

    assert caught.value.field == "user_id"
    assert "user_id" in caught.value.message


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False)])
def test_query_bool_parses_true_false(raw, expected):
    assert query_bool({"is_active": raw}, "is_active") is expected


def test_query_bool_absent_returns_none():
    assert query_bool({}, "is_active") is None


@pytest.mark.parametrize("raw", ["yes", "no", "1", "0", "", "t"])
def test_query_bool_rejects_other_values(raw):
    with pytest.raises(InvalidInput) as caught:
        query_bool({"is_active": raw}, "is_active")

    assert caught.value.field == "is_active"


def test_query_str_trims():
    assert query_str({"username": "  sam "}, "username") == "sam"


@pytest.mark.parametrize("params", [{}, {"username": ""}, {"username": "   "}])
def test_query_str_blank_returns_none(params):
    assert query_str(params, "username") is None


# page_request


def test_page_request_defaults():
    assert page_request({}) == PageRequest(1, DEFAULT_PER_PAGE, None)


def test_page_request_default_per_page_is_100():
    assert DEFAULT_PER_PAGE == 100


def test_page_request_parses_values():
    params = {"page": "3", "per_page": str(MAX_PER_PAGE), "after": "17"}

    assert page_request(params) == PageRequest(3, MAX_PER_PAGE, 17)


def test_page_request_max_per_page_is_1000():
    assert MAX_PER_PAGE == 1000


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "1.5"},
        {"page": ""},
        {"per_page": "0"},
        {"per_page": "-1"},
        {"per_page": "1001"},
        {"per_page": "abc"},
        {"after": "-1"},
        {"after": "x"},
    ],
)
def test_page_request_rejects_invalid(params):
    (name,) = params

    with pytest.raises(InvalidInput) as caught:
        page_request(params)

    assert caught.value.field == name
    assert caught.value.status == 400


def test_page_offset_skips_earlier_pages():
    assert PageRequest(3, 20, None).offset == 40


def test_page_offset_is_zero_with_cursor():
    assert PageRequest(3, 20, 99).offset == 0


# shortcodes


def test_generate_returns_six_alphanumerics():
    codes = [shortcodes.generate() for _ in range(2000)]

    assert all(re.fullmatch(r"[A-Za-z0-9]{6}", code) for code in codes)


def test_generate_returns_distinct_codes():
    codes = [shortcodes.generate() for _ in range(2000)]

    assert len(set(codes)) == len(codes)


def test_generate_uses_upper_lower_and_digits():
    text = "".join(shortcodes.generate() for _ in range(500))

    assert re.search(r"[A-Z]", text)
    assert re.search(r"[a-z]", text)
    assert re.search(r"[0-9]", text)


def test_alphabet_is_62_alphanumerics():
    assert sorted(shortcodes.ALPHABET) == sorted(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    )


@pytest.mark.parametrize("name", ["users", "urls", "events", "health", "metrics"])
def test_route_names_are_reserved(name):
    assert name in shortcodes.RESERVED


@pytest.mark.parametrize("name", ["users", "URLS", "Events", "health", "metrics"])
def test_could_exist_rejects_route_names(name):
    assert not shortcodes.could_exist(name)


@pytest.mark.parametrize("code", ["", "a" * (shortcodes.MAX_LOOKUP_LENGTH + 1)])
def test_could_exist_rejects_bad_lengths(code):
    assert not shortcodes.could_exist(code)


def test_could_exist_accepts_code():
    assert shortcodes.could_exist("aB3xY9")


# link_header


def links(value):
    """Map each rel of a Link header to its target."""
    found = re.findall(r'<([^>]*)>; rel="([^"]*)"', value or "")
    return {rel: target for target, rel in found}


def query(target):
    return {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}


def test_link_header_none_for_single_page():
    assert link_header("/users", {}, PageRequest(1, 100, None), 5, False) is None


def test_link_header_none_for_empty_first_page():
    assert link_header("/users", {}, PageRequest(1, 100, None), None, False) is None


def test_link_header_next_carries_cursor():
    value = link_header("/users", {}, PageRequest(1, 2, None), 2, True)

    target = links(value)["next"]
    assert urlsplit(target).path == "/users"
    assert query(target) == {"page": "2", "per_page": "2", "after": "2"}


def test_link_header_first_page_has_no_prev():
    value = link_header("/users", {}, PageRequest(1, 2, None), 2, True)

    assert set(links(value)) == {"next"}


def test_link_header_prev_on_later_page():
    value = link_header("/users", {}, PageRequest(3, 2, 4), 6, False)

    target = links(value)["prev"]
    assert set(links(value)) == {"prev"}
    assert query(target) == {"page": "2", "per_page": "2"}


def test_link_header_both_rels():
    value = link_header("/urls", {}, PageRequest(2, 2, None), 4, True)

    assert set(links(value)) == {"next", "prev"}


def test_link_header_keeps_filters():
    params = {"user_id": "7", "is_active": "false", "color": "a b&c"}

    value = link_header("/urls", params, PageRequest(2, 5, None), 10, True)

    for target in links(value).values():
        assert query(target)["user_id"] == "7"
        assert query(target)["is_active"] == "false"
        assert query(target)["color"] == "a b&c"


def test_link_header_replaces_paging_params():
    params = {"page": "1", "per_page": "5", "after": "99", "user_id": "7"}

    value = link_header("/urls", params, PageRequest(1, 5, 99), 104, True)

    repeated = parse_qs(urlsplit(links(value)["next"]).query)
    assert repeated["page"] == ["2"]
    assert repeated["per_page"] == ["5"]
    assert repeated["after"] == ["104"]
