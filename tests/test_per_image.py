"""The result's ``per_image`` block: bit packing (against numpy), canonical form, metric agreement,
signature coverage, and the synthetic suite writing it."""

from __future__ import annotations

import base64
import copy
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from luab_bench.results.per_image import PerImage, decode, encode
from luab_bench.results.schema import ResultError, validate_result


@given(st.lists(st.booleans(), min_size=0, max_size=300))
def test_encode_is_numpy_packbits_big_endian_and_round_trips(bits: list[bool]) -> None:
    block = encode(np.asarray(bits, dtype=bool))
    want = base64.b64encode(np.packbits(np.asarray(bits, dtype=bool), bitorder="big").tobytes()).decode()
    assert block == {"n": len(bits), "correct": want}
    assert decode(block["correct"], len(bits)) == bits
    assert PerImage.model_validate(block).ones() == sum(bits)  # the popcount agrees with the bits


@pytest.mark.parametrize(
    ("text", "n", "why"),
    [
        ("gA==", 2, None),  # 1000 0000: n = 2 -> [True, False]
        ("wA==", 1, "padding bits"),  # 1100 0000 with n = 1: a set bit after the last image
        ("gA=", 2, "base64"),
        ("gA==", 9, "need 2"),
        ("gB==", 2, "canonical"),  # decodes to 0x80 but is not the canonical spelling
    ],
)
def test_decode_accepts_one_spelling_only(text: str, n: int, why: str | None) -> None:
    if why is None:
        assert decode(text, n) == [True, False]
        return
    with pytest.raises(ValueError, match=why):
        decode(text, n)


def _doc(correct: np.ndarray) -> dict:
    from leaderboard_fixtures import synthetic_doc

    doc = synthetic_doc("resnet10t", "luab", 0, 60.0)
    doc["schema_version"] = "1.2"
    n = correct.size
    doc["metrics"]["val_top1"] = {
        "value": 100.0 * correct.sum() / n, "n": n, "unit": "%", "higher_is_better": True, "task": "val",
    }  # fmt: skip
    doc["per_image"] = {"val_top1": encode(correct)}
    return doc


def test_result_per_image_must_be_the_vector_behind_its_metric() -> None:
    correct = np.random.default_rng(3).random(1000) < 0.61
    result = validate_result(_doc(correct), "r.json")
    assert np.array_equal(result.per_image["val_top1"].bits(), correct)
    assert result.to_json_dict()["per_image"] == {"val_top1": encode(correct)}

    flipped = correct.copy()
    flipped[7] = not flipped[7]
    bad = _doc(correct)
    bad["per_image"]["val_top1"] = encode(flipped)  # one image flipped: 1/1000 off the metric
    with pytest.raises(ResultError, match=r"r\.json.*per_image.*must be the one behind the metric"):
        validate_result(bad, "r.json")
    bad = _doc(correct)
    bad["per_image"]["val_top1"] = encode(correct[:999])
    with pytest.raises(ResultError, match="n = 999 but metric val_top1 has n = 1000"):
        validate_result(bad, "r.json")
    bad = _doc(correct)
    bad["per_image"]["nope_top1"] = encode(correct)
    with pytest.raises(ResultError, match="no metric 'nope_top1'"):
        validate_result(bad, "r.json")
    old = _doc(correct)
    old["schema_version"] = "1.1"
    with pytest.raises(ResultError, match=r'"per_image" block needs schema_version "1.2"'):
        validate_result(old, "r.json")
    absent = _doc(correct)
    del absent["per_image"]
    assert "per_image" not in validate_result(absent, "r.json").to_json_dict()


def test_signature_covers_the_per_image_block(tmp_path: Path) -> None:
    from luab_bench.results.keys import generate_keypair
    from luab_bench.results.signing import load_private_key, sign_result, verify_document

    key, _ = generate_keypair(tmp_path)
    correct = np.random.default_rng(4).random(64) < 0.5
    signed = sign_result(validate_result(_doc(correct), "r.json"), load_private_key(key)).to_json_dict()
    assert verify_document(copy.deepcopy(signed), None, source="r.json").ok
    # swap two images (the metric's mean is unchanged, so only the signature can notice)
    i, j = int(np.flatnonzero(correct)[0]), int(np.flatnonzero(~correct)[0])
    swapped = correct.copy()
    swapped[[i, j]] = swapped[[j, i]]
    forged = copy.deepcopy(signed)
    forged["per_image"]["val_top1"] = encode(swapped)
    assert not verify_document(forged, None, source="r.json").ok


def test_synthetic_suite_records_per_image_correctness(tmp_path: Path, monkeypatch) -> None:
    from luab_bench.results.per_image import per_image_block
    from luab_bench.suites.synthetic import EVAL_SPLITS, SyntheticSuite
    from test_suites import CodeModel, bg_predictor_splits, fake_loader_module, write_fixture_dataset

    splits = bg_predictor_splits()
    ds = write_fixture_dataset(tmp_path / "synthetic-s0-abcdef12", splits)
    monkeypatch.setitem(sys.modules, "luab_bench.data.synthetic", fake_loader_module())
    outcome = SyntheticSuite(analogues=False).evaluate(
        CodeModel(), dataset_dir=ds, device="cpu", batch_size=8
    )
    assert sorted(outcome.per_image) == sorted(f"{s}_top1" for s in EVAL_SPLITS)
    for split in EVAL_SPLITS:
        # independent: the model predicts the code in pixel (0, 0)
        want = splits[split].images[:, 0, 0, 0].astype(np.int64) == splits[split].labels
        assert np.array_equal(outcome.per_image[f"{split}_top1"], want)
    block = per_image_block(outcome)
    for name, rec in block.items():
        m = outcome.metrics[name]
        assert rec["n"] == m["n"] and 100.0 * sum(decode(rec["correct"], rec["n"])) / rec["n"] == m["value"]
    assert per_image_block(None) is None
