"""Concurrent requests that must not leave half-applied state behind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib import urls, users
from chalicelib.errors import NotFound


def _create_link(user_id: int, n: int) -> bool:
    try:
        urls.create_url({"user_id": user_id, "original_url": f"https://a.io/{n}"})
    except NotFound:
        return False
    return True


def _live_links(database, user_id: int) -> int:
    def work(cur):
        cur.execute(
            "SELECT count(*) FROM urls WHERE user_id = %s AND deleted_at IS NULL",
            (user_id,),
        )
        return cur.fetchone()[0]

    return database.run(work)


def test_user_delete_during_link_creates(database):
    for round_number in range(5):
        email = f"race{round_number}@example.com"
        owner = users.create_user({"username": "racer", "email": email})
        with ThreadPoolExecutor(max_workers=4) as pool:
            creates = [pool.submit(_create_link, owner["id"], n) for n in range(12)]
            deleted = pool.submit(users.delete_user, owner["id"])
            for future in creates:
                future.result()
            deleted.result()
        assert _live_links(database, owner["id"]) == 0
