"""POST /users/bulk: CSV import of users in one transaction."""

from __future__ import annotations

import re

import pytest

from tests.functional.conftest import (
    TIMESTAMP,
    count_rows,
    create_user,
    get_json,
    multipart_body,
    post_json,
    upload_csv,
)


def users(client):
    return get_json(client, "/users?per_page=1000")


def assert_rejected(response, database, users_before=0):
    assert response.status_code == 400
    assert isinstance(response.json_body["error"], str)
    assert isinstance(response.json_body["code"], str)
    assert count_rows(database, "users") == users_before


def test_import_returns_201_with_counts(client):
    data = b"username,email\nann,ann@example.com\nben,ben@example.com\n"

    response = upload_csv(client, data)

    assert response.status_code == 201
    assert response.json_body["count"] == 2
    assert response.json_body["imported"] == 2
    assert type(response.json_body["count"]) is int


def test_import_creates_users_in_file_order(client):
    data = b"username,email\nzoe,zoe@example.com\nadam,adam@example.com\nmo,mo@x.org\n"

    upload_csv(client, data)

    listed = users(client)
    assert [user["username"] for user in listed] == ["zoe", "adam", "mo"]
    assert [user["email"] for user in listed] == [
        "zoe@example.com",
        "adam@example.com",
        "mo@x.org",
    ]
    assert all(TIMESTAMP.match(user["created_at"]) for user in listed)


def test_import_ignores_id_column(client):
    data = b"id,username,email\n50,late,late@example.com\n7,early,early@example.com\n"

    upload_csv(client, data)

    listed = users(client)
    assert [user["username"] for user in listed] == ["late", "early"]
    assert listed[0]["id"] < listed[1]["id"]
    assert 50 not in [user["id"] for user in listed]


def test_import_keeps_created_at(client):
    data = b"username,email,created_at\nold,old@example.com,2024-03-09 07:51:31\n"

    upload_csv(client, data)

    assert users(client)[0]["created_at"] == "2024-03-09T07:51:31"


def test_import_blank_created_at_uses_now(client):
    data = b"username,email,created_at\nnew,new@example.com,\n"

    response = upload_csv(client, data)

    assert response.status_code == 201
    assert TIMESTAMP.match(users(client)[0]["created_at"])


def test_import_trims_values(client):
    data = b"username,email\n  pat  , pat@example.com \n"

    upload_csv(client, data)

    assert users(client)[0]["username"] == "pat"
    assert users(client)[0]["email"] == "pat@example.com"


def test_import_merges_repeated_email_in_file(client):
    data = (
        b"username,email\n"
        b"first,dup@example.com\n"
        b"other,other@example.com\n"
        b"second,DUP@Example.com\n"
    )

    response = upload_csv(client, data)

    assert response.status_code == 201
    assert response.json_body["count"] == 3
    assert response.json_body["imported"] == 3
    listed = users(client)
    assert [user["username"] for user in listed] == ["first", "other"]


def test_import_merges_existing_user_email(client):
    existing = create_user(client, "kept", "kept@example.com")
    data = b"username,email\nnewname,KEPT@example.com\nfresh,fresh@example.com\n"

    response = upload_csv(client, data)

    assert response.status_code == 201
    assert response.json_body["count"] == 2
    assert response.json_body["imported"] == 2
    listed = users(client)
    assert [user["email"] for user in listed] == [
        "kept@example.com",
        "fresh@example.com",
    ]
    assert listed[0]["id"] == existing["id"]


def test_import_email_of_deleted_user_creates_user(client):
    deleted = create_user(client, "deleted", "deleted@example.com")
    client.http.delete(f"/users/{deleted['id']}")

    upload_csv(client, b"username,email\nback,deleted@example.com\n")

    listed = users(client)
    assert [user["username"] for user in listed] == ["back"]
    assert listed[0]["id"] != deleted["id"]


def test_import_repeated_usernames_create_users(client):
    data = b"username,email\nsam,sam1@example.com\nsam,sam2@example.com\n"

    upload_csv(client, data)

    assert [user["username"] for user in users(client)] == ["sam", "sam"]


def test_import_header_only_returns_count_0(client, database):
    response = upload_csv(client, b"username,email\n")

    assert response.status_code == 201
    assert response.json_body["count"] == 0
    assert response.json_body["imported"] == 0
    assert count_rows(database, "users") == 0


def test_import_accepts_utf8_bom_and_crlf(client):
    data = "\ufeffusername,email\r\nJosé,jose@example.com\r\n".encode()

    response = upload_csv(client, data)

    assert response.status_code == 201
    assert users(client)[0]["username"] == "José"


def test_import_without_body_returns_400(client, database):
    response = client.http.post("/users/bulk")

    assert_rejected(response, database)


def test_import_json_body_returns_400(client, database):
    response = post_json(client, "/users/bulk", {"username": "a", "email": "a@b.co"})

    assert_rejected(response, database)


def test_import_without_file_part_returns_400(client, database):
    content_type, body = multipart_body({"upload": b"username,email\na,a@x.org\n"})

    response = client.http.post(
        "/users/bulk", headers={"Content-Type": content_type}, body=body
    )

    assert_rejected(response, database)
    assert "file" in response.json_body["error"]


def test_import_empty_multipart_returns_400(client, database):
    content_type, body = multipart_body({})

    response = client.http.post(
        "/users/bulk", headers={"Content-Type": content_type}, body=body
    )

    assert_rejected(response, database)


def test_import_empty_file_returns_400(client, database):
    assert_rejected(upload_csv(client, b""), database)


@pytest.mark.parametrize("column", ["username", "email"])
def test_import_missing_required_column_returns_400(client, database, column):
    header = "username,email,created_at".replace(f"{column},", "")
    data = f"{header}\nvalue,other@example.com,\n".encode()

    response = upload_csv(client, data)

    assert_rejected(response, database)
    assert column in response.json_body["error"]


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        ("cleo,not-an-email,", "email"),
        ("cleo,,", "email"),
        ("   ,cleo@example.com,", "username"),
        ("cleo,cleo@example.com,yesterday", "created_at"),
        ("cleo,cleo@example.com,2024-13-40 99:00:00", "created_at"),
        (f"{'u' * 151},cleo@example.com,", "username"),
    ],
)
def test_import_invalid_row_writes_nothing(client, database, bad_row, field):
    create_user(client, "present", "present@example.com")
    data = (
        "username,email,created_at\n"
        f"ok,ok@example.com,\n"
        f"{bad_row}\n"
        "after,after@example.com,\n"
    ).encode()

    response = upload_csv(client, data)

    assert_rejected(response, database, users_before=1)
    error = response.json_body["error"]
    assert re.search(r"\b(row|line) 3\b", error), error
    assert field in error
    assert response.json_body.get("field") == field


def test_import_nul_character_returns_400(client, database):
    data = b"username,email\nok,ok@example.com\na\x00b,nul@example.com\n"

    response = upload_csv(client, data)

    assert_rejected(response, database)


def test_import_non_utf8_file_returns_400(client, database):
    data = b"username,email\n\xe9l\xe8ve,eleve@example.com\n"

    response = upload_csv(client, data)

    assert_rejected(response, database)
    assert "UTF-8" in response.json_body["error"]


def test_import_over_upload_limit_returns_413(client, database):
    row = b"someone,someone@example.com\n"
    data = b"username,email\n" + row * (6 * 1024 * 1024 // len(row))

    response = upload_csv(client, data)

    assert response.status_code == 413
    assert isinstance(response.json_body["code"], str)
    assert count_rows(database, "users") == 0


def test_import_many_rows_counts_each(client):
    rows = "".join(f"user{i},user{i}@example.com\n" for i in range(500))

    response = upload_csv(client, f"username,email\n{rows}".encode())

    assert response.json_body["count"] == 500
    assert len(users(client)) == 500
