"""Users: create, read, partial update, soft delete and email uniqueness."""

from __future__ import annotations

from tests.functional.conftest import (
    TIMESTAMP,
    USER_KEYS,
    count_rows,
    create_url,
    create_user,
    get_json,
    list_events,
    post_json,
    put_json,
)


def test_create_user_returns_201_with_user(client):
    response = post_json(
        client, "/users", {"username": "alice", "email": "alice@example.com"}
    )

    assert response.status_code == 201
    body = response.json_body
    assert set(body) == USER_KEYS
    assert type(body["id"]) is int
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert TIMESTAMP.match(body["created_at"])


def test_create_user_trims_strings(client):
    response = post_json(
        client, "/users", {"username": "  bob \t", "email": " bob@example.com "}
    )

    assert response.status_code == 201
    assert response.json_body["username"] == "bob"
    assert response.json_body["email"] == "bob@example.com"


def test_create_user_ignores_unknown_fields(client):
    body = {"username": "carol", "email": "carol@example.com", "id": 77, "role": "x"}

    response = post_json(client, "/users", body)

    assert response.status_code == 201
    assert set(response.json_body) == USER_KEYS
    assert response.json_body["id"] != 77


def test_create_user_assigns_increasing_ids(client):
    first = create_user(client, "first")
    second = create_user(client, "second")

    assert second["id"] > first["id"]


def test_get_user_returns_created_user(client):
    user = create_user(client)

    assert get_json(client, f"/users/{user['id']}") == user


def test_get_unknown_user_returns_404(client):
    response = client.http.get("/users/12345")

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"
    assert "12345" in response.json_body["error"]


def test_usernames_may_repeat(client):
    first = create_user(client, "sam", "sam1@example.com")
    second = create_user(client, "sam", "sam2@example.com")

    assert first["id"] != second["id"]
    assert second["username"] == "sam"


def test_duplicate_email_returns_409_email_taken(client, database):
    create_user(client, "dave", "dave@example.com")

    response = post_json(
        client, "/users", {"username": "other", "email": "dave@example.com"}
    )

    assert response.status_code == 409
    assert response.json_body["code"] == "email_taken"
    assert response.json_body["field"] == "email"
    assert "dave@example.com" in response.json_body["error"]
    assert count_rows(database, "users") == 1


def test_email_uniqueness_ignores_case(client, database):
    create_user(client, "erin", "erin@example.com")

    response = post_json(
        client, "/users", {"username": "erin2", "email": "ERIN@Example.COM"}
    )

    assert response.status_code == 409
    assert response.json_body["code"] == "email_taken"
    assert count_rows(database, "users") == 1


def test_email_freed_after_owner_deleted(client):
    owner = create_user(client, "frank", "frank@example.com")
    assert client.http.delete(f"/users/{owner['id']}").status_code == 204

    response = post_json(
        client, "/users", {"username": "frank2", "email": "Frank@example.com"}
    )

    assert response.status_code == 201
    assert response.json_body["id"] != owner["id"]


def test_list_users_returns_live_users_by_id(client):
    first = create_user(client, "one")
    deleted = create_user(client, "two")
    third = create_user(client, "three")
    client.http.delete(f"/users/{deleted['id']}")

    assert get_json(client, "/users") == [first, third]


def test_list_users_empty_returns_empty_array(client):
    assert get_json(client, "/users") == []


def test_update_user_username_keeps_email(client):
    user = create_user(client, "gina", "gina@example.com")

    response = put_json(client, f"/users/{user['id']}", {"username": "  gina2 "})

    assert response.status_code == 200
    assert response.json_body == {**user, "username": "gina2"}
    assert get_json(client, f"/users/{user['id']}") == response.json_body


def test_update_user_email_keeps_username(client):
    user = create_user(client, "hank", "hank@example.com")

    response = put_json(client, f"/users/{user['id']}", {"email": "h@example.org"})

    assert response.status_code == 200
    assert response.json_body == {**user, "email": "h@example.org"}


def test_update_user_both_fields(client):
    user = create_user(client, "ivy", "ivy@example.com")

    body = {"username": "ivy2", "email": "ivy2@example.com"}
    response = put_json(client, f"/users/{user['id']}", body)

    assert response.status_code == 200
    assert response.json_body == {**user, **body}


def test_update_user_email_case_change(client):
    user = create_user(client, "jack", "jack@example.com")

    response = put_json(client, f"/users/{user['id']}", {"email": "JACK@example.com"})

    assert response.status_code == 200
    assert response.json_body["email"] == "JACK@example.com"


def test_update_user_to_taken_email_returns_409(client):
    create_user(client, "kate", "kate@example.com")
    user = create_user(client, "liam", "liam@example.com")

    response = put_json(client, f"/users/{user['id']}", {"email": "KATE@example.com"})

    assert response.status_code == 409
    assert response.json_body["code"] == "email_taken"
    assert response.json_body["field"] == "email"
    assert get_json(client, f"/users/{user['id']}") == user


def test_update_user_to_freed_email(client):
    deleted = create_user(client, "mia", "mia@example.com")
    client.http.delete(f"/users/{deleted['id']}")
    user = create_user(client, "ned", "ned@example.com")

    response = put_json(client, f"/users/{user['id']}", {"email": "mia@example.com"})

    assert response.status_code == 200
    assert response.json_body["email"] == "mia@example.com"


def test_update_unknown_user_returns_404(client):
    response = put_json(client, "/users/999", {"username": "nobody"})

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"


def test_update_deleted_user_returns_404(client):
    user = create_user(client)
    client.http.delete(f"/users/{user['id']}")

    response = put_json(client, f"/users/{user['id']}", {"username": "back"})

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"


def test_delete_user_returns_204_with_empty_body(client):
    user = create_user(client)

    response = client.http.delete(f"/users/{user['id']}")

    assert response.status_code == 204
    assert response.body == b""


def test_deleted_user_returns_404(client):
    user = create_user(client)
    client.http.delete(f"/users/{user['id']}")

    response = client.http.get(f"/users/{user['id']}")

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"


def test_delete_user_twice_returns_404(client):
    user = create_user(client)
    client.http.delete(f"/users/{user['id']}")

    response = client.http.delete(f"/users/{user['id']}")

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"


def test_delete_user_keeps_row(client, database):
    user = create_user(client)

    client.http.delete(f"/users/{user['id']}")

    assert count_rows(database, "users") == 1


def test_delete_user_deletes_their_links(client):
    user = create_user(client)
    link = create_url(client, user["id"])

    client.http.delete(f"/users/{user['id']}")

    response = client.http.get(f"/urls/{link['id']}")
    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"
    assert get_json(client, f"/urls?user_id={user['id']}") == []


def test_delete_user_stops_their_redirects(client):
    user = create_user(client)
    link = create_url(client, user["id"])

    client.http.delete(f"/users/{user['id']}")

    response = client.http.get(f"/{link['short_code']}")
    assert response.status_code == 404
    assert response.json_body["code"]


def test_delete_user_keeps_others_links(client):
    user = create_user(client, "owner")
    other = create_user(client, "other")
    surviving = create_url(client, other["id"])
    create_url(client, user["id"])

    client.http.delete(f"/users/{user['id']}")

    assert get_json(client, f"/urls/{surviving['id']}") == surviving
    assert client.http.get(f"/{surviving['short_code']}").status_code == 302


def test_delete_user_keeps_their_events(client):
    user = create_user(client)
    link = create_url(client, user["id"])
    client.http.get(f"/{link['short_code']}")
    before = list_events(client, f"user_id={user['id']}")

    client.http.delete(f"/users/{user['id']}")

    after = list_events(client, f"user_id={user['id']}")
    assert after[: len(before)] == before
    assert {"created", "click"} <= {event["event_type"] for event in after}
