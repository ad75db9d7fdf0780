"""Load test with a realistic traffic mix, for the dev runner or a deployed stage.

    locust -f tests/load/locustfile.py --headless -u 50 -r 25 -t 30s \
        --host http://127.0.0.1:8000 --csv out/load

Point ``--host`` at a deployed stage's endpoint to run the same mix there.
Each simulated client creates one user and three links when it starts, then
waits 0.5 to 1.5 s between requests, like a person clicking. Of its
requests, 80% follow a redirect (the 302 and its Location are checked, and
the redirect is not followed), 14% read a link, a user's links or a link's
events, and 6% create a link. Every request outside that contract counts as
a failure, and locust exits with status 1 when any request failed.

The run is bounded by ``-t`` and by ``--max-requests`` (default 200,000):
the runner stops by itself when either is reached. The users and links it
creates stay in the database.
"""

from __future__ import annotations

import random
import uuid

import gevent
from locust import FastHttpUser, between, events, task
from locust.env import Environment

# A client keeps at most this many of its links to pick redirects from.
MAX_LINKS_PER_CLIENT = 20
DEFAULT_MAX_REQUESTS = 200_000


@events.init_command_line_parser.add_listener
def add_arguments(parser) -> None:
    parser.add_argument(
        "--max-requests",
        type=int,
        default=DEFAULT_MAX_REQUESTS,
        help="stop the run after this many requests (default: 200000)",
    )


@events.init.add_listener
def bound_request_count(environment: Environment, **kwargs) -> None:
    """Stop the runner once --max-requests requests have completed."""
    limit = environment.parsed_options.max_requests if environment.parsed_options else 0
    if not limit:
        return
    completed = 0

    def count(**kwargs) -> None:
        nonlocal completed
        completed += 1
        if completed == limit and environment.runner is not None:
            # Quitting from inside a request hook would kill the calling
            # client's greenlet mid-request, so quit from a new greenlet.
            gevent.spawn(environment.runner.quit)

    environment.events.request.add_listener(count)


class ShortenerVisitor(FastHttpUser):
    """One person: creates an account and links, then mostly follows links."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.run_id = uuid.uuid4().hex[:12]
        self.user_id: int | None = None
        self.links: list[dict] = []
        self._create_user()
        for _ in range(3):
            self._create_link()

    def _create_user(self) -> None:
        body = {
            "username": f"load-{self.run_id}",
            "email": f"load-{self.run_id}@example.com",
        }
        with self._post_json("/users", body, "POST /users") as response:
            if response.status_code != 201:
                response.failure(f"expected 201, got {response.status_code}")
                return
            self.user_id = response.json()["id"]

    def _create_link(self) -> None:
        if self.user_id is None:
            self._create_user()
            return
        number = random.randrange(10**9)
        body = {
            "user_id": self.user_id,
            "original_url": f"https://example.com/load/{self.run_id}/{number}",
            "title": f"load link {number}",
        }
        with self._post_json("/urls", body, "POST /urls") as response:
            if response.status_code != 201:
                response.failure(f"expected 201, got {response.status_code}")
                return
            self.links.append(response.json())
            del self.links[:-MAX_LINKS_PER_CLIENT]

    def _post_json(self, path: str, body: dict, name: str):
        return self.client.post(path, json=body, name=name, catch_response=True)

    def _some_link(self) -> dict | None:
        return random.choice(self.links) if self.links else None

    @task(80)
    def follow_redirect(self) -> None:
        link = self._some_link()
        if link is None:
            self._create_link()
            return
        with self.client.get(
            f"/{link['short_code']}",
            name="GET /{short_code}",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            location = response.headers.get("Location") if response.headers else None
            if response.status_code != 302:
                response.failure(f"expected 302, got {response.status_code}")
            elif location != link["original_url"]:
                response.failure(f"Location {location!r} is not the stored URL")
            else:
                response.success()

    @task(6)
    def read_link(self) -> None:
        link = self._some_link()
        if link is not None:
            self._get_json(f"/urls/{link['id']}", "GET /urls/{id}")

    @task(4)
    def list_user_links(self) -> None:
        if self.user_id is not None:
            self._get_json(f"/urls?user_id={self.user_id}", "GET /urls?user_id")

    @task(4)
    def list_link_events(self) -> None:
        link = self._some_link()
        if link is not None:
            self._get_json(f"/events?url_id={link['id']}", "GET /events?url_id")

    @task(6)
    def create_link(self) -> None:
        self._create_link()

    def _get_json(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"expected 200, got {response.status_code}")
