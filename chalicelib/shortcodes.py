"""Short codes: random, unguessable, never equal to a top-level route."""

from __future__ import annotations

import secrets
import string

ALPHABET = string.ascii_letters + string.digits
LENGTH = 6
# Codes longer than this cannot exist, so lookups skip the database.
MAX_LOOKUP_LENGTH = 64

# First path segments the API serves itself; a code equal to one (compared
# case-insensitively, since a reader cannot tell them apart) would be shadowed.
RESERVED = frozenset(
    {"users", "urls", "events", "health", "metrics", "docs", "admin", "api"}
)


def generate() -> str:
    """Return a new random code of LENGTH characters from ALPHABET."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if code.lower() not in RESERVED:
            return code


def could_exist(code: str) -> bool:
    """Tell whether a path segment can be a stored code at all."""
    return 0 < len(code) <= MAX_LOOKUP_LENGTH and code.lower() not in RESERVED
