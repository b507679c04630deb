"""The leaderboard's trust model (issue 17, items 1-3, 9b): no forgery, trust per submission, no replays.

1. Small-order / non-canonical Ed25519 keys and signatures, and non-canonical base64, are refused
   everywhere a key or signature is read (signing, ``submission check``/``keys``, build, ``verify``).
2. A result is "verified" only when bound to its submission (key, submission id, declared
   model/protocol/suite); with no anchors it is "self-signed".
3. Replays (same result_id or same model/protocol/suite/seed) are reported and counted once.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard_fixtures import synthetic_doc
from luab_bench.errors import LuabError, SignatureError
from luab_bench.results import ed25519_checks as ec
from luab_bench.results.schema import Result
from luab_bench.results.signing import (
    canonical_bytes,
    generate_keypair,
    load_private_key,
    load_public_key,
    public_key_b64,
    sign_document,
    verify_document,
)
from luab_bench.results.trust import TrustSet

IDENTITY_KEY = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # the key of the forgery
#: the 8 torsion points of edwards25519 as published (e.g. the blocklist in Chalkias, Garillot and
#: Nikolaenko, "Taming the many EdDSAs", 2020, Table 6); checked against our own computation below
PUBLISHED_SMALL_ORDER = sorted(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # identity, order 1
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # (0, -1), order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    )
)
#: non-canonical spellings of small-order points: y >= p, or "negative zero" x with the sign bit
NON_CANONICAL_KEYS = [
    (ec.P + 1).to_bytes(32, "little"),  # identity, y = p + 1
    ec.P.to_bytes(32, "little"),  # y = 0 (order 4) written as p
    (ec.P | (1 << 255)).to_bytes(32, "little"),
    bytes.fromhex("01" + "00" * 30 + "80"),  # identity with the sign bit set (x = 0)
    bytes.fromhex("ec" + "ff" * 31),  # (0, -1) with the sign bit set
]
BASE_POINT = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def doc(model: str = "resnet10t", protocol: str = "luab", seed: int = 0, value: float = 60.0, **kw: Any):
    return synthetic_doc(model, protocol, seed, value, **kw)


def forge(document: dict[str, Any], key: bytes, r: bytes, s: int = 0) -> dict[str, Any]:
    """``document`` with a signature block (``key``, ``R || S``) made without any private key."""
    out = {k: v for k, v in document.items() if k != "signature"}
    value = b64(r + s.to_bytes(32, "little"))
    out["signature"] = {"algorithm": "ed25519", "public_key": b64(key), "value": value}
    return out


def library_accepts(document: dict[str, Any]) -> bool:
    """What ``cryptography`` alone says about a document's signature (no checks of ours)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    sig = document["signature"]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["public_key"]))
    try:
        key.verify(base64.b64decode(sig["value"]), canonical_bytes(document))
    except InvalidSignature:
        return False
    return True


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    return {name: generate_keypair(tmp_path / "keys", name=name) for name in ("a", "b")}


def write_submission(root: Path, sub_id: str, pub: Path | str, **fields: Any) -> Path:
    d = root / sub_id
    d.mkdir(parents=True)
    key = pub.read_text().strip() if isinstance(pub, Path) else pub
    data = {
        "team": f"team {sub_id}",
        "contact": f"{sub_id}@example.org",
        "model": "resnet10t",
        "weights": {"url": "https://example.org/m.safetensors", "sha256": "ab" * 32},
        "protocol": "luab",
        "recipe": "synthetic",
        "public_key": key,
        "suite": "synthetic",
        **fields,
    }
    (d / "submission.yaml").write_text(yaml.safe_dump(data))
    return d


@pytest.fixture
def subs(tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> Path:
    """Two submissions: ``team-a`` (key a, resnet10t/luab) and ``team-b`` (key b, resnet50/baseline)."""
    root = tmp_path / "submissions"
    write_submission(root, "team-a", keys["a"][1])
    write_submission(root, "team-b", keys["b"][1], model="resnet50", protocol="baseline")
    return root


def signed(document: dict[str, Any], key: Path, submission_id: str | None = None) -> dict[str, Any]:
    if submission_id is not None:
        document = {**document, "schema_version": "1.2", "submission_id": submission_id}
    return sign_document(Result.model_validate(document).to_json_dict(), load_private_key(key))


# ------------------------------------------------------------------------------- 1. curve checks
def test_small_order_points_computed_match_the_published_list() -> None:
    assert ec.small_order_points() == PUBLISHED_SMALL_ORDER == sorted(ec.SMALL_ORDER_ENCODINGS)
    assert all(ec.is_small_order(ec.decode_point(p)) for p in PUBLISHED_SMALL_ORDER)
    assert bytes.fromhex("01" + "00" * 31) == base64.b64decode(IDENTITY_KEY)


def test_curve_arithmetic_reproduces_library_public_keys(tmp_path: Path) -> None:
    """[a]B with a = clamp(SHA-512(seed)[:32]) (RFC 8032 §5.1.5) equals the library's public key."""
    from cryptography.hazmat.primitives import serialization

    for i in range(4):
        priv, _ = generate_keypair(tmp_path, name=f"k{i}")
        key = load_private_key(priv)
        seed = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        h = bytearray(hashlib.sha512(seed).digest()[:32])
        h[0] &= 248
        h[31] &= 127
        h[31] |= 64
        a = int.from_bytes(h, "little")
        raw = base64.b64decode(public_key_b64(key))
        assert ec.encode_point(ec.scalar_mult(a, ec.decode_point(BASE_POINT))) == raw
        assert ec.encode_point(ec.decode_point(raw)) == raw
        ec.check_public_key(raw)  # genuine keys pass
        ec.check_signature(key.sign(b"message %d" % i))


@settings(max_examples=25, deadline=None)
@given(k=st.integers(min_value=1, max_value=ec.L - 1), t=st.sampled_from(PUBLISHED_SMALL_ORDER))
def test_prime_order_points_pass_and_a_torsion_component_is_refused(k: int, t: bytes) -> None:
    """[k]B (any k in 1..L-1) is a valid key; [k]B + T with T a torsion point != O is refused."""
    point = ec.scalar_mult(k, ec.decode_point(BASE_POINT))
    raw = ec.encode_point(point)
    assert ec.encode_point(ec.decode_point(raw)) == raw
    ec.check_public_key(raw)
    mixed = ec.encode_point(ec._add(point, ec.decode_point(t)))
    if t == base64.b64decode(IDENTITY_KEY):
        assert mixed == raw
        return
    with pytest.raises(ec.KeyCheckError, match="not in the prime-order subgroup"):
        ec.check_public_key(mixed)


def test_cryptography_alone_accepts_the_identity_forgery() -> None:
    """Why the explicit checks exist: OpenSSL's cofactorless check accepts A = identity, R = O, S = 0.

    encode([S]B - [k]A) == R holds for every message when A is the identity and S = 0. (If this
    ever fails, the library became stricter; our checks still refuse the forgery, tested below.)
    """
    identity = base64.b64decode(IDENTITY_KEY)
    for edit in (60.0, 99.9):
        forged = forge(doc(value=edit), identity, identity)
        assert library_accepts(forged)
        out = verify_document(forged)
        assert out.status == "failed" and "small-order public key" in out.reason


def _forgery_with_torsion_key(key: bytes) -> dict[str, Any]:
    """A document whose (key, R = torsion point, S = 0) signature the library accepts, by search.

    [0]B - [k]A = -[k]A is a torsion point, so one of the 8 possible R matches for about 1 in 8
    messages (for the identity key, R = identity matches always).
    """
    for i in range(400):
        base = doc(value=50.0 + i / 8)
        for r in PUBLISHED_SMALL_ORDER:
            forged = forge(base, key, r)
            if library_accepts(forged):
                return forged
    raise AssertionError(f"no forgery found for {key.hex()}")


@pytest.mark.parametrize("key", PUBLISHED_SMALL_ORDER, ids=lambda k: k.hex()[:8])
def test_every_small_order_key_is_refused(key: bytes, tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="small-order public key"):
        load_public_key(b64(key))
    pub = tmp_path / "evil.pub"
    pub.write_text(b64(key) + "\n")
    with pytest.raises(SignatureError, match="small-order"):
        load_public_key(pub)
    forged = _forgery_with_torsion_key(key)  # a real forgery: the library alone accepts it
    for trust in (None, TrustSet.from_keys([]), [b64(BASE_POINT)]):
        out = verify_document(forged, trust)
        assert out.status == "failed" and "small-order public key" in out.reason
    with pytest.raises(LuabError, match="small-order"):
        TrustSet.from_keys([pub])  # a small-order key cannot even be trusted explicitly


@pytest.mark.parametrize("key", NON_CANONICAL_KEYS, ids=lambda k: k.hex()[-8:])
def test_non_canonical_keys_are_refused(key: bytes) -> None:
    with pytest.raises(SignatureError, match="non-canonical point encoding"):
        load_public_key(b64(key))
    out = verify_document(forge(doc(), key, base64.b64decode(IDENTITY_KEY)))
    assert out.status == "failed" and "non-canonical" in out.reason


def test_key_with_a_torsion_component_and_off_curve_keys_are_refused(keys: dict[str, Any]) -> None:
    raw = base64.b64decode(keys["a"][1].read_text().strip())
    mixed = ec.encode_point(ec._add(ec.decode_point(raw), ec.decode_point(PUBLISHED_SMALL_ORDER[-2])))
    with pytest.raises(SignatureError, match="not in the prime-order subgroup"):
        load_public_key(b64(mixed))
    off = next(y for y in range(2, 100) if not _on_curve(y))
    with pytest.raises(SignatureError, match="not a point on edwards25519"):
        load_public_key(b64(off.to_bytes(32, "little")))


def _on_curve(y: int) -> bool:
    try:
        ec.decode_point(y.to_bytes(32, "little"))
    except ec.KeyCheckError:
        return False
    return True


def test_non_canonical_signatures_are_refused(keys: dict[str, Any]) -> None:
    good = signed(doc(), keys["a"][0])
    assert verify_document(good).ok
    raw = base64.b64decode(good["signature"]["value"])
    r, s = raw[:32], int.from_bytes(raw[32:], "little")
    cases = {
        "S >= L": r + (s + ec.L).to_bytes(32, "little"),
        "non-canonical point encoding": (ec.P + 1).to_bytes(32, "little") + raw[32:],
        "x = 0 with the sign bit set": NON_CANONICAL_KEYS[3] + raw[32:],
    }
    cases.update({f"small-order point {i}": p + raw[32:] for i, p in enumerate(PUBLISHED_SMALL_ORDER)})
    for needle, value in cases.items():
        bad = {**good, "signature": {**good["signature"], "value": b64(value)}}
        out = verify_document(bad)
        assert out.status == "failed" and needle.rstrip(" 01234567") in out.reason, (needle, out.reason)


def _set_trailing_bits(text: str) -> str:
    """The same bytes spelled with non-zero trailing bits (what b64decode(validate=True) accepts)."""
    body = text.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(body[-1])
    return body[:-1] + alphabet[last | 1] + text[len(body) :]


def test_base64_with_non_zero_trailing_bits_is_refused(
    keys: dict[str, Any], tmp_path: Path, subs: Path
) -> None:
    good = signed(doc(), keys["a"][0])
    key_text, sig_text = good["signature"]["public_key"], good["signature"]["value"]
    bad_key, bad_sig = _set_trailing_bits(key_text), _set_trailing_bits(sig_text)
    assert bad_key != key_text and base64.b64decode(bad_key, validate=True) == base64.b64decode(key_text)
    assert base64.b64decode(bad_sig, validate=True) == base64.b64decode(sig_text)
    for field, value in (("public_key", bad_key), ("value", bad_sig)):
        out = verify_document({**good, "signature": {**good["signature"], field: value}})
        assert out.status == "failed" and "not canonical base64 (non-zero trailing bits" in out.reason
    with pytest.raises(SignatureError, match="non-zero trailing bits"):
        load_public_key(bad_key)
    from luab_bench.submissions import SubmissionError, check_submission

    d = write_submission(tmp_path / "s2", "trailing", bad_key)
    with pytest.raises(SubmissionError, match="non-zero trailing bits"):
        check_submission(d, check_timm=False)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("AAA", "not a multiple of 4"),
        ("AA A", "character ' '"),
        ("AA==\n", "character '\\n'"),
        ("AAé=", "character 'é'"),
        ("A=AA", "'=' inside"),
        ("AB==", "non-zero trailing bits"),
    ],
)
def test_strict_base64_errors_are_one_line(text: str, why: str) -> None:
    with pytest.raises(ec.KeyCheckError) as err:
        ec.strict_b64decode(text, "key")
    assert why in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=80), pos=st.integers(min_value=0), char=st.sampled_from("A/+=a0 \n"))
def test_strict_base64_accepts_exactly_the_canonical_spelling(raw: bytes, pos: int, char: str) -> None:
    text = b64(raw)
    assert ec.strict_b64decode(text) == raw
    if not text:
        return
    i = pos % len(text)
    other = text[:i] + char + text[i + 1 :]
    try:
        out = ec.strict_b64decode(other)
    except ec.KeyCheckError:
        return
    assert b64(out) == other  # whatever is accepted is canonical: one spelling per value


def test_submission_check_and_keys_refuse_the_identity_key(tmp_path: Path) -> None:
    from luab_bench.commands.submission import submission

    root = tmp_path / "submissions"
    write_submission(root, "evil", IDENTITY_KEY)
    runner = CliRunner()
    res = runner.invoke(submission, ["check", "--root", str(root)])
    assert res.exit_code != 0 and "small-order public key" in res.output
    res = runner.invoke(submission, ["keys", "--root", str(root)])
    assert res.exit_code != 0 and IDENTITY_KEY not in res.stdout
    assert "Traceback" not in res.output


def test_verify_and_build_refuse_the_identity_forgery(tmp_path: Path) -> None:
    from luab_bench.cli import cli
    from luab_bench.leaderboard.build import build_site

    results = tmp_path / "results"
    results.mkdir()
    identity = base64.b64decode(IDENTITY_KEY)
    (results / "forged.json").write_text(json.dumps(forge(doc(value=99.0), identity, identity)))
    res = CliRunner().invoke(cli, ["verify", str(results)])
    assert res.exit_code == 1 and "small-order public key" in res.output
    report = build_site(results, tmp_path / "site")
    assert report.counts["failed"] == 1 and report.counts["self-signed"] == 0
    assert "small-order" in report.rows[0]["signature"]["reason"]
    data = json.loads((tmp_path / "site" / "results.json").read_text())
    assert data["aggregates"] == []


# ------------------------------------------------------------------------ 2. trust per submission
def test_without_anchors_a_valid_signature_is_self_signed_not_verified(tmp_path: Path, keys: Any) -> None:
    from luab_bench.cli import cli
    from luab_bench.leaderboard.build import build_site

    out = verify_document(signed(doc(), keys["a"][0]))
    assert out.ok and out.status == "self-signed" and not out.trusted and "self-signed" in out.reason
    results = tmp_path / "results"
    results.mkdir()
    (results / "a.json").write_text(json.dumps(signed(doc(), keys["a"][0])))
    res = CliRunner().invoke(cli, ["verify", str(results)])
    assert res.exit_code == 0 and "self-signed" in res.output and "signature verified" not in res.output
    report = build_site(results, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    assert report.counts["verified"] == 0 and report.counts["self-signed"] == 1
    assert "signature valid (self-signed)" in page and "✓ verified" not in page.split("<tbody>")[1]
    assert "no trusted submissions or keys given" in page


def test_result_verifies_only_for_its_own_submission(subs: Path, keys: Any) -> None:
    trust = TrustSet.from_submissions(subs)
    a_doc = doc()  # resnet10t/luab/synthetic: what team-a declares
    for sub_id in (None, "team-a"):
        out = verify_document(signed(a_doc, keys["a"][0], sub_id), trust)
        assert out.status == "verified" and out.submission_id == "team-a" and out.team == "team team-a"
    # team b re-signs team a's edited result, with and without naming team a's submission
    edited = {**a_doc, "seed": 9}
    out = verify_document(signed(edited, keys["b"][0], "team-a"), trust)
    assert out.status == "failed" and "declares another key" in out.reason
    out = verify_document(signed(edited, keys["b"][0]), trust)
    assert out.status == "failed" and "declares team-b: resnet50/baseline/synthetic" in out.reason
    # team a's key does not vouch for a model/protocol its submission does not declare
    other = doc("resnet50", "baseline")
    for sub_id in (None, "team-a"):
        out = verify_document(signed(other, keys["a"][0], sub_id), trust)
        assert out.status == "failed" and "resnet50/baseline/synthetic" in out.reason
    # naming a submission that is not there
    out = verify_document(signed(a_doc, keys["a"][0], "team-z"), trust)
    assert out.status == "failed" and "not among the trusted submissions" in out.reason
    # team b's own result verifies, for team b
    out = verify_document(signed(other, keys["b"][0]), trust)
    assert out.status == "verified" and out.submission_id == "team-b"


def test_submission_id_is_covered_by_the_signature(subs: Path, keys: Any) -> None:
    trust = TrustSet.from_submissions(subs)
    good = signed(doc(), keys["a"][0], "team-a")
    assert verify_document(good, trust).trusted
    moved = {**good, "submission_id": "team-b"}
    assert verify_document(moved, trust).status == "failed"
    dropped = {k: v for k, v in good.items() if k != "submission_id"}
    assert verify_document(dropped, trust).status == "failed"


def test_shared_key_needs_the_submission_id(tmp_path: Path, keys: Any) -> None:
    root = tmp_path / "submissions"
    write_submission(root, "run-1", keys["a"][1])
    write_submission(root, "run-2", keys["a"][1])
    trust = TrustSet.from_submissions(root)
    out = verify_document(signed(doc(), keys["a"][0]), trust)
    assert out.status == "failed" and "several submissions" in out.reason and "--submission" in out.reason
    out = verify_document(signed(doc(), keys["a"][0], "run-2"), trust)
    assert out.trusted and out.submission_id == "run-2"


def test_protocol_yaml_in_the_submission_counts_by_its_name(tmp_path: Path, keys: Any) -> None:
    from luab_bench.protocols.base import PROTOCOL_DIR

    root = tmp_path / "submissions"
    d = write_submission(root, "yaml-proto", keys["a"][1], protocol="my.yaml")
    text = (PROTOCOL_DIR / "baseline.yaml").read_text()
    (d / "my.yaml").write_text(text.replace("name: baseline", "name: my_baseline", 1))
    trust = TrustSet.from_submissions(root)
    assert trust.entries[0].protocol == "my_baseline"
    assert verify_document(signed(doc(protocol="my_baseline"), keys["a"][0]), trust).trusted


def test_old_results_without_submission_id_still_bind_by_key_and_declaration(subs: Path, keys: Any) -> None:
    old = signed(doc(), keys["a"][0])
    assert old["schema_version"] == "1.0" and "submission_id" not in old
    assert verify_document(old, TrustSet.from_submissions(subs)).trusted


def test_sign_submission_option(tmp_path: Path, keys: Any, subs: Path) -> None:
    from luab_bench.cli import cli
    from luab_bench.results.schema import load_result
    from luab_bench.results.store import write_result

    p = write_result(tmp_path / "r.json", Result.model_validate(doc()))
    runner = CliRunner()
    res = runner.invoke(cli, ["sign", "--key", str(keys["a"][0]), "--submission", "team-a", str(p)])
    assert res.exit_code == 0, res.output
    r = load_result(p)
    assert r.submission_id == "team-a" and r.schema_version == "1.2"
    res = runner.invoke(cli, ["verify", "--submissions", str(subs), str(p)])
    assert res.exit_code == 0 and "submission team-a (team team team-a)" in res.output
    res = runner.invoke(cli, ["sign", "--key", str(keys["a"][0]), "--submission", "../x", str(p)])
    assert res.exit_code == 1 and "not a submission directory name" in res.output
    assert "Traceback" not in res.output and load_result(p).submission_id == "team-a"


def test_submission_id_needs_schema_1_2() -> None:
    with pytest.raises(ValueError, match=r'needs schema_version "1\.2"'):
        Result.model_validate({**doc(), "submission_id": "team-a"})
    assert "submission_id" not in Result.model_validate(doc()).to_json_dict()


def test_site_shows_the_team_and_ci_mode_fails_foreign_results(tmp_path: Path, subs: Path, keys: Any) -> None:
    from luab_bench.commands.leaderboard import leaderboard

    results = tmp_path / "results"
    results.mkdir()
    (results / "a.json").write_text(json.dumps(signed(doc(), keys["a"][0], "team-a")))
    (results / "b-forged.json").write_text(json.dumps(signed(doc(seed=1, value=99.0), keys["b"][0])))
    site = tmp_path / "site"
    args = ["build", "--results", str(results), "--out", str(site), "--submissions", str(subs)]
    res = CliRunner().invoke(leaderboard, args)
    assert res.exit_code == 0, res.output
    assert "1 verified, 0 self-signed, 1 failing" in res.output
    data = json.loads((site / "results.json").read_text())
    rows = {r["file"]: r for r in data["rows"]}
    assert rows["a.json"]["submission"] == {"id": "team-a", "team": "team team-a"}
    assert rows["b-forged.json"]["submission"] is None
    assert [a["seeds"] for a in data["aggregates"]] == [[0]]  # the foreign result is not counted
    page = (site / "index.html").read_text()
    assert 'title="submission team-a">team team-a</td>' in page and "verified against 2 submissions" in page
    detail = (site / rows["a.json"]["detail"]).read_text()
    assert "team team-a (submission <code>team-a</code>)" in detail


def test_invalid_submission_is_a_one_line_error(tmp_path: Path, keys: Any) -> None:
    from luab_bench.cli import cli

    root = tmp_path / "submissions"
    write_submission(root, "evil", IDENTITY_KEY)
    result = tmp_path / "r.json"
    result.write_text(json.dumps(signed(doc(), keys["a"][0])))
    res = CliRunner().invoke(cli, ["verify", "--submissions", str(root), str(result)])
    assert res.exit_code == 1 and "small-order" in res.output and "Traceback" not in res.output


# ----------------------------------------------------------------------------------- 3. replays
def _results_dir(tmp_path: Path, docs: list[dict[str, Any]], key: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir(exist_ok=True)
    for i, document in enumerate(docs):
        (d / f"{i:02d}-{document['result_id']}.json").write_text(json.dumps(signed(document, key)))
    return d


def _val_top1(tmp_path: Path, results: Path, **kw: Any) -> tuple[dict[str, Any], Any]:
    from luab_bench.leaderboard.build import build_site

    report = build_site(results, tmp_path / "site", **kw)
    data = json.loads((tmp_path / "site" / "results.json").read_text())
    (agg,) = data["aggregates"]
    return agg["metrics"]["val_top1"], report


def test_one_run_and_a_copy_is_k_1_not_k_2(tmp_path: Path, keys: Any) -> None:
    results = _results_dir(tmp_path, [doc(seed=0, value=14.0)], keys["a"][0])
    original = next(results.iterdir())
    (results / "zz-copy.json").write_bytes(original.read_bytes())  # verifies: same bytes
    m, report = _val_top1(tmp_path, results)
    assert (m["k"], m["mean"], m["half_width"]) == (1, 14.0, None)  # was 14.00 ± 0.00 with k = 2
    reason = "same result_id 'rresnet10t-luab-0'"
    assert report.duplicates == [{"file": "zz-copy.json", "duplicate_of": original.name, "reason": reason}]
    assert "1 duplicates not counted" in report.summary()
    page = (tmp_path / "site" / "index.html").read_text()
    assert 'id="duplicates"' in page and "duplicate of " + original.name in page


def test_five_copies_do_not_shrink_the_interval(tmp_path: Path, keys: Any, subs: Path) -> None:
    results = _results_dir(tmp_path, [doc(seed=0, value=10.0), doc(seed=1, value=14.0)], keys["a"][0])
    m, _ = _val_top1(tmp_path, results)
    assert m["k"] == 2 and m["mean"] == 12.0 and round(m["half_width"], 1) == 25.4
    copy_of = sorted(results.iterdir())[1]
    for i in range(5):
        (results / f"copy{i}.json").write_bytes(copy_of.read_bytes())
    m, report = _val_top1(tmp_path, results, trusted_keys=TrustSet.from_submissions(subs))
    assert m["k"] == 2 and m["mean"] == 12.0 and round(m["half_width"], 1) == 25.4  # not 13.43 ± 1.40, k = 7
    assert len(report.duplicates) == 5 and {d["duplicate_of"] for d in report.duplicates} == {copy_of.name}
    assert report.counts["verified"] == 7  # each copy's signature is valid: the replay check is what counts


def test_same_seed_under_another_result_id_is_a_replay(tmp_path: Path, keys: Any) -> None:
    first = doc(seed=3, value=10.0)
    again = {**doc(seed=3, value=90.0), "result_id": "other-id", "created_at": "2026-02-01T00:00:00Z"}
    results = _results_dir(tmp_path, [again, first], keys["a"][0])
    m, report = _val_top1(tmp_path, results)
    assert m["k"] == 1 and m["mean"] == 10.0  # the earlier run is kept
    (dup,) = report.duplicates
    assert dup["file"].endswith("other-id.json")
    assert dup["reason"] == "same model/protocol/suite/seed resnet10t/luab/synthetic/3"


def test_trusted_result_wins_over_an_earlier_untrusted_copy(tmp_path: Path, keys: Any, subs: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "b.json").write_text(json.dumps(signed(doc(value=10.0), keys["a"][0])))
    foreign = {**doc(value=99.0), "created_at": "2020-01-01T00:00:00Z"}
    (results / "a.json").write_text(json.dumps(signed(foreign, keys["b"][0])))
    m, report = _val_top1(tmp_path, results, trusted_keys=TrustSet.from_submissions(subs))
    assert m["mean"] == 10.0 and report.duplicates[0]["file"] == "a.json"


def test_aggregate_refuses_a_seed_twice() -> None:
    from luab_bench.leaderboard.aggregate import aggregate

    row = {
        "file": "a.json",
        "suite": {"name": "synthetic", "variant": ""},
        "model": {"name": "m"},
        "protocol": {"name": "luab"},
        "seed": 0,
        "metrics": {},
    }
    with pytest.raises(ValueError, match=r"seed 0 of synthetic//m/luab already counted from a\.json"):
        aggregate([row, {**row, "file": "b.json"}])


def test_verify_fails_replays(tmp_path: Path, keys: Any) -> None:
    from luab_bench.cli import cli

    results = _results_dir(tmp_path, [doc(seed=0), doc(seed=1)], keys["a"][0])
    first = sorted(results.iterdir())[0]
    (results / "zz.json").write_bytes(first.read_bytes())
    res = CliRunner().invoke(cli, ["verify", str(results)])
    assert res.exit_code == 1 and "1 of 3 result(s) failed" in res.output
    assert f"FAIL  {results / 'zz.json'}: same run as {first} (same result_id" in res.output


# ------------------------------------------------------------------------------------ CI workflow
def test_workflow_verifies_against_submissions() -> None:
    """CI binds results to submissions (not bare keys) and still collects keys for the no-key guard."""
    text = (Path(__file__).resolve().parents[1] / ".github" / "workflows" / "submission.yml").read_text()
    assert "luab-bench submission keys --root submissions" in text
    assert text.count("--submissions submissions") == 2  # verify and leaderboard build
