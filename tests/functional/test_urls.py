"""Short links: create, read, partial update and soft delete."""

from __future__ import annotations

from tests.functional.conftest import (
    SHORT_CODE,
    TIMESTAMP,
    URL_KEYS,
    count_rows,
    create_url,
    create_user,
    get_json,
    post_json,
    put_json,
)


def test_create_url_returns_201_with_link(client):
    user = create_user(client)

    response = post_json(
        client,
        "/urls",
        {"user_id": user["id"], "original_url": "https://example.com/a?b=1"},
    )

    assert response.status_code == 201
    body = response.json_body
    assert set(body) == URL_KEYS
    assert type(body["id"]) is int
    assert body["user_id"] == user["id"]
    assert type(body["user_id"]) is int
    assert SHORT_CODE.match(body["short_code"])
    assert body["original_url"] == "https://example.com/a?b=1"
    assert body["title"] is None
    assert body["is_active"] is True
    assert TIMESTAMP.match(body["created_at"])
    assert TIMESTAMP.match(body["updated_at"])


def test_create_url_with_title(client):
    user = create_user(client)

    link = create_url(client, user["id"], title="  Docs  ")

    assert link["title"] == "Docs"


def test_create_url_trims_original_url(client):
    user = create_user(client)

    link = create_url(client, user["id"], original_url="  http://example.org/x  ")

    assert link["original_url"] == "http://example.org/x"


def test_create_url_ignores_client_short_code(client):
    user = create_user(client)

    link = create_url(client, user["id"], short_code="mine00")

    assert link["short_code"] != "mine00"
    assert SHORT_CODE.match(link["short_code"])


def test_same_url_twice_gives_different_codes(client, database):
    user = create_user(client)

    first = create_url(client, user["id"], original_url="https://example.com/same")
    second = create_url(client, user["id"], original_url="https://example.com/same")

    assert first["id"] != second["id"]
    assert first["short_code"] != second["short_code"]
    assert count_rows(database, "urls") == 2


def test_generated_codes_are_six_alphanumerics(client):
    user = create_user(client)

    codes = [create_url(client, user["id"])["short_code"] for _ in range(30)]

    assert all(SHORT_CODE.match(code) for code in codes), codes
    assert len(set(codes)) == len(codes)


def test_create_url_for_unknown_user_returns_404(client, database):
    response = post_json(
        client, "/urls", {"user_id": 4242, "original_url": "https://example.com"}
    )

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"
    assert "4242" in response.json_body["error"]
    assert count_rows(database, "urls") == 0


def test_create_url_for_deleted_user_returns_404(client, database):
    user = create_user(client)
    client.http.delete(f"/users/{user['id']}")

    response = post_json(
        client, "/urls", {"user_id": user["id"], "original_url": "https://e.com"}
    )

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"
    assert count_rows(database, "urls") == 0


def test_get_url_returns_created_link(client):
    user = create_user(client)
    link = create_url(client, user["id"], title="t")

    assert get_json(client, f"/urls/{link['id']}") == link


def test_get_unknown_url_returns_404(client):
    response = client.http.get("/urls/777")

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"
    assert "777" in response.json_body["error"]


def test_list_urls_returns_live_links_by_id(client):
    user = create_user(client)
    first = create_url(client, user["id"])
    deleted = create_url(client, user["id"])
    third = create_url(client, user["id"])
    client.http.delete(f"/urls/{deleted['id']}")

    assert get_json(client, "/urls") == [first, third]


def test_update_url_title_keeps_other_fields(client):
    user = create_user(client)
    link = create_url(client, user["id"], title="old")

    response = put_json(client, f"/urls/{link['id']}", {"title": "new"})

    assert response.status_code == 200
    body = response.json_body
    assert body["title"] == "new"
    assert body["original_url"] == link["original_url"]
    assert body["is_active"] is True
    assert body["short_code"] == link["short_code"]
    assert body["created_at"] == link["created_at"]
    assert get_json(client, f"/urls/{link['id']}") == body


def test_update_url_is_active_false(client):
    user = create_user(client)
    link = create_url(client, user["id"])

    response = put_json(client, f"/urls/{link['id']}", {"is_active": False})

    assert response.status_code == 200
    assert response.json_body["is_active"] is False
    assert response.json_body["title"] == link["title"]


def test_update_url_original_url(client):
    user = create_user(client)
    link = create_url(client, user["id"])

    response = put_json(
        client, f"/urls/{link['id']}", {"original_url": "https://example.net/new"}
    )

    assert response.status_code == 200
    assert response.json_body["original_url"] == "https://example.net/new"
    assert response.json_body["short_code"] == link["short_code"]


def test_update_url_title_null_clears_title(client):
    user = create_user(client)
    link = create_url(client, user["id"], title="old")

    response = put_json(client, f"/urls/{link['id']}", {"title": None})

    assert response.status_code == 200
    assert response.json_body["title"] is None


def test_update_url_never_changes_short_code(client):
    user = create_user(client)
    link = create_url(client, user["id"])

    response = put_json(
        client, f"/urls/{link['id']}", {"short_code": "zzzzzz", "title": "t"}
    )

    assert response.status_code == 200
    assert response.json_body["short_code"] == link["short_code"]


def test_update_url_refreshes_updated_at(client, database):
    user = create_user(client)
    link = create_url(client, user["id"])
    # Move the stored times back so a refresh within the same second shows.
    database.run(
        lambda cur: cur.execute(
            "UPDATE urls SET created_at = %s, updated_at = %s WHERE id = %s",
            ("2020-01-02T03:04:05Z", "2020-01-02T03:04:05Z", link["id"]),
        )
    )

    response = put_json(client, f"/urls/{link['id']}", {"title": "fresh"})

    assert response.status_code == 200
    assert response.json_body["created_at"] == "2020-01-02T03:04:05"
    assert response.json_body["updated_at"] > "2020-01-02T03:04:05"
    assert TIMESTAMP.match(response.json_body["updated_at"])


def test_update_unknown_url_returns_404(client):
    response = put_json(client, "/urls/555", {"title": "x"})

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"


def test_update_deleted_url_returns_404(client):
    user = create_user(client)
    link = create_url(client, user["id"])
    client.http.delete(f"/urls/{link['id']}")

    response = put_json(client, f"/urls/{link['id']}", {"title": "x"})

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"


def test_delete_url_returns_204_with_empty_body(client):
    user = create_user(client)
    link = create_url(client, user["id"])

    response = client.http.delete(f"/urls/{link['id']}")

    assert response.status_code == 204
    assert response.body == b""


def test_deleted_url_returns_404(client):
    user = create_user(client)
    link = create_url(client, user["id"])
    client.http.delete(f"/urls/{link['id']}")

    response = client.http.get(f"/urls/{link['id']}")

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"


def test_delete_url_twice_returns_404(client):
    user = create_user(client)
    link = create_url(client, user["id"])
    client.http.delete(f"/urls/{link['id']}")

    response = client.http.delete(f"/urls/{link['id']}")

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"


def test_delete_url_keeps_row(client, database):
    user = create_user(client)
    link = create_url(client, user["id"])

    client.http.delete(f"/urls/{link['id']}")

    assert count_rows(database, "urls") == 1


def test_delete_unknown_url_returns_404(client):
    response = client.http.delete("/urls/31337")

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"
