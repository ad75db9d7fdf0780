"""POST /users/bulk over HTTP with the real seed export and its variants."""

from __future__ import annotations

import csv

import requests


def upload(base_url: str, path) -> requests.Response:
    with path.open("rb") as handle:
        files = {"file": ("users.csv", handle, "text/csv")}
        return requests.post(f"{base_url}/users/bulk", files=files, timeout=60)


def emails(path) -> list[str]:
    with path.open(newline="") as handle:
        return [row["email"].strip().lower() for row in csv.DictReader(handle)]


def test_bulk_upload_seed_variants(dev_server, shared_seeds):
    duplicate = shared_seeds / "variants" / "duplicate_email" / "users.csv"
    distinct = shared_seeds / "variants" / "no_duplicates" / "users.csv"

    first = upload(dev_server.base_url, duplicate)
    again = upload(dev_server.base_url, duplicate)
    third = upload(dev_server.base_url, distinct)

    assert first.status_code == 201
    assert first.json() == {"count": 400, "imported": 400, "created": 399, "merged": 1}
    assert again.json() == {"count": 400, "imported": 400, "created": 0, "merged": 400}
    overlap = len(set(emails(distinct)) & set(emails(duplicate)))
    assert third.json() == {
        "count": 400,
        "imported": 400,
        "created": 400 - overlap,
        "merged": overlap,
    }
    listed = requests.get(f"{dev_server.base_url}/users?per_page=1000", timeout=30)
    assert len(listed.json()) == 399 + 400 - overlap


def test_bulk_upload_merged_row_keeps_first_user(dev_server, shared_seeds):
    duplicate = shared_seeds / "variants" / "duplicate_email" / "users.csv"
    found = requests.get(
        f"{dev_server.base_url}/users",
        params={"email": "livelykernel80@acme.dev"},
        timeout=30,
    )
    with duplicate.open(newline="") as handle:
        rows = [
            r for r in csv.DictReader(handle) if r["email"] == "livelykernel80@acme.dev"
        ]
    assert found.status_code == 200
    assert len(rows) == 2
    assert len(found.json()) == 1
    assert found.json()[0]["username"] == rows[0]["username"]
