"""Generate seed CSVs shaped like the hackathon exports, deterministic from a seed.

Run it as ``python -m tools.generate_seeds OUT_DIR [--seed N] [--users 400]
[--urls 2000] [--events 0]``. It writes users.csv, urls.csv and events.csv with
the columns, value styles and proportions of the real exports. Usernames look
like ``livelypioneer98``, short codes have six characters, and about 18% of
the links are inactive. events.csv has one ``created`` event per link, then
``updated`` events for about 60% and ``deleted`` events for about 11% of the
links, and ``--events`` appends that many ``click`` events. Like the real
exports, the files contain defects that the seed loader must handle: repeated
usernames, one e-mail address repeated with different letter case, links whose
user does not exist and events whose link does not exist.

Rows are written as they are generated, and per-link state is kept in compact
arrays of about 35 bytes per link plus lists of link indexes for the event
blocks. A million links and ten million events peaked at 120 MB resident.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import math
import random
import string
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from chalicelib.seeds import (
    EVENTS_COLUMNS,
    RESERVED_CODES,
    URLS_COLUMNS,
    USERS_COLUMNS,
)

logger = logging.getLogger(__name__)

# fmt: off
ADJECTIVES = (
    "amber", "brisk", "calm", "clear", "cobalt", "dawn", "ember", "forest", "gold",
    "harbor", "ivory", "jade", "keen", "lively", "mellow", "navy", "opal", "proud",
    "quiet", "rapid", "silver", "tidy", "urban", "vivid", "warm", "young",
)
NOUNS = (
    "anchor", "beacon", "canyon", "delta", "engine", "field", "garden", "harvest",
    "island", "journey", "kernel", "lagoon", "meadow", "network", "orbit", "pioneer",
    "quartz", "river", "signal", "trail", "uplink", "valley", "window", "yard",
    "zenith",
)
UPDATE_WORDS = (
    "archived", "boosted", "patched", "promoted", "quieted", "refined", "rerouted",
    "rotated",
)
# fmt: on
DOMAINS = (
    "acme.dev",
    "example.com",
    "hackstack.io",
    "opswise.net",
    "relay.cloud",
    "seeded.app",
)
TITLE_PREFIXES = (
    "Alert feed",
    "Campaign page",
    "Demo link",
    "Incident notes",
    "Launch deck",
    "Ops review",
    "Quarterly brief",
    "Roadmap update",
    "Service guide",
    "Status board",
)
UPDATE_FIELDS = ("is_active", "title", "original_url")
DELETE_REASONS = ("duplicate", "expired", "policy_cleanup", "user_requested")
REFERRERS = (
    None,
    "https://news.ycombinator.com/",
    "https://www.google.com/",
    "https://twitter.com/",
    "https://www.linkedin.com/",
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0",
    "curl/8.5.0",
)

# Shares of links in the real exports (2000 links: 1206 updated, 216 deleted,
# 362 inactive).
UPDATED_SHARE = 0.603
DELETED_SHARE = 0.108
INACTIVE_SHARE = 0.181

# Planned defects: usernames repeated with another e-mail domain, e-mails
# repeated with different letter case, links whose user id does not exist,
# and events whose link id does not exist.
REPEATED_USERNAMES = 3
REPEATED_EMAILS = 1
ORPHAN_URLS = 2
ORPHAN_EVENTS = 3
MIN_ROWS = 10

_EPOCH = datetime(1970, 1, 1)
USERS_START = datetime(2024, 1, 1)
USERS_END = datetime(2026, 2, 1, 23, 59, 59)
URLS_START = datetime(2025, 1, 1)
URLS_END = datetime(2026, 2, 20, 23, 59, 59)
EVENTS_END = datetime(2026, 2, 28, 23, 59, 59)
_SECONDS_PER_DAY = 86_400

_CODE_ALPHABET = string.ascii_letters + string.digits
_CODE_LENGTH = 6
_CODE_SPACE = len(_CODE_ALPHABET) ** _CODE_LENGTH
# Every two-digit base-62 string, least significant digit first.
_CODE_PAIRS = [low + high for high in _CODE_ALPHABET for low in _CODE_ALPHABET]
_HALF_BITS = 18  # a 36-bit Feistel block covers the 62**6 codes
_HALF_MASK = (1 << _HALF_BITS) - 1

# Bits of the per-link flags byte.
_UPDATED, _DELETED, _ACTIVE, _ORPHAN = 1, 2, 4, 8
_ROWS_PER_WRITE = 10_000


@dataclass
class GeneratedSeeds:
    """Row counts and the ids of the planned defects of a generated set."""

    users: int = 0
    urls: int = 0
    events: int = 0
    # (kept id, repeated id) pairs: same username, other e-mail domain.
    repeated_usernames: list[tuple[int, int]] = field(default_factory=list)
    # (kept id, repeated id) pairs: same e-mail in other letter case.
    repeated_emails: list[tuple[int, int]] = field(default_factory=list)
    orphan_url_ids: list[int] = field(default_factory=list)
    orphan_event_ids: list[int] = field(default_factory=list)


def generate_seeds(
    out_dir: str | Path,
    *,
    seed: int = 0,
    users: int = 400,
    urls: int = 2000,
    clicks: int = 0,
) -> GeneratedSeeds:
    """Write users.csv, urls.csv and events.csv to out_dir and return the counts.

    The same arguments always produce byte-identical files. Raises ValueError
    when users or urls is below MIN_ROWS or clicks is negative.
    """
    if users < MIN_ROWS or urls < MIN_ROWS:
        raise ValueError(
            f"users and urls must each be at least {MIN_ROWS}, got {users} and {urls}"
        )
    if clicks < 0:
        raise ValueError(f"clicks must not be negative, got {clicks}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generator = _Generator(seed, users, urls, clicks)
    _write_csv(out_dir / "users.csv", USERS_COLUMNS, generator.users())
    _write_csv(out_dir / "urls.csv", URLS_COLUMNS, generator.urls())
    _write_events(out_dir / "events.csv", generator.events())
    result = generator.result
    logger.info(
        "wrote %d users, %d urls and %d events to %s (seed %d)",
        result.users,
        result.urls,
        result.events,
        out_dir,
        seed,
    )
    return result


def _seconds(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


class _Clock:
    """Formats Unix seconds as ``YYYY-MM-DD HH:MM:SS`` from cached parts.

    Formatting each value through datetime is several times slower, which
    adds up over ten million events.
    """

    def __init__(self) -> None:
        self.dates: dict[int, str] = {}
        self.times = [
            f"{hour:02d}:{minute:02d}:{second:02d}"
            for hour in range(24)
            for minute in range(60)
            for second in range(60)
        ]

    def format(self, seconds: int) -> str:
        day, second = divmod(seconds, _SECONDS_PER_DAY)
        date = self.dates.get(day) or self.date(day)
        return f"{date} {self.times[second]}"

    def date(self, day: int) -> str:
        """Return and cache the date of day, counted from 1970-01-01."""
        date = (_EPOCH + timedelta(days=day)).date().isoformat()
        self.dates[day] = date
        return date


class _ShortCodes:
    """Unique six-character codes: a keyed permutation of the url id.

    A 4-round Feistel network permutes 36-bit numbers, and cycle walking keeps
    the result below 62**6, so distinct ids give distinct codes without a set
    of the codes handed out. A code that spells a route name is replaced by
    the code of a spare number counted down from the top of the range.
    """

    def __init__(self, rng: random.Random) -> None:
        self._keys = [rng.getrandbits(_HALF_BITS) for _ in range(4)]
        self._next_spare = _CODE_SPACE - 1

    def code(self, number: int) -> str:
        code = self._encode(self._permute(number))
        while code.lower() in RESERVED_CODES:
            code = self._encode(self._permute(self._next_spare))
            self._next_spare -= 1
        return code

    def _permute(self, number: int) -> int:
        value = self._feistel(number)
        while value >= _CODE_SPACE:
            value = self._feistel(value)
        return value

    def _feistel(self, value: int) -> int:
        left, right = value >> _HALF_BITS, value & _HALF_MASK
        for key in self._keys:
            mixed = ((right ^ key) * 0x9E3779B1) >> 7
            left, right = right, left ^ (mixed & _HALF_MASK)
        return (left << _HALF_BITS) | right

    @staticmethod
    def _encode(value: int) -> str:
        """Write value in base 62, least significant digit first."""
        rest, first = divmod(value, len(_CODE_PAIRS))
        third, second = divmod(rest, len(_CODE_PAIRS))
        return _CODE_PAIRS[first] + _CODE_PAIRS[second] + _CODE_PAIRS[third]


class _Usernames:
    """Distinct usernames such as ``livelypioneer98``: adjective, noun, number.

    An affine permutation of the user index spreads users over the name space,
    and the number gets more digits when two are not enough for every user.
    """

    def __init__(self, rng: random.Random, count: int) -> None:
        combinations = len(ADJECTIVES) * len(NOUNS)
        self._digits = 2
        while combinations * 10**self._digits < 4 * count:
            self._digits += 1
        self._space = combinations * 10**self._digits
        self._offset = rng.randrange(self._space)
        self._step = rng.randrange(1, self._space)
        while math.gcd(self._step, self._space) != 1:
            self._step += 1

    def name(self, index: int) -> str:
        value = (self._step * index + self._offset) % self._space
        value, adjective = divmod(value, len(ADJECTIVES))
        number, noun = divmod(value, len(NOUNS))
        return f"{ADJECTIVES[adjective]}{NOUNS[noun]}{number:0{self._digits}d}"


class _Generator:
    """Row source of one set.

    Call users(), urls() and events() in this order, because each one reads
    the state that the one before stored.
    """

    def __init__(self, seed: int, users: int, urls: int, clicks: int) -> None:
        self.rng = random.Random(seed)
        # random() is much cheaper than randint() and choice() in hot loops.
        self._random = self.rng.random
        self.clock = _Clock()
        self._users_start, self._users_end = _seconds(USERS_START), _seconds(USERS_END)
        self._urls_start, self._urls_end = _seconds(URLS_START), _seconds(URLS_END)
        self._events_end = _seconds(EVENTS_END)
        self.user_count = users
        self.url_count = urls
        self.click_count = clicks
        self.result = GeneratedSeeds()
        self.user_created = array("q")
        # Per-link state that the events need, indexed by url id - 1.
        self.owner = array("q")
        self.created = array("q")
        self.updated = array("q")
        self.codes = bytearray()
        self.url_parts = bytearray()  # domain, adjective and noun index
        self.flags = bytearray()

    def _pick(self, choices: tuple | list):
        return choices[int(self._random() * len(choices))]

    def _between(self, low: int, high: int) -> int:
        """Return a random integer in [low, high]."""
        return low + int(self._random() * (high - low + 1))

    def users(self) -> Iterator[tuple]:
        names = _Usernames(self.rng, self.user_count)
        repeats = self._plan_repeats()
        originals = {earlier for earlier, _ in repeats.values()}
        seen: dict[int, tuple[str, str]] = {}
        for index in range(self.user_count):
            username, domain = names.name(index), self._pick(DOMAINS)
            email = f"{username}@{domain}"
            if index in repeats:
                username, email = self._repeat(index, *repeats[index], seen)
            elif index in originals:
                seen[index] = (username, domain)
            created = self._between(self._users_start, self._users_end)
            self.user_created.append(created)
            self.result.users += 1
            yield index + 1, username, email, self.clock.format(created)

    def _plan_repeats(self) -> dict[int, tuple[int, bool]]:
        """Map each repeating user index to (earlier index, repeats the e-mail)."""
        count = 2 * (REPEATED_USERNAMES + REPEATED_EMAILS)
        picked = self.rng.sample(range(self.user_count), count)
        pairs = [sorted(picked[i : i + 2]) for i in range(0, count, 2)]
        # The first REPEATED_EMAILS pairs repeat the e-mail, the rest the username.
        return {
            later: (earlier, n < REPEATED_EMAILS)
            for n, (earlier, later) in enumerate(pairs)
        }

    def _repeat(
        self,
        index: int,
        earlier: int,
        same_email: bool,
        seen: dict[int, tuple[str, str]],
    ) -> tuple[str, str]:
        """Return the username and e-mail of a planned repeat of user earlier."""
        username, domain = seen[earlier]
        pair = (earlier + 1, index + 1)
        if same_email:
            self.result.repeated_emails.append(pair)
            return username, f"{username.capitalize()}@{domain.upper()}"
        self.result.repeated_usernames.append(pair)
        other = self._pick([name for name in DOMAINS if name != domain])
        return username, f"{username}@{other}"

    def urls(self) -> Iterator[tuple]:
        codes = _ShortCodes(self.rng)
        special = self.rng.sample(range(self.url_count), ORPHAN_URLS + 1)
        orphans = {index: n for n, index in enumerate(special[1:])}
        # The user that the loader merges must own a link, or nothing is remapped.
        owners = {special[0]: self.result.repeated_emails[0][1]}
        for index, missing in orphans.items():
            owners[index] = self.user_count + 1 + missing
        self.result.orphan_url_ids = sorted(index + 1 for index in orphans)
        for index in range(self.url_count):
            owner = owners.get(index) or self._between(1, self.user_count)
            row = self._url_row(index + 1, owner, codes.code(index + 1))
            if index in orphans:
                self.flags[index] |= _ORPHAN
            self.result.urls += 1
            yield row

    def _url_row(self, url_id: int, owner: int, code: str) -> tuple:
        """Draw one link, keep what its events need, return its CSV row."""
        earliest = self._urls_start
        if owner <= self.user_count:
            earliest = max(earliest, self.user_created[owner - 1])
        created = self._between(earliest, self._urls_end - 3600)
        updated = self._between(created + 60, self._urls_end)
        parts = (
            int(self._random() * len(DOMAINS)),
            int(self._random() * len(ADJECTIVES)),
            int(self._random() * len(NOUNS)),
        )
        flags = self._draw_flags()
        self.owner.append(owner)
        self.created.append(created)
        self.updated.append(updated)
        self.codes += code.encode("ascii")
        self.url_parts += bytes(parts)
        self.flags.append(flags)
        return (
            url_id,
            owner,
            code,
            _original_url(url_id, *parts),
            f"{self._pick(TITLE_PREFIXES)} {self._pick(NOUNS)}",
            "True" if flags & _ACTIVE else "False",
            self.clock.format(created),
            self.clock.format(updated),
        )

    def _draw_flags(self) -> int:
        # Deleted links are inactive, and other inactive links make up the
        # rest of INACTIVE_SHARE.
        flags = _UPDATED if self._random() < UPDATED_SHARE else 0
        if self._random() < DELETED_SHARE:
            return flags | _DELETED
        extra_inactive = (INACTIVE_SHARE - DELETED_SHARE) / (1 - DELETED_SHARE)
        return flags if self._random() < extra_inactive else flags | _ACTIVE

    def _code(self, index: int) -> str:
        return self.codes[index * _CODE_LENGTH : (index + 1) * _CODE_LENGTH].decode()

    def events(self) -> Iterator[tuple]:
        """Yield (id, url_id, user_id, event_type, timestamp, details JSON) rows."""
        event_ids = itertools.count(1)
        for index in range(self.url_count):
            yield self._created_event(next(event_ids), index)
        for index in self._shuffled(_UPDATED, ORPHAN_EVENTS):
            yield self._updated_event(next(event_ids), index)
        for index in self._shuffled(_DELETED, 0):
            yield self._deleted_event(next(event_ids), index)
        if self.click_count:
            yield from self._click_events(event_ids)
        self.result.events = next(event_ids) - 1

    def _shuffled(self, flag: int, orphans: int) -> list[int]:
        """Return the indexes of the links with flag, in random order.

        The negative numbers -1, -2, ... stand for events of links that do not
        exist.
        """
        indexes = [index for index, flags in enumerate(self.flags) if flags & flag]
        indexes.extend(range(-1, -orphans - 1, -1))
        self.rng.shuffle(indexes)
        return indexes

    # Details JSON is built with f-strings because every value comes from the
    # vocabularies above and contains no character that JSON escapes.
    def _created_event(self, event_id: int, index: int) -> tuple:
        url = _original_url(index + 1, *self.url_parts[index * 3 : index * 3 + 3])
        details = f'{{"short_code":"{self._code(index)}","original_url":"{url}"}}'
        when = self.clock.format(self.created[index])
        return event_id, index + 1, self.owner[index], "created", when, details

    def _updated_event(self, event_id: int, index: int) -> tuple:
        name = self._pick(UPDATE_FIELDS)
        if name == "original_url":
            value = f"https://{self._pick(DOMAINS)}/{self._pick(NOUNS)}/"
            value += str(self._between(10, 9999))
        else:
            value = self._pick(UPDATE_WORDS)
        details = f'{{"field":"{name}","new_value":"{value}"}}'
        if index < 0:
            return self._orphan_event(event_id, -index, details)
        seconds = self._between(self.created[index] + 1, self.updated[index])
        when = self.clock.format(seconds)
        return event_id, index + 1, self.owner[index], "updated", when, details

    def _orphan_event(self, event_id: int, number: int, details: str) -> tuple:
        """Return an updated event of url id url_count + number, which is absent."""
        self.result.orphan_event_ids.append(event_id)
        owner = self._between(1, self.user_count)
        seconds = self._between(self._urls_start, self._urls_end)
        when = self.clock.format(seconds)
        return event_id, self.url_count + number, owner, "updated", when, details

    def _deleted_event(self, event_id: int, index: int) -> tuple:
        seconds = self._between(self.updated[index], self._events_end)
        details = f'{{"reason":"{self._pick(DELETE_REASONS)}"}}'
        when = self.clock.format(seconds)
        return event_id, index + 1, self.owner[index], "deleted", when, details

    def _click_events(self, event_ids: Iterator[int]) -> Iterator[tuple]:
        """Yield click_count clicks on random active links that have an owner."""
        live = [
            index
            for index, flags in enumerate(self.flags)
            if flags & _ACTIVE and not flags & _ORPHAN
        ]
        if not live:
            raise ValueError("click events need at least one active link")
        tails = [
            json.dumps(
                {"referrer": referrer, "user_agent": agent}, separators=(",", ":")
            ).replace('"referrer":null,', "")[1:-1]
            for referrer in REFERRERS
            for agent in USER_AGENTS
        ]
        yield from self._click_loop(event_ids, live, tails)

    def _click_loop(
        self, event_ids: Iterator[int], live: list[int], tails: list[str]
    ) -> Iterator[tuple]:
        # The helpers _pick, _between, _code and clock.format are inlined and
        # everything is bound to locals, because this loop runs once per click.
        random, live_count, tail_count = self._random, len(live), len(tails)
        created, owner, dates = self.created, self.owner, self.clock.dates
        codes, times = self.codes.decode("ascii"), self.clock.times
        end = self._events_end
        for _ in range(self.click_count):
            index = live[int(random() * live_count)]
            start = created[index]
            day, second = divmod(
                start + int(random() * (end - start + 1)), _SECONDS_PER_DAY
            )
            date = dates.get(day) or self.clock.date(day)
            code = codes[index * _CODE_LENGTH : (index + 1) * _CODE_LENGTH]
            tail = tails[int(random() * tail_count)]
            details = f'{{"short_code":"{code}",{tail}}}'
            when = f"{date} {times[second]}"
            yield next(event_ids), index + 1, owner[index], "click", when, details


def _original_url(url_id: int, domain: int, adjective: int, noun: int) -> str:
    return f"https://{DOMAINS[domain]}/{ADJECTIVES[adjective]}/{NOUNS[noun]}/{url_id}"


def _write_csv(path: Path, header: tuple[str, ...], rows: Iterator[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        while batch := list(itertools.islice(rows, _ROWS_PER_WRITE)):
            writer.writerows(batch)


def _write_events(path: Path, rows: Iterator[tuple]) -> None:
    """Write events.csv, quoting only details, as csv.writer would.

    The other fields are numbers, fixed words and timestamps that need no
    quoting. Formatting the lines here takes about a third of csv.writer's time.
    """
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(",".join(EVENTS_COLUMNS) + "\n")
        while batch := list(itertools.islice(rows, _ROWS_PER_WRITE)):
            file.write("".join([_event_line(*row) for row in batch]))


def _event_line(
    event_id: int, url_id: int, user_id: int, kind: str, when: str, details: str
) -> str:
    quoted = details.replace('"', '""')
    return f'{event_id},{url_id},{user_id},{kind},{when},"{quoted}"\n'


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.generate_seeds",
        description="Write seed CSVs shaped like the hackathon exports.",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write the CSVs into")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--users", type=int, default=400, help="number of users (default: 400)"
    )
    parser.add_argument(
        "--urls", type=int, default=2000, help="number of links (default: 2000)"
    )
    parser.add_argument(
        "--events",
        type=int,
        default=0,
        help="extra click events beyond the created, updated and deleted "
        "events of the links (default: 0)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        generate_seeds(
            args.out_dir,
            seed=args.seed,
            users=args.users,
            urls=args.urls,
            clicks=args.events,
        )
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
