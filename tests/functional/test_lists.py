"""List routes: pagination, Link headers and filters."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.functional.conftest import (
    create_url,
    create_user,
    get_json,
    header,
    list_events,
    parse_link,
    post_json,
    put_json,
)


def insert_users(database, count):
    """Insert count users straight into the table, for large lists."""
    database.run(
        lambda cur: cur.execute(
            "INSERT INTO users (username, email) "
            "SELECT 'user' || g, 'user' || g || '@example.com' "
            "FROM generate_series(1, %s) AS g",
            (count,),
        )
    )


def ids(response):
    return [item["id"] for item in response.json_body]


def links_of(response):
    return parse_link(header(response, "Link"))


def query_of(target):
    return {key: values[-1] for key, values in parse_qs(urlsplit(target).query).items()}


def test_default_page_size_is_100(client, database):
    insert_users(database, 101)

    response = client.http.get("/users")

    assert response.status_code == 200
    assert ids(response) == list(range(1, 101))
    assert "next" in links_of(response)


def test_per_page_1000_is_allowed(client, database):
    insert_users(database, 1001)

    response = client.http.get("/users?per_page=1000")

    assert response.status_code == 200
    assert len(response.json_body) == 1000
    assert "next" in links_of(response)


def test_next_link_returns_next_page(client, database):
    insert_users(database, 5)

    first = client.http.get("/users?per_page=2")
    second = client.http.get(links_of(first)["next"])
    third = client.http.get(links_of(second)["next"])

    assert ids(first) == [1, 2]
    assert ids(second) == [3, 4]
    assert ids(third) == [5]
    assert "next" not in links_of(third)


def test_next_link_carries_after_cursor(client, database):
    insert_users(database, 3)

    response = client.http.get("/users?per_page=2")

    query = query_of(links_of(response)["next"])
    assert query["after"] == "2"
    assert query["per_page"] == "2"
    assert query["page"] == "2"


def test_next_link_path_is_list_path(client, database):
    insert_users(database, 3)

    response = client.http.get("/users?per_page=2")

    assert urlsplit(links_of(response)["next"]).path == "/users"


def test_after_cursor_skips_deleted_rows(client, database):
    insert_users(database, 5)
    first = client.http.get("/users?per_page=2")
    client.http.delete("/users/3")

    second = client.http.get(links_of(first)["next"])

    assert ids(second) == [4, 5]


def test_page_parameter_returns_offset_page(client, database):
    insert_users(database, 5)

    response = client.http.get("/users?page=2&per_page=2")

    assert ids(response) == [3, 4]


def test_prev_link_on_later_page(client, database):
    insert_users(database, 5)

    response = client.http.get("/users?page=2&per_page=2")

    links = links_of(response)
    assert set(links) == {"next", "prev"}
    assert ids(client.http.get(links["prev"])) == [1, 2]


def test_last_page_has_prev_only(client, database):
    insert_users(database, 5)

    response = client.http.get("/users?page=3&per_page=2")

    assert ids(response) == [5]
    assert set(links_of(response)) == {"prev"}


def test_first_page_has_no_prev(client, database):
    insert_users(database, 5)

    response = client.http.get("/users?per_page=2")

    assert set(links_of(response)) == {"next"}


def test_single_page_has_no_link_header(client, database):
    insert_users(database, 3)

    response = client.http.get("/users")

    assert header(response, "Link") is None


def test_exact_full_page_has_no_next(client, database):
    insert_users(database, 4)

    response = client.http.get("/users?per_page=4")

    assert header(response, "Link") is None


def test_page_past_end_returns_empty_array(client, database):
    insert_users(database, 2)

    response = client.http.get("/users?page=9&per_page=2")

    assert response.status_code == 200
    assert response.json_body == []


@pytest.mark.parametrize("path", ["/users", "/urls", "/events"])
def test_empty_list_returns_empty_array(client, path):
    response = client.http.get(path)

    assert response.status_code == 200
    assert response.json_body == []
    assert header(response, "Link") is None


def test_filters_kept_in_next_link(client):
    owner = create_user(client, "owner")
    other = create_user(client, "other")
    mine = [create_url(client, owner["id"])["id"] for _ in range(3)]
    create_url(client, other["id"])

    first = client.http.get(f"/urls?user_id={owner['id']}&is_active=true&per_page=2")
    target = links_of(first)["next"]
    second = client.http.get(target)

    assert query_of(target)["user_id"] == str(owner["id"])
    assert query_of(target)["is_active"] == "true"
    assert ids(first) + ids(second) == mine


def test_filters_kept_in_prev_link(client):
    owner = create_user(client, "owner")
    for _ in range(3):
        create_url(client, owner["id"])

    response = client.http.get(f"/urls?user_id={owner['id']}&page=2&per_page=2")

    assert query_of(links_of(response)["prev"])["user_id"] == str(owner["id"])


def test_pages_of_urls_and_events(client):
    owner = create_user(client, "owner")
    for _ in range(3):
        create_url(client, owner["id"])

    urls = client.http.get("/urls?per_page=2")
    events = client.http.get("/events?per_page=2")

    assert ids(client.http.get(links_of(urls)["next"])) == [3]
    assert ids(client.http.get(links_of(events)["next"])) == [3]


def test_users_filter_by_username(client):
    create_user(client, "sam", "sam1@example.com")
    create_user(client, "kim", "kim@example.com")
    create_user(client, "sam", "sam2@example.com")

    listed = get_json(client, "/users?username=sam")

    assert [user["email"] for user in listed] == [
        "sam1@example.com",
        "sam2@example.com",
    ]


def test_users_filter_by_email(client):
    create_user(client, "sam", "sam@example.com")
    kim = create_user(client, "kim", "kim@example.com")

    assert get_json(client, "/users?email=kim@example.com") == [kim]


def test_users_filters_combine_with_and(client):
    create_user(client, "sam", "sam1@example.com")
    match = create_user(client, "sam", "sam2@example.com")
    create_user(client, "kim", "kim@example.com")

    listed = get_json(client, "/users?username=sam&email=sam2@example.com")

    assert listed == [match]
    assert get_json(client, "/users?username=kim&email=sam2@example.com") == []


def test_urls_filter_by_user_id(client):
    owner = create_user(client, "owner")
    other = create_user(client, "other")
    mine = create_url(client, owner["id"])
    create_url(client, other["id"])

    assert get_json(client, f"/urls?user_id={owner['id']}") == [mine]


@pytest.mark.parametrize("value", ["true", "false"])
def test_urls_filter_by_is_active(client, value):
    owner = create_user(client)
    active = create_url(client, owner["id"])
    inactive = create_url(client, owner["id"])
    inactive = put_json(client, f"/urls/{inactive['id']}", {"is_active": False})

    listed = get_json(client, f"/urls?is_active={value}")

    expected = active if value == "true" else inactive.json_body
    assert listed == [expected]


def test_urls_filters_combine_with_and(client):
    owner = create_user(client, "owner")
    other = create_user(client, "other")
    create_url(client, owner["id"])
    target = create_url(client, owner["id"])
    elsewhere = create_url(client, other["id"])
    for link in (target, elsewhere):
        put_json(client, f"/urls/{link['id']}", {"is_active": False})

    listed = get_json(client, f"/urls?user_id={owner['id']}&is_active=false")

    assert [link["id"] for link in listed] == [target["id"]]


def test_events_filter_by_url_id(client):
    owner = create_user(client)
    first = create_url(client, owner["id"])
    create_url(client, owner["id"])

    listed = list_events(client, f"url_id={first['id']}")

    assert [event["url_id"] for event in listed] == [first["id"]]


def test_events_filter_by_user_id(client):
    owner = create_user(client, "owner")
    other = create_user(client, "other")
    create_url(client, owner["id"])
    theirs = create_url(client, other["id"])

    listed = list_events(client, f"user_id={other['id']}")

    assert [event["url_id"] for event in listed] == [theirs["id"]]


def test_events_filter_by_event_type(client):
    owner = create_user(client)
    link = create_url(client, owner["id"])
    client.http.get(f"/{link['short_code']}")

    listed = list_events(client, "event_type=click")

    assert [event["event_type"] for event in listed] == ["click"]


def test_events_filters_combine_with_and(client):
    owner = create_user(client)
    first = create_url(client, owner["id"])
    second = create_url(client, owner["id"])
    for link in (first, second):
        post_json(client, "/events", {"url_id": link["id"], "event_type": "share"})

    listed = list_events(
        client, f"url_id={second['id']}&event_type=share&user_id={owner['id']}"
    )

    assert len(listed) == 1
    assert listed[0]["url_id"] == second["id"]
    assert listed[0]["event_type"] == "share"


@pytest.mark.parametrize("path", ["/users", "/urls", "/events"])
def test_unknown_query_params_are_ignored(client, path):
    owner = create_user(client)
    create_url(client, owner["id"])

    plain = client.http.get(path)
    extra = client.http.get(f"{path}?color=blue&sort=desc&limit=1")

    assert extra.status_code == 200
    assert extra.json_body == plain.json_body


def _insert_mixed_events(database):
    """Insert 7 created events, then clicks and created events interleaved."""
    user = database.run(
        lambda cur: (
            cur.execute(
                "INSERT INTO users (username, email) VALUES ('e', 'e@x.io') "
                "RETURNING id"
            ),
            cur.fetchone()[0],
        )[1]
    )
    database.run(
        lambda cur: cur.execute(
            "INSERT INTO urls (user_id, short_code, original_url) "
            "VALUES (%s, 'evtype', 'https://a.io')",
            (user,),
        )
    )
    types = ["created"] * 7 + ["click", "created"] * 6
    database.run(
        lambda cur: cur.execute(
            "INSERT INTO events (url_id, user_id, event_type) "
            "SELECT 1, %s, t FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, n) "
            "ORDER BY n",
            (user, types),
        )
    )
    return [n + 1 for n, kind in enumerate(types) if kind == "click"]


def test_event_type_pages_by_cursor(client, database):
    click_ids = _insert_mixed_events(database)

    seen = []
    target = "/events?event_type=click&per_page=4"
    while target:
        response = client.http.get(target)
        seen += ids(response)
        target = links_of(response).get("next")

    assert seen == click_ids


def test_event_type_pages_by_number(client, database):
    click_ids = _insert_mixed_events(database)

    second = client.http.get("/events?event_type=click&per_page=4&page=2")

    assert ids(second) == click_ids[4:]
    assert all(item["event_type"] == "click" for item in second.json_body)
