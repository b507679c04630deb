"""Issue 16 acceptance: every real release layout (tests/release_fixtures.py) evaluated end to end.

A checkpoint is evaluated through the CLI on the generated copy of every release: every metric of
every suite is present; deliberately broken tasks are recorded ``failed`` (with the reason) in the
result's ``tasks`` block while the other tasks complete; ``--strict`` and "nothing ran" exit
non-zero; ``SOURCE_DATE_EPOCH`` makes two evaluations byte-identical; a 2-process gloo evaluation
(``torchrun -m luab_bench evaluate``) equals the 1-process one on the fixture ImageNet layout and on
the synthetic suite. The imagenet and wsol results carry the ``per_image`` block of exactly their
plain-mean accuracy metrics (validated against the metrics by the schema), val top-1's vector equal
to a direct per-image loop over the fixture images; a failed or missing task has no entry.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from luab_bench.cli import cli
from luab_bench.suites import imagenet_data as data
from luab_bench.suites.imagenet import IMAGENET_TASKS, resolve_roots
from release_fixtures import build_releases

MODEL = "test_convnext"  # 160 px, LayerNorm only: fast on CPU and batch-independent

#: every metric of the imagenet suite (one or more per task)
IMAGENET_METRICS = {
    "in1k_val_top1", "real_top1", "v2_top1", "a_top1", "r_top1", "sketch_top1", "c_top1", "c_mce",
    "o_aupr", "objectnet_top1", "in9_original_top1", "in9_only_fg_top1", "in9_mixed_same_top1",
    "in9_mixed_rand_top1", "in9_bg_gap", "in9_bgc_acc", "si_size_top1", "si_loc_top1", "si_rot_top1",
}  # fmt: skip
WSOL_METRICS = {"wsol_maxboxacc_v2", "wsol_boxacc_iou30", "wsol_boxacc_iou50", "wsol_boxacc_iou70"}
WSOL_METRICS |= {"wsol_point_loc_acc"}
COCO_METRICS = {"coco_map", "coco_vavg", "coco_vmin", "coco_self_drop", "coco_mpxap"}
#: the imagenet metrics that are a plain mean of per-image correctness (the result's per_image block);
#: not: c_top1 / c_mce (over corruption x severity cells), o_aupr (AUPR), in9_bg_gap (a difference)
IMAGENET_PER_IMAGE = IMAGENET_METRICS - {"c_top1", "c_mce", "o_aupr", "in9_bg_gap"}


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for t in IMAGENET_TASKS.values():
        monkeypatch.delenv(t.env_var, raising=False)
    for var in ("LUAB_BENCH_COCO_ROOT", "LUAB_BENCH_DATA_ROOT", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_releases(tmp_path_factory.mktemp("releases"))


def make_checkpoint(
    path: Path, *, multilabel: bool = False, edit: Callable[[Any], None] | None = None
) -> Path:
    """An untrained checkpoint as `luab-bench train` writes it (ImageNet: 1000-way, COCO: 80-way);
    ``edit(net)`` changes the net's weights in place before it is saved."""
    from luab_bench.models import create_model
    from luab_bench.protocols.base import load_protocol, load_recipe
    from luab_bench.train.checkpoint import save_checkpoint

    k, proto, recipe, suite, source = (
        (80, "coco_luab", "resnet_coco_multilabel", "coco", "coco-ab")
        if multilabel
        else (1000, "luab", "resnet_in1k_100ep", "imagenet", "imagenet-ab")
    )
    p = load_protocol(proto)
    net = create_model(MODEL, k, num_point_heads=p.num_point_heads(k), init_seed=0)
    if edit is not None:
        edit(net)
    meta = {
        "model": {"name": MODEL, "num_classes": k, "num_point_heads": net.num_point_heads},
        "protocol": p.config.model_dump(mode="json"),
        "recipe": load_recipe(recipe).model_dump(mode="json"),
        "seed": 0,
        "suite": suite,
        "data": {"source": source, "variant": None},
    }
    return save_checkpoint(path, net, meta)


@pytest.fixture(scope="module")
def in1k_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "in1k")


def _eval_transform(net: Any) -> Any:
    """timm's own eval transform for the net's data config (not the suite's make_transform)."""
    from timm.data import create_transform

    keys = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")
    return create_transform(**{k: net.data_config[k] for k in keys}, is_training=False)


def _argmax_one(net: Any, tf: Any, path: Path) -> int:
    import torch
    from PIL import Image

    net.eval()
    with torch.no_grad(), Image.open(path) as im:
        return int(net(tf(im.convert("RGB"))[None]).logits.argmax(1))


def val_by_loop(net: Any, val_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Val predictions and labels computed directly: each fixture image on its own through timm's
    eval transform and the net; label = the position of its wnid folder among the sorted folders."""
    tf = _eval_transform(net)
    wnids = sorted(p.name for p in val_root.iterdir() if p.is_dir())
    paths = sorted(val_root.glob("*/*.JPEG"))
    pred = np.array([_argmax_one(net, tf, p) for p in paths])
    return pred, np.array([wnids.index(p.parent.name) for p in paths])


@pytest.fixture(scope="module")
def mixed_ckpt(releases: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untrained net with, for every third val image, its predicted and its true class's head rows
    swapped (the image is then predicted right): a vector with right and wrong images, unlike the
    untrained net's all-wrong one, whose order could not be checked."""
    import torch

    val = releases["in1k_val"]
    wnids = sorted(p.name for p in val.iterdir() if p.is_dir())

    def edit(net: Any) -> None:
        tf, head = _eval_transform(net), net.backbone.get_classifier()
        for p in sorted(val.glob("*/*.JPEG"))[::3]:
            pred, label = _argmax_one(net, tf, p), wnids.index(p.parent.name)
            with torch.no_grad():
                for t in (head.weight, head.bias):
                    t[[pred, label]] = t[[label, pred]]

    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "mixed", edit=edit)


def evaluate(*args: str | Path) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["evaluate", "--no-progress", "--device", "cpu", *map(str, args)])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


def test_hub_files_parse_with_every_empty_list_spelling(releases: dict) -> None:
    from luab_bench.data.byproducts import parse_imagenet_ab
    from luab_bench.data.coco_ab import parse_coco_ab

    hub = releases["hub"]
    for source in (hub["imagenet_ab_tar"], hub["imagenet_ab_json"]):
        bp = parse_imagenet_ab(source, strict=True)
        assert {k: tuple(round(v, 9) for v in xy) for k, xy in bp.points.items()} == hub["selected"]
        assert bp.report.no_point == {"not_selected": hub["not_selected"], "deselected": 0}
        assert bp.report.n_malformed == 0
    assert parse_coco_ab(hub["coco_ab"]).report.records == 5


def test_every_release_is_evaluated_end_to_end(
    releases: dict, in1k_ckpt: Path, mixed_ckpt: Path, tmp_path: Path
) -> None:
    from luab_bench.leaderboard.paired import image_scores
    from luab_bench.results.schema import load_result
    from luab_bench.train.checkpoint import load_checkpoint

    code, out = evaluate("--checkpoint", mixed_ckpt, "--suite", "imagenet", "--data-root", releases["root"],
                         "--out", tmp_path / "in.json")  # fmt: skip
    assert code == 0, out
    doc = json.loads((tmp_path / "in.json").read_text())
    assert set(doc["metrics"]) == IMAGENET_METRICS
    assert doc["tasks"] == {name: {"status": "ok", "reason": ""} for name in IMAGENET_TASKS}
    assert doc["schema_version"] == "1.2"
    for m in doc["metrics"].values():
        assert m["n"] > 0
    assert doc["metrics"]["c_top1"]["n"] == 15 * 5 * 2  # every corruption/severity cell read
    # per-image correctness: exactly the plain-mean metrics, each the vector behind its value
    result = load_result(tmp_path / "in.json")  # the schema checks 100 * ones / n == value, n == n
    assert result.per_image is not None and set(result.per_image) == IMAGENET_PER_IMAGE
    pred, label = val_by_loop(load_checkpoint(mixed_ckpt)[0], releases["in1k_val"])
    assert (pred == label).any() and not (pred == label).all()  # a wrong order or subset would show
    assert result.per_image["in1k_val_top1"].bits() == (pred == label).tolist()
    real = json.loads(releases["real"].read_text())  # one list per val number 1..8 (= val order here)
    want_real = [int(p) in lab for p, lab in zip(pred, real, strict=True) if lab]
    assert result.per_image["real_top1"].bits() == want_real
    assert result.per_image["real_top1"].n == sum(map(bool, real)) < len(real)  # the ReaL subset only
    gap = image_scores(result.per_image, "in9_bg_gap")
    assert gap is not None and np.mean(gap) == pytest.approx(doc["metrics"]["in9_bg_gap"]["value"], abs=1e-9)

    code, out = evaluate("--checkpoint", in1k_ckpt, "--suite", "wsol", "--data-root", releases["wsol"],
                         "--out", tmp_path / "wsol.json")  # fmt: skip
    assert code == 0, out
    doc = json.loads((tmp_path / "wsol.json").read_text())
    assert set(doc["metrics"]) == WSOL_METRICS and doc["tasks"] == {"wsol": {"status": "ok", "reason": ""}}
    assert set(load_result(tmp_path / "wsol.json").per_image or {}) == {"wsol_point_loc_acc"}

    coco = make_checkpoint(tmp_path / "coco", multilabel=True)
    code, out = evaluate(
        "--checkpoint", coco, "--data-root", releases["coco"], "--out", tmp_path / "coco.json"
    )
    assert code == 0, out
    doc = json.loads((tmp_path / "coco.json").read_text())
    assert set(doc["metrics"]) == COCO_METRICS and doc["metrics"]["coco_map"]["n"] == 6
    assert "per_image" not in doc  # mAP, mPxAP, V^avg / V^min: none is a mean over images

    # issue 16 item 5: a COCO model on the imagenet suite is refused up front, in one line
    code, out = evaluate("--checkpoint", coco, "--suite", "imagenet", "--data-root", releases["root"],
                         "--out", tmp_path / "bad.json")  # fmt: skip
    assert code != 0 and "predicts 80 classes" in out and "--suite coco" in out
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    assert "Traceback" not in out and len(errors) == 1 and out.strip().endswith(errors[0])
    assert not (tmp_path / "bad.json").exists()


def test_broken_tasks_are_failed_while_the_others_complete(in1k_ckpt: Path, tmp_path: Path) -> None:
    only = ("v2", "sketch", "c", "objectnet", "si_loc", "si_rot")
    rel = build_releases(tmp_path / "rel", only=only, broken=("sketch", "c"))
    out_json = tmp_path / "r.json"
    code, out = evaluate("--checkpoint", in1k_ckpt, "--suite", "imagenet", "--data-root", rel["root"],
                         "--out", out_json)  # fmt: skip
    assert code == 0, out
    doc = json.loads(out_json.read_text())
    tasks = doc["tasks"]
    assert (
        tasks["sketch"]["status"] == "failed" and "expected 1000 class folders" in tasks["sketch"]["reason"]
    )
    assert tasks["c"]["status"] == "failed" and "lacks 1 corruption/severity" in tasks["c"]["reason"]
    assert {k for k, v in tasks.items() if v["status"] == "ok"} == {"v2", "objectnet", "si_loc", "si_rot"}
    assert {k for k, v in tasks.items() if v["status"] == "missing"} == set(IMAGENET_TASKS) - set(only)
    assert "imagenet-a" in tasks["a"]["reason"] and "LUAB_BENCH_IMAGENET_A_ROOT" in tasks["a"]["reason"]
    assert set(doc["metrics"]) == {"v2_top1", "objectnet_top1", "si_loc_top1", "si_rot_top1"}
    assert set(doc["per_image"]) == set(doc["metrics"])  # none from the failed sketch, c or missing ones
    assert "failed task sketch" in out and "missing task a" in out

    out_json.unlink()
    code, out = evaluate("--checkpoint", in1k_ckpt, "--suite", "imagenet", "--data-root", rel["root"],
                         "--out", out_json, "--strict")  # fmt: skip
    assert code != 0 and "--strict" in out and "sketch (failed)" in out and "Traceback" not in out
    assert json.loads(out_json.read_text())["tasks"] == tasks  # written before failing: nothing lost


def test_nothing_ran_is_an_error_and_writes_nothing(in1k_ckpt: Path, tmp_path: Path) -> None:
    rel = build_releases(tmp_path / "rel", only=("sketch",), broken=("sketch",))
    code, out = evaluate("--checkpoint", in1k_ckpt, "--suite", "imagenet", "--data-root", rel["root"],
                         "--out", tmp_path / "r.json")  # fmt: skip
    assert code != 0 and "no task completed" in out and "sketch failed" in out and "Traceback" not in out
    assert not (tmp_path / "r.json").exists()


def test_source_date_epoch_makes_two_evaluations_byte_identical(
    in1k_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel = build_releases(tmp_path / "rel", only=("v2",))
    key = tmp_path / "keys" / "k"
    assert CliRunner().invoke(cli, ["keygen", "--out", str(key.parent), "--name", "k"]).exit_code == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    paths = [tmp_path / f"r{i}.json" for i in range(2)]
    for p in paths:
        code, out = evaluate("--checkpoint", in1k_ckpt, "--suite", "imagenet", "--data-root", rel["root"],
                             "--out", p, "--key", key)  # fmt: skip
        assert code == 0, out
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert json.loads(paths[0].read_text())["created_at"] == "2023-11-14T22:13:20+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    code, out = evaluate("--checkpoint", in1k_ckpt, "--suite", "imagenet", "--data-root", rel["root"],
                         "--out", tmp_path / "x.json")  # fmt: skip
    assert code != 0 and "SOURCE_DATE_EPOCH='yesterday'" in out


def test_released_folder_names_are_found(tmp_path: Path) -> None:
    (tmp_path / "imagenetv2-matched-frequency").mkdir()  # the older name is still accepted
    (tmp_path / "si-score" / "area").mkdir(parents=True)  # the https zip of the size subset
    (tmp_path / "rotation").mkdir()
    roots = resolve_roots(tmp_path)
    assert roots["v2"].name == "imagenetv2-matched-frequency"
    assert roots["si_size"] == tmp_path / "si-score" / "area" and roots["si_rot"] == tmp_path / "rotation"
    (tmp_path / "imagenetv2-matched-frequency-format-val").mkdir()  # what the release extracts to
    assert resolve_roots(tmp_path)["v2"].name == "imagenetv2-matched-frequency-format-val"
    assert resolve_roots(tmp_path / "nowhere")["si_loc"].parts[-2:] == ("si-score", "object_location")


def test_builtin_si_score_table_names_match_imagenet_classes() -> None:
    """Each of the 61 indices is an ImageNet class whose name contains the SI-Score label (timm's
    descriptions, an independent source; "jeans" is ImageNet's "jean, blue jean, denim")."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    assert len(data.SI_SCORE_IMAGENET_INDEX) == 61
    for label, index in data.SI_SCORE_IMAGENET_INDEX.items():
        text = info.index_to_description(index).lower()
        assert label.rstrip("s") in text, (label, index, text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun_evaluate(args: list[str]) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=2 -m luab_bench evaluate ...`` on CPU (gloo)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1"]
    cmd += [
        f"--master_port={_free_port()}",
        "-m",
        "luab_bench",
        "evaluate",
        "--no-progress",
        "--device",
        "cpu",
    ]
    return subprocess.run(cmd + args, capture_output=True, text=True, timeout=600, env=env)


def _same_results(one: Path, two: Path) -> None:
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert a["metrics"] == b["metrics"]  # values, n and intervals, exactly
    assert a.get("tasks") == b.get("tasks")
    assert a.get("per_image") == b.get("per_image")  # rank 0's vectors are the 1-process ones


@pytest.mark.slow
def test_two_process_evaluation_equals_one_process_on_the_imagenet_layout(
    releases: dict, in1k_ckpt: Path, tmp_path: Path
) -> None:
    args = ["--checkpoint", str(in1k_ckpt), "--suite", "imagenet", "--data-root", str(releases["root"])]
    code, out = evaluate(*args, "--out", tmp_path / "one.json")
    assert code == 0, out
    proc = torchrun_evaluate([*args, "--out", str(tmp_path / "two.json")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(2 processes)" in proc.stdout
    _same_results(tmp_path / "one.json", tmp_path / "two.json")
    assert set(json.loads((tmp_path / "two.json").read_text())["metrics"]) == IMAGENET_METRICS
    assert set(json.loads((tmp_path / "two.json").read_text())["per_image"]) == IMAGENET_PER_IMAGE


@pytest.mark.slow
def test_two_process_evaluation_equals_one_process_on_the_synthetic_suite(tmp_path: Path) -> None:
    from luab_bench import pipeline
    from luab_bench.models import create_model
    from luab_bench.protocols.base import load_protocol, load_recipe
    from luab_bench.train.checkpoint import save_checkpoint

    ds = pipeline.prepare_synthetic("synthetic-tiny", tmp_path / "data", progress=False)
    net = create_model(MODEL, 10, num_point_heads=1, init_seed=0)
    meta = {
        "model": {"name": MODEL, "num_classes": 10, "num_point_heads": 1},
        "protocol": load_protocol("luab").config.model_dump(mode="json"),
        "recipe": load_recipe("synthetic").model_dump(mode="json"),
        "seed": 0,
        "suite": "synthetic",
        "data": {"source": "synthetic", "variant": "synthetic-tiny", "fingerprint": ds.fingerprint},
    }
    ckpt = save_checkpoint(tmp_path / "ckpt", net, meta)
    args = ["--checkpoint", str(ckpt), "--data-dir", str(tmp_path / "data")]
    proc = torchrun_evaluate([*args, "--out", str(tmp_path / "two.json")])  # rank 0 makes the analogues
    assert proc.returncode == 0, proc.stderr[-3000:]
    code, out = evaluate(*args, "--out", tmp_path / "one.json")
    assert code == 0, out
    _same_results(tmp_path / "one.json", tmp_path / "two.json")
    assert {"val_top1", "bg_gap", "point_loc_acc", "c_top1", "bgc_acc"} <= set(
        json.loads((tmp_path / "one.json").read_text())["metrics"]
    )
