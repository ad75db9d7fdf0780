"""Short load run against a freshly deployed stage, started by the deploy workflow.

    locust -f tests/deploy/locustfile.py --headless --host ENDPOINT \
        --users 20 --spawn-rate 5 --run-time 60s

Each simulated client creates one user and three links, then mostly follows
redirects, as real traffic does. Locust exits with status 1 when any request
failed, which fails the workflow. The workflow bounds the run with
--run-time; the users and links it creates stay in the dev database.
"""

from __future__ import annotations

import random
import uuid

from locust import HttpUser, between, task


class ShortenerClient(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        run_id = uuid.uuid4().hex[:12]
        user = self.client.post(
            "/users",
            json={"username": f"load-{run_id}", "email": f"load-{run_id}@example.com"},
        ).json()
        self.user_id = user["id"]
        self.codes = [self._create_link(run_id, index) for index in range(3)]

    def _create_link(self, run_id: str, index: int) -> str:
        body = {
            "user_id": self.user_id,
            "original_url": f"https://example.com/load/{run_id}/{index}",
        }
        return self.client.post("/urls", json=body).json()["short_code"]

    @task(20)
    def follow_redirect(self) -> None:
        code = random.choice(self.codes)
        with self.client.get(
            f"/{code}", allow_redirects=False, name="/{short_code}", catch_response=True
        ) as response:
            if response.status_code != 302:
                response.failure(f"expected 302, got {response.status_code}")

    @task(2)
    def list_links(self) -> None:
        self.client.get(f"/urls?user_id={self.user_id}", name="/urls?user_id")

    @task(1)
    def health(self) -> None:
        self.client.get("/health")
