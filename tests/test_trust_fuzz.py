"""Seeded mutation fuzzer over signed results (issue 17): no mutant may verify as trusted.

From genuine results of two submissions (team-a: resnet10t/luab, team-b: resnet50/baseline), a
``random.Random(17)`` makes mutants in eight classes: content edits, swapped signatures/keys,
small-order keys, non-canonical encodings, base64 with non-zero trailing bits, random bit flips,
cross-submission re-signing, and replays (byte copies and re-serialised copies). Every mutant but
the replays must fail verification against the submissions; the replays verify one by one (their
bytes are genuine) and must instead be reported as duplicates and counted once by the site build.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from luab_bench.results import ed25519_checks as ec
from luab_bench.results.signing import canonical_bytes, generate_keypair, key_fingerprint, verify_document
from luab_bench.results.trust import TrustSet
from test_trust import (
    IDENTITY_KEY,
    NON_CANONICAL_KEYS,
    PUBLISHED_SMALL_ORDER,
    _set_trailing_bits,
    b64,
    doc,
    forge,
    signed,
    write_submission,
)

SEED = 17
Mutant = tuple[str, dict[str, Any]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("fuzz")
    keys = {name: generate_keypair(tmp / "keys", name=name) for name in ("a", "b")}
    root = tmp / "submissions"
    write_submission(root, "team-a", keys["a"][1])
    write_submission(root, "team-b", keys["b"][1], model="resnet50", protocol="baseline")
    a_key, b_key = keys["a"][0], keys["b"][0]
    originals = [signed(doc(seed=s, value=60.0 + s), a_key, "team-a" if s % 2 else None) for s in range(4)]
    originals += [signed(doc("resnet50", "baseline", s, 50.0 + s), b_key, "team-b") for s in (0, 1)]
    # The worst case of the issue: the forger's key is trusted anyway (as CI trusted the identity key
    # that `submission keys` printed). A ``sha256:`` fingerprint cannot be checked for small order,
    # so only the checks on the signature block itself stand between it and a forgery.
    bad_keys = [key_fingerprint(b64(k)) for k in PUBLISHED_SMALL_ORDER + NON_CANONICAL_KEYS]
    trust = TrustSet.from_submissions(root) + TrustSet.from_keys(bad_keys)
    return {"tmp": tmp, "keys": keys, "trust": trust, "originals": originals}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _changed(rng: random.Random, value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 7, 1000])
    if isinstance(value, float):
        return rng.choice([value + 0.01, value * 1.5 + 1, -value - 1, round(value) + 0.5])
    if isinstance(value, str):
        return rng.choice([value + "x", value.upper() + "1", "", "resnet50", "2026-02-01T00:00:00Z"])
    if value is None:
        return 0
    return rng.choice([{}, [], None])


def content_edits(rng: random.Random, originals: list[dict[str, Any]], n: int) -> list[Mutant]:
    out: list[Mutant] = []
    while len(out) < n:
        m = copy.deepcopy(rng.choice(originals))
        body = {k: v for k, v in m.items() if k != "signature"}
        kind = rng.random()
        if kind < 0.1:
            m[rng.choice(["extra", "notes", "submission_id"])] = "team-a" if rng.random() < 0.5 else 1
        elif kind < 0.2:
            m.pop(rng.choice([k for k in body if k != "schema_version"]))
        else:
            path = rng.choice(_leaves(body))
            target = m
            for p in path[:-1]:
                target = target[p]
            target[path[-1]] = _changed(rng, target[path[-1]])
        try:
            if canonical_bytes(m) == canonical_bytes(body):
                continue
        except (TypeError, ValueError):
            pass
        out.append(("content edit", m))
    return out


def swaps(rng: random.Random, originals: list[dict[str, Any]], n: int) -> list[Mutant]:
    out: list[Mutant] = []
    while len(out) < n:
        a, b = rng.sample(originals, 2)
        m = copy.deepcopy(a)
        choice = rng.randrange(3)
        if choice == 0:
            m["signature"]["value"] = b["signature"]["value"]
        elif choice == 1:
            m["signature"]["public_key"] = b["signature"]["public_key"]
        else:
            m["signature"] = copy.deepcopy(b["signature"])
        if m["signature"] == a["signature"]:
            continue
        out.append(("swapped signature/key", m))
    return out


def small_order(rng: random.Random, originals: list[dict[str, Any]], n: int) -> list[Mutant]:
    out: list[Mutant] = []
    for i in range(n):
        key = PUBLISHED_SMALL_ORDER[i % 8]
        r = rng.choice(PUBLISHED_SMALL_ORDER)
        s = 0 if rng.random() < 0.5 else rng.randrange(ec.L)
        out.append(("small-order key", forge(rng.choice(originals), key, r, s)))
    return out


def non_canonical(rng: random.Random, originals: list[dict[str, Any]], n: int) -> list[Mutant]:
    out: list[Mutant] = []
    identity = base64.b64decode(IDENTITY_KEY)
    for i in range(n):
        base = rng.choice(originals)
        raw = base64.b64decode(base["signature"]["value"])
        r, s = raw[:32], int.from_bytes(raw[32:], "little")
        kind = i % 4
        if kind == 0:
            m = forge(base, NON_CANONICAL_KEYS[i % len(NON_CANONICAL_KEYS)], identity)
        elif kind == 1:  # S + L (and + 2L, ...): the same S mod L, a second spelling
            m = copy.deepcopy(base)
            m["signature"]["value"] = b64(r + (s + ec.L * (1 + i % 3)).to_bytes(32, "little"))
        elif kind == 2:  # R written with y >= p
            m = copy.deepcopy(base)
            m["signature"]["value"] = b64((ec.P + 1 + i % 2).to_bytes(32, "little") + raw[32:])
        else:  # a genuine key with its sign bit flipped (the other x, usually off the subgroup)
            key = bytearray(base64.b64decode(base["signature"]["public_key"]))
            key[31] ^= 0x80
            m = copy.deepcopy(base)
            m["signature"]["public_key"] = b64(bytes(key))
        out.append(("non-canonical encoding", m))
    return out


def trailing_bits(rng: random.Random, originals: list[dict[str, Any]], n: int) -> list[Mutant]:
    out: list[Mutant] = []
    for i in range(n):
        m = copy.deepcopy(rng.choice(originals))
        field = "public_key" if i % 2 else "value"
        m["signature"][field] = _set_trailing_bits(m["signature"][field])
        out.append(("trailing-bit base64", m))
    return out


def bit_flips(rng: random.Random, originals: list[dict[str, Any]], n: int) -> list[Mutant]:
    out: list[Mutant] = []
    for i in range(n):
        m = copy.deepcopy(rng.choice(originals))
        field = "public_key" if i % 3 == 0 else "value"
        raw = bytearray(base64.b64decode(m["signature"][field]))
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        m["signature"][field] = b64(bytes(raw))
        out.append(("bit flip", m))
    return out


def cross_submission(rng: random.Random, world: dict[str, Any], n: int) -> list[Mutant]:
    a_key, b_key = world["keys"]["a"][0], world["keys"]["b"][0]
    a_docs = [d for d in world["originals"] if d["model"]["name"] == "resnet10t"]
    out: list[Mutant] = []
    for i in range(n):
        base = {k: v for k, v in rng.choice(a_docs).items() if k not in ("signature", "submission_id")}
        base = {**base, "schema_version": "1.0"}
        base["metrics"] = copy.deepcopy(base["metrics"])
        m_val = base["metrics"]["val_top1"]
        m_val["value"] += 0.01 * (1 + i)  # a small edit that stays inside the recorded interval
        m_val["ci_high"] += 0.01 * (1 + i)
        kind = i % 5
        if kind == 0:  # team b re-signs team a's edited result, naming team a
            m = signed(base, b_key, "team-a")
        elif kind == 1:  # ... naming nobody
            m = signed(base, b_key)
        elif kind == 2:  # ... naming itself, but the content is team a's model/protocol
            m = signed(base, b_key, "team-b")
        elif kind == 3:  # team a signs team b's model/protocol
            other = {**base, "model": {**base["model"], "name": "resnet50"}}
            other["protocol"] = {**base["protocol"], "name": "baseline"}
            m = signed(other, a_key, rng.choice([None, "team-a", "team-b"]))
        else:  # team a names a submission that does not exist
            m = signed(base, a_key, rng.choice(["team-z", "team-a-2", "example-resnet10t"]))
        out.append(("cross-submission re-signing", m))
    return out


def test_no_mutant_verifies_as_trusted(world: dict[str, Any]) -> None:
    trust, originals = world["trust"], world["originals"]
    for o in originals:  # the fuzzer could fail: the genuine results are trusted
        assert verify_document(o, trust).trusted
    rng = random.Random(SEED)
    mutants = (
        content_edits(rng, originals, 80)
        + swaps(rng, originals, 30)
        + small_order(rng, originals, 32)
        + non_canonical(rng, originals, 24)
        + trailing_bits(rng, originals, 20)
        + bit_flips(rng, originals, 20)
        + cross_submission(rng, world, 30)
    )
    classes = Counter(label for label, _ in mutants)
    assert len(mutants) >= 200 and len(classes) == 7, classes
    accepted = []
    for label, m in mutants:
        out = verify_document(m, trust)
        if out.status == "verified":
            accepted.append((label, out.reason))
        # without anchors: never "verified"; and only re-signed ones (real keys) are even self-signed
        alone = verify_document(m).status
        if alone != "failed" and not (label == "cross-submission re-signing" and alone == "self-signed"):
            accepted.append((label, f"{alone} without anchors"))
    assert accepted == []


def test_replays_are_counted_once(world: dict[str, Any]) -> None:
    from luab_bench.leaderboard.build import build_site

    rng = random.Random(SEED + 1)
    results = world["tmp"] / "results"
    results.mkdir()
    originals = world["originals"]
    for i, o in enumerate(originals):
        (results / f"orig-{i}.json").write_text(json.dumps(o))
    n_replays = 30
    for i in range(n_replays):
        o = rng.choice(originals)
        items = list(o.items())
        rng.shuffle(items)  # another key order / layout: same canonical bytes, still a valid signature
        text = json.dumps(dict(items), indent=rng.choice([None, 2]))
        (results / f"{rng.choice(['copy', 'zz', 'a', 'orig-0b'])}-{i}.json").write_text(text)
    report = build_site(results, world["tmp"] / "site", trusted_keys=world["trust"])
    assert report.counts["verified"] == len(originals) + n_replays  # each copy verifies on its own ...
    assert len(report.duplicates) == n_replays  # ... but is reported as a replay
    kept = {r["file"] for r in report.rows if r["duplicate_of"] is None}
    assert len(kept) == len(originals)
    data = json.loads((world["tmp"] / "site" / "results.json").read_text())
    ks = sorted(m["k"] for a in data["aggregates"] for name, m in a["metrics"].items() if name == "val_top1")
    assert ks == [2, 4]  # team b's 2 seeds, team a's 4 seeds: nothing counted twice
    assert Path(world["tmp"] / "site" / "index.html").read_text().count("not counted</span>") == n_replays
