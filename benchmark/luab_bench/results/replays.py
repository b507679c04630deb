"""Replays: one run submitted twice (a copied file, or a second run of the same seed) counts once.

A byte-for-byte copy of a signed result verifies like the original, so signatures cannot stop it;
counted twice it would inflate the seed statistics (one run + one copy shows k = 2 with a zero
interval). Two results are the same run when they share

- the ``result_id``, or
- the (suite, variant, model, protocol, seed) a seed group is made of: the mean over seeds is a mean
  over *seeds*, so one seed enters once, whoever ran it.

Of each set of duplicates one is kept: the most trusted (verified, then self-signed, then the rest),
then the earliest ``created_at``, then the file name; every other one is reported with the file it
duplicates and is left out of every statistic. Nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: keep order: a trusted result wins over a self-signed one, which wins over unsigned/failing ones
STATUS_RANK = {"verified": 0, "self-signed": 1}


@dataclass(frozen=True)
class Replay:
    """``file`` repeats ``duplicate_of`` (the kept one) for ``reason``."""

    file: str
    duplicate_of: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "duplicate_of": self.duplicate_of, "reason": self.reason}


def run_key(row: dict[str, Any]) -> tuple[str, str, str, str, int]:
    """(suite, variant, model, protocol, seed) of a leaderboard row: one seed of one seed group."""
    s = row["suite"]
    return (s["name"], s.get("variant", ""), row["model"]["name"], row["protocol"]["name"], row["seed"])


def find_replays(rows: Iterable[dict[str, Any]]) -> list[Replay]:
    """Every row that duplicates a kept one (see the module doc), sorted by file name.

    ``rows`` are leaderboard rows (``file``, ``result_id``, ``created_at``, ``model``, ``protocol``,
    ``suite``, ``seed``, ``signature.status``), as :func:`luab_bench.leaderboard.build.collect_rows`
    makes them.
    """

    def order(r: dict[str, Any]) -> tuple[int, str, str]:
        return (STATUS_RANK.get(r["signature"]["status"], 2), r["created_at"], r["file"])

    by_id: dict[str, str] = {}
    by_run: dict[tuple[str, str, str, str, int], str] = {}
    out = []
    for r in sorted(rows, key=order):
        key = run_key(r)
        if r["result_id"] in by_id:
            out.append(Replay(r["file"], by_id[r["result_id"]], f"same result_id {r['result_id']!r}"))
        elif key in by_run:
            suite, variant, model, protocol, seed = key
            where = f"{suite}/{variant}" if variant and variant != suite else suite
            reason = f"same model/protocol/suite/seed {model}/{protocol}/{where}/{seed}"
            out.append(Replay(r["file"], by_run[key], reason))
        else:
            by_id[r["result_id"]] = by_run[key] = r["file"]
    return sorted(out, key=lambda d: d.file)
