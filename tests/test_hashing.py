"""The shared sha256 / named-seed / manifest-hash helpers (issue 15: one copy each, same bytes)."""

from __future__ import annotations

import binascii
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luab_bench.data.manifest import check_file_hashes
from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS, generate_coco, verify_coco
from luab_bench.hashing import file_sha256, sha256_hex
from luab_bench.seeds import named_seed


@given(st.binary(max_size=3000), st.integers(1, 1024))
def test_file_sha256_streams_to_the_whole_file_digest(data: bytes, chunk: int) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile(delete=False) as fh:
        fh.write(data)
    try:
        assert file_sha256(fh.name, chunk=chunk) == hashlib.sha256(data).hexdigest() == sha256_hex(data)
    finally:
        Path(fh.name).unlink()


@given(st.integers(0, 2**31 - 1), st.text(max_size=40))
def test_named_seed_is_seed_and_crc32_of_the_utf8_name(seed: int, name: str) -> None:
    # binascii.crc32: an independent implementation of the same CRC-32 as zlib's
    assert named_seed(seed, name) == [seed, binascii.crc32(name.encode("utf-8"))]


def test_named_seed_keeps_the_bootstrap_seeds_of_earlier_results() -> None:
    # the values every recorded result's intervals were drawn with (zlib.crc32 of the metric name)
    assert named_seed(0, "val_top1") == [0, 1050563854]
    assert named_seed(3, "") == [3, 0]


def _tree(tmp_path: Path) -> tuple[Path, dict[str, dict[str, str]], dict[str, str]]:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.npy").write_bytes(b"abc")
    (tmp_path / "rec.json").write_bytes(b"[]")
    return tmp_path, {"train": {"a.npy": sha256_hex(b"abc")}}, {"rec.json": sha256_hex(b"[]")}


def test_check_file_hashes_names_each_problem(tmp_path: Path) -> None:
    root, splits, top = _tree(tmp_path)
    assert check_file_hashes(root, splits, ["a.npy"], top) is None
    assert check_file_hashes(root, splits, ["a.npy", "b.npy"], top, what="x manifest") == (
        "x manifest lists the wrong files for split 'train'"
    )
    (root / "train" / "a.npy").write_bytes(b"abd")
    assert check_file_hashes(root, splits, ["a.npy"], top) == f"{root / 'train' / 'a.npy'}: sha256 mismatch"
    (root / "train" / "a.npy").unlink()
    assert check_file_hashes(root, splits, ["a.npy"], top) == f"{root / 'train' / 'a.npy'}: missing"
    (root / "train" / "a.npy").write_bytes(b"abc")
    (root / "rec.json").write_bytes(b"[1]")
    problem = check_file_hashes(root, splits, ["a.npy"], top)
    assert problem == f"{root / 'rec.json'}: missing or sha256 mismatch"


@pytest.mark.parametrize("damage", ["flip_byte", "delete_array", "delete_records", "edit_fingerprint"])
def test_synthetic_coco_is_verified_and_rebuilt_identically(tmp_path: Path, damage: str) -> None:
    cfg = SYNTHETIC_COCO_VARIANTS["synthetic-coco-tiny"]
    out = generate_coco(cfg, tmp_path / "a")
    assert verify_coco(out, cfg) is None
    pristine = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    if damage == "flip_byte":
        blob = bytearray((out / "val" / "images.npy").read_bytes())
        blob[-1] ^= 1
        (out / "val" / "images.npy").write_bytes(bytes(blob))
    elif damage == "delete_array":
        (out / "train" / "labels.npy").unlink()
    elif damage == "delete_records":
        (out / "coco_ab.json").unlink()
    else:
        m = json.loads((out / "manifest.json").read_text())
        m["fingerprint"] = "0" * 64
        (out / "manifest.json").write_text(json.dumps(m))
    assert verify_coco(out, cfg) is not None
    assert generate_coco(cfg, tmp_path / "a") == out  # rebuilt in place ...
    rebuilt = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert rebuilt == pristine  # ... with the same bytes
