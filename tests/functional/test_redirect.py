"""Redirects: GET and HEAD on a short code, with one click event per GET."""

from __future__ import annotations

import pytest

from tests.functional.conftest import (
    count_rows,
    create_url,
    create_user,
    header,
    list_events,
    put_json,
)

TARGET = "https://example.com/path/to?q=a%20b&lang=en#section-2"


@pytest.fixture()
def link(client):
    """Return a live link owned by a fresh user."""
    user = create_user(client, "owner")
    return create_url(client, user["id"], original_url=TARGET)


# Both routes that redirect a short code.
PATH_TEMPLATES = ["/{code}", "/urls/{code}/redirect"]


def redirect_paths(code):
    return [template.format(code=code) for template in PATH_TEMPLATES]


def clicks(client, link):
    return list_events(client, f"url_id={link['id']}&event_type=click")


def assert_not_found(response):
    assert response.status_code == 404
    assert isinstance(response.json_body, dict)
    assert isinstance(response.json_body["error"], str)
    assert isinstance(response.json_body["code"], str)


@pytest.mark.parametrize("template", PATH_TEMPLATES)
def test_redirect_returns_302_with_exact_location(client, link, template):
    path = template.format(code=link["short_code"])

    response = client.http.get(path)

    assert response.status_code == 302
    assert header(response, "Location") == TARGET


@pytest.mark.parametrize("template", PATH_TEMPLATES)
def test_redirect_is_not_cacheable(client, link, template):
    path = template.format(code=link["short_code"])

    response = client.http.get(path)

    assert "no-store" in (header(response, "Cache-Control") or "")


@pytest.mark.parametrize("template", PATH_TEMPLATES)
def test_redirect_records_one_click(client, link, template):
    path = template.format(code=link["short_code"])

    client.http.get(
        path, headers={"Referer": "https://ref.example/", "User-Agent": "t/1"}
    )

    events = clicks(client, link)
    assert len(events) == 1
    assert events[0]["user_id"] == link["user_id"]
    assert events[0]["url_id"] == link["id"]
    assert events[0]["details"] == {
        "short_code": link["short_code"],
        "referrer": "https://ref.example/",
        "user_agent": "t/1",
    }


def test_redirect_without_headers_records_short_code_only(client, link):
    client.http.get(f"/{link['short_code']}")

    details = clicks(client, link)[0]["details"]

    assert details["short_code"] == link["short_code"]
    assert "referrer" not in details
    assert "user_agent" not in details


def test_redirect_cuts_long_user_agent(client, link):
    agent = "A" * 10_000

    client.http.get(f"/{link['short_code']}", headers={"User-Agent": agent})

    stored = clicks(client, link)[0]["details"]["user_agent"]
    assert 0 < len(stored) < len(agent)
    assert agent.startswith(stored)


def test_each_redirect_records_a_click(client, link):
    for _ in range(3):
        client.http.get(f"/{link['short_code']}")

    assert len(clicks(client, link)) == 3


@pytest.mark.parametrize("template", PATH_TEMPLATES)
def test_head_redirects_without_click(client, database, link, template):
    path = template.format(code=link["short_code"])
    before = count_rows(database, "events")

    response = client.http.head(path)

    assert response.status_code == 302
    assert header(response, "Location") == TARGET
    assert count_rows(database, "events") == before


def test_unknown_code_returns_404_without_event(client, database, link):
    before = count_rows(database, "events")

    for path in redirect_paths("Zz9Zz9"):
        assert_not_found(client.http.get(path))

    assert count_rows(database, "events") == before


def test_head_unknown_code_returns_404(client, link):
    response = client.http.head("/Zz9Zz9")

    assert response.status_code == 404


@pytest.mark.parametrize("code", ["abc", "a" * 200, "users-x", "%20"])
def test_malformed_code_returns_404(client, link, code):
    assert_not_found(client.http.get(f"/{code}"))


def test_code_lookup_is_case_sensitive(client, link):
    code = link["short_code"]
    swapped = code.swapcase()
    if swapped == code:
        pytest.skip("the generated code has no letters")

    assert_not_found(client.http.get(f"/{swapped}"))


def test_redirect_inactive_link_returns_404(client, database, link):
    put_json(client, f"/urls/{link['id']}", {"is_active": False})
    before = count_rows(database, "events")

    for path in redirect_paths(link["short_code"]):
        assert_not_found(client.http.get(path))

    assert count_rows(database, "events") == before


def test_head_inactive_link_returns_404(client, link):
    put_json(client, f"/urls/{link['id']}", {"is_active": False})

    assert client.http.head(f"/{link['short_code']}").status_code == 404


def test_reactivated_link_redirects_again(client, link):
    put_json(client, f"/urls/{link['id']}", {"is_active": False})
    client.http.get(f"/{link['short_code']}")

    put_json(client, f"/urls/{link['id']}", {"is_active": True})
    response = client.http.get(f"/{link['short_code']}")

    assert response.status_code == 302
    assert header(response, "Location") == TARGET
    assert len(clicks(client, link)) == 1


def test_redirect_follows_updated_original_url(client, link):
    put_json(client, f"/urls/{link['id']}", {"original_url": "http://example.org/v2"})

    response = client.http.get(f"/{link['short_code']}")

    assert header(response, "Location") == "http://example.org/v2"


def test_deleted_link_code_never_redirects(client, database, link):
    client.http.delete(f"/urls/{link['id']}")
    before = count_rows(database, "events")

    for path in redirect_paths(link["short_code"]):
        assert_not_found(client.http.get(path))
    assert client.http.head(f"/{link['short_code']}").status_code == 404

    assert count_rows(database, "events") == before


def test_deleted_owner_link_returns_404(client, link):
    client.http.delete(f"/users/{link['user_id']}")

    for path in redirect_paths(link["short_code"]):
        assert_not_found(client.http.get(path))


def test_redirect_nul_user_agent_returns_302(client, link):
    response = client.http.get(
        f"/{link['short_code']}", headers={"User-Agent": "a\x00b"}
    )

    assert response.status_code == 302, response.body
    assert len(clicks(client, link)) == 1
