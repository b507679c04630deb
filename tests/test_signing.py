"""Canonical bytes, Ed25519 keys, signing and verification of result files."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luab_bench.errors import LuabError
from luab_bench.results.schema import Result, load_result
from luab_bench.results.signing import (
    REASON_TAMPERED,
    canonical_bytes,
    generate_keypair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    load_public_key_b64,
    public_key_b64,
    sign_document,
    sign_result,
    sign_result_file,
    verify_document,
    verify_result_file,
)
from luab_bench.results.store import write_result


def make_doc() -> dict[str, Any]:
    return {
        "schema_version": "1.0",
        "result_id": "r1",
        "created_at": "2026-01-31T12:00:00Z",
        "model": {"name": "resnet10t", "source": "timm", "pretrained": False, "num_params": 123},
        "protocol": {"name": "luab", "version": "1", "family": "point_regression"},
        "suite": {"name": "synthetic", "variant": "", "data_fingerprint": "00ff"},
        "seed": 3,
        "metrics": {
            "top1_val": {
                "value": 81.25,
                "n": 2000,
                "ci_low": 79.5,
                "ci_high": 82.95,
                "unit": "%",
                "higher_is_better": True,
                "task": "top-1 on val — ünïcode",
            }
        },
        "config": {"lr": 0.1, "nested": {"b": [1, 2.5, None], "a": "é"}},
        "provenance": {"luab_bench_version": "0.1.0", "packages": {"torch": "2.14.1"}},
        "training": None,
    }


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keypair(tmp_path / "keys")


@pytest.fixture
def signed_file(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    p = tmp_path / "result.json"
    write_result(p, Result.model_validate(make_doc()))
    sign_result_file(p, keys[0])
    return p


def test_canonical_bytes_exact_form_and_key_order() -> None:
    doc = {"b": 1.0, "a": {"y": [0.1, -0.0, 1e-300], "x": "ü"}, "signature": {"value": "ignored"}}
    assert canonical_bytes(doc) == '{"a":{"x":"ü","y":[0.1,-0.0,1e-300]},"b":1.0}'.encode()
    reordered = {"signature": None, "a": {"x": "ü", "y": [0.1, -0.0, 1e-300]}, "b": 1.0}
    assert canonical_bytes(reordered) == canonical_bytes(doc)
    with pytest.raises(ValueError):
        canonical_bytes({"a": float("nan")})
    r = Result.model_validate(make_doc())
    assert canonical_bytes(r) == canonical_bytes(r.to_json_dict())


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_docs = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=20,
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(doc=json_docs)
def test_canonical_bytes_survive_json_round_trip(doc: dict[str, Any]) -> None:
    assert canonical_bytes(json.loads(json.dumps(doc))) == canonical_bytes(doc)
    # ... and a pretty-printed, key-shuffled copy canonicalises the same
    pretty = json.dumps(dict(reversed(list(doc.items()))), indent=3, ensure_ascii=True)
    assert canonical_bytes(json.loads(pretty)) == canonical_bytes(doc)


def test_keypair_files(tmp_path: Path) -> None:
    priv, pub = generate_keypair(tmp_path / "k", name="me")
    assert priv == tmp_path / "k" / "me" and pub == tmp_path / "k" / "me.pub"
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    assert priv.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    raw = base64.b64decode(pub.read_text().strip(), validate=True)
    assert len(raw) == 32
    key = load_private_key(priv)
    assert public_key_b64(key) == pub.read_text().strip()
    assert key_fingerprint(load_public_key(pub)) == key_fingerprint(pub.read_text().strip())
    assert key_fingerprint(load_public_key(str(pub))).startswith("sha256:")
    assert load_public_key_b64(pub) == load_public_key_b64(pub.read_text()) == pub.read_text().strip()


def test_keypair_never_overwritten(tmp_path: Path) -> None:
    priv, pub = generate_keypair(tmp_path)
    before = priv.read_bytes(), pub.read_bytes()
    with pytest.raises(LuabError, match="already exists; refusing to overwrite"):
        generate_keypair(tmp_path)
    pub.unlink()  # even when only the private key is left
    with pytest.raises(LuabError, match="refusing to overwrite"):
        generate_keypair(tmp_path)
    assert priv.read_bytes() == before[0]


def test_bad_key_files_are_clear_errors(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    with pytest.raises(LuabError, match="private key not found"):
        load_private_key(tmp_path / "missing")
    with pytest.raises(LuabError, match="looks like a public key"):
        load_private_key(keys[1])
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(LuabError, match="not a PEM PKCS#8 private key"):
        load_private_key(junk)
    with pytest.raises(LuabError, match="not valid base64"):
        load_public_key("definitely not a key!")
    with pytest.raises(LuabError, match="32 bytes"):
        load_public_key(base64.b64encode(b"x" * 31).decode())
    with pytest.raises(LuabError, match="this is a private key; pass the public key"):
        load_public_key(keys[0])  # the private key file is not a .pub


def test_sign_verify_round_trip(signed_file: Path, keys: tuple[Path, Path]) -> None:
    r = load_result(signed_file)
    assert r.signature is not None and r.signature.algorithm == "ed25519"
    assert r.signature.public_key == keys[1].read_text().strip()
    out = verify_result_file(signed_file)  # no trust anchors: valid, but only self-signed
    assert out.ok and out.status == "self-signed" and not out.trusted
    assert verify_result_file(signed_file, trusted_keys=[keys[1]]).trusted
    assert out.fingerprint == key_fingerprint(keys[1].read_text().strip())
    assert verify_result_file(signed_file, trusted_keys=[keys[1]]).ok
    assert verify_result_file(signed_file, trusted_keys=[out.fingerprint]).ok
    assert verify_result_file(signed_file, trusted_keys=str(keys[1])).ok  # a single path, not a list
    # re-signing is idempotent in content (Ed25519 is deterministic)
    before = signed_file.read_bytes()
    sign_result_file(signed_file, keys[0])
    assert signed_file.read_bytes() == before


def test_sign_result_in_memory_matches_file(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    r = sign_result(Result.model_validate(make_doc()), load_private_key(keys[0]))
    p = write_result(tmp_path / "m.json", r)
    assert verify_result_file(p).ok
    doc = sign_document(make_doc(), load_private_key(keys[0]))
    assert verify_document(doc).ok


def _flip_digit(text: str, needle: str) -> str:
    i = text.index(needle)
    j = i + len(needle) - 1
    digit = text[j]
    return text[:j] + ("1" if digit != "1" else "2") + text[j + 1 :]


def test_flipping_one_metric_digit_on_disk_fails_with_changed_reason(signed_file: Path) -> None:
    text = signed_file.read_text()
    assert '"value": 81.25' in text
    signed_file.write_text(_flip_digit(text, '"value": 81.2'))  # 81.25 -> 81.15, still schema-valid
    load_result(signed_file)  # content is still a valid result ...
    out = verify_result_file(signed_file)  # ... but not the one that was signed
    assert not out.ok and out.status == "failed"
    assert out.reason == REASON_TAMPERED
    assert "changed after signing" in out.reason and "metric value" in out.reason


def test_whitespace_and_key_order_changes_do_not_break_signature(signed_file: Path) -> None:
    doc = json.loads(signed_file.read_text())
    signed_file.write_text(json.dumps(dict(reversed(list(doc.items()))), separators=(",", ":")))
    assert verify_result_file(signed_file).ok


def _edit_sig(path: Path, **changes: Any) -> None:
    doc = json.loads(path.read_text())
    doc["signature"].update(changes)
    path.write_text(json.dumps(doc))


def test_swapped_public_key_fails(signed_file: Path, tmp_path: Path) -> None:
    _, other_pub = generate_keypair(tmp_path / "other")
    _edit_sig(signed_file, public_key=other_pub.read_text().strip())
    out = verify_result_file(signed_file)
    assert not out.ok and out.reason == REASON_TAMPERED


def test_tampered_signature_value_fails(signed_file: Path) -> None:
    doc = json.loads(signed_file.read_text())
    sig = bytearray(base64.b64decode(doc["signature"]["value"]))
    sig[40] ^= 0x01  # in S: still < L, so the library's equation check is what fails
    _edit_sig(signed_file, value=base64.b64encode(bytes(sig)).decode())
    out = verify_result_file(signed_file)
    assert not out.ok and out.reason == REASON_TAMPERED
    sig[40] ^= 0x01
    sig[10] ^= 0x01  # in R: often no longer a curve point, refused before the library sees it
    _edit_sig(signed_file, value=base64.b64encode(bytes(sig)).decode())
    out = verify_result_file(signed_file)
    assert not out.ok and (out.reason == REASON_TAMPERED or out.reason.startswith("malformed signature"))


@pytest.mark.parametrize(
    "changes",
    [
        {"value": "not base64!"},
        {"value": base64.b64encode(b"short").decode()},
        {"algorithm": "rsa"},
        {"public_key": "AAAA"},
    ],
)
def test_malformed_signature(signed_file: Path, changes: dict[str, str]) -> None:
    _edit_sig(signed_file, **changes)
    out = verify_result_file(signed_file)
    assert not out.ok and out.status == "failed" and out.reason.startswith("malformed signature")


def test_unsigned_and_unreadable(tmp_path: Path) -> None:
    p = write_result(tmp_path / "u.json", Result.model_validate(make_doc()))
    out = verify_result_file(p)
    assert not out.ok and out.status == "unsigned" and out.reason.startswith("unsigned")
    p.write_text("{not json")
    out = verify_result_file(p)
    assert not out.ok and out.status == "failed" and "not valid JSON" in out.reason


def test_signed_but_schema_invalid(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    doc = make_doc()
    doc["surprise"] = 1  # a valid signature over content that is not a valid result
    signed = sign_document(doc, load_private_key(keys[0]))
    p = tmp_path / "s.json"
    p.write_text(json.dumps(signed))
    out = verify_result_file(p)
    assert not out.ok and out.reason.startswith("schema error") and "surprise" in out.reason


def test_untrusted_key_fails_only_with_a_trusted_set(signed_file: Path, tmp_path: Path) -> None:
    _, other_pub = generate_keypair(tmp_path / "other")
    assert verify_result_file(signed_file).ok  # no trusted set: self-consistency only
    out = verify_result_file(signed_file, trusted_keys=[other_pub])
    assert not out.ok and "not in the trusted set" in out.reason
    assert not verify_result_file(signed_file, trusted_keys=[]).ok
    with pytest.raises(LuabError):
        verify_result_file(signed_file, trusted_keys=["garbage key"])


def test_sign_refuses_invalid_result(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    p = tmp_path / "bad.json"
    doc = make_doc()
    doc["seed"] = "3"
    p.write_text(json.dumps(doc))
    with pytest.raises(LuabError, match="seed"):
        sign_result_file(p, keys[0])
    assert json.loads(p.read_text())["seed"] == "3"  # untouched
