"""Real-dataset loaders on tiny fixture trees in the released layouts, and the suite group runner."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from luab_bench.errors import DataError
from luab_bench.suites import imagenet_data as data
from luab_bench.suites.imagenet import border_crop, evaluate_suite_group
from release_fixtures import objectnet as _objectnet  # the one builder of release layouts

SYN = data.imagenet_synsets()


def _img(path, value=0, size=(12, 12)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)


def test_v2_numeric_folders_sort_numerically(tmp_path):
    for k in (0, 2, 10, 999):
        _img(tmp_path / str(k) / "a.jpeg", k % 255)
    s = data.load_imagenet_v2(tmp_path)
    np.testing.assert_array_equal(s.labels, [0, 2, 10, 999])  # string order would put 10 before 2
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="non-numeric"):
        data.load_imagenet_v2(tmp_path)


def test_imagenet_a_200_wnids_give_subset_labels(tmp_path):
    from importlib.resources import files

    import timm.data._info as info
    from timm.data import ImageNetInfo  # noqa: F401  (the shipped IN-A synsets)

    wnids = files(info).joinpath("imagenet_a_synsets.txt").read_text().split()
    assert len(wnids) == 200
    for w in reversed(wnids):
        _img(tmp_path / w / "x.jpg")
    s = data.load_wnid_folders(tmp_path, "a", expect=200)
    idx = [g[0] for g in s.class_indices]
    assert idx == sorted(SYN.index(w) for w in wnids)
    np.testing.assert_array_equal(s.labels, np.arange(200))
    with pytest.raises(DataError, match="expected 1000"):
        data.load_wnid_folders(tmp_path, "sketch", expect=1000)


def test_imagenet_c_tree_and_real_alignment(tmp_path):
    for c in ("fog", "snow"):
        for sev in (1, 2):
            for i, w in enumerate(SYN):
                if i < 1000:
                    (tmp_path / "c" / c / str(sev) / w).mkdir(parents=True)
            _img(tmp_path / "c" / c / str(sev) / SYN[3] / "ILSVRC2012_val_00000002.JPEG")
    cells = data.load_imagenet_c(tmp_path / "c")
    assert set(cells) == {("fog", 1), ("fog", 2), ("snow", 1), ("snow", 2)}
    assert cells[("fog", 1)].labels.tolist() == [3]
    (tmp_path / "real.json").write_text(json.dumps([[], [3, 7], [1]]))
    assert data.load_real_labels(tmp_path / "real.json", cells[("fog", 1)]) == [[3, 7]]


def test_objectnet_mapping_and_border(tmp_path):
    _objectnet(tmp_path)
    s = data.load_objectnet(tmp_path)
    assert s.class_indices == [[409, 530], [968]]
    np.testing.assert_array_equal(s.labels, [0, 1])
    im = Image.new("RGB", (10, 8))
    assert border_crop(im).size == (6, 4)


class _Fixed(torch.nn.Module):
    """Predicts class ``pixel value`` of the image (mean over the first channel, unnormalised)."""

    def forward(self, x):
        v = (x[:, 0].mean(dim=(1, 2)) * 255).round().long()
        return torch.nn.functional.one_hot(v % 1000, 1000).float()


def test_evaluate_suite_group_runs_present_and_lists_missing(tmp_path, monkeypatch):
    for var in ("LUAB_BENCH_IMAGENET_ROOT", "LUAB_BENCH_IMAGENET_V2_ROOT", "LUAB_BENCH_OBJECTNET_ROOT"):
        monkeypatch.delenv(var, raising=False)
    for k, v in ((0, 0), (5, 5), (7, 9)):  # last image is predicted 9, labelled 7
        _img(tmp_path / "v2" / str(k) / "a.jpeg", v)
    _objectnet(tmp_path / "on")
    cfg = {
        "input_size": (3, 8, 8),
        "interpolation": "bilinear",
        "mean": (0, 0, 0),
        "std": (1, 1, 1),
        "crop_pct": 1.0,
        "crop_mode": "center",
    }
    res = evaluate_suite_group(
        "imagenet",
        {"v2": tmp_path / "v2", "objectnet": tmp_path / "on"},
        _Fixed(),
        base_dir=tmp_path / "nowhere",
        tasks=["v2", "objectnet", "a", "real"],
        data_config=cfg,
        n_boot=50,
    )
    m = res.metrics["v2_top1"]
    assert m["value"] == pytest.approx(200 / 3) and m["n"] == 3 and m["ci_low"] <= m["value"] <= m["ci_high"]
    assert "objectnet_top1" in res.metrics
    missing = {(x.task, x.path.name) for x in res.missing}
    assert ("a", "imagenet-a") in missing and ("real", "real.json") in missing and ("real", "val") in missing
    assert all("LUAB_BENCH" in x.how_to_get for x in res.missing)


def test_table_layout_renders_present_and_absent_metrics():
    from rich.console import Console

    from luab_bench.suites.tables import layout, render_table

    TABLE1_IMAGENET = layout("imagenet")
    row = {"v2_top1": {"value": 66.6667, "ci_low": 50.0, "ci_high": 80.0}}
    console = Console(record=True, width=300)
    console.print(render_table([("resnet/luab", row)], TABLE1_IMAGENET))
    text = console.export_text()
    assert "66.7 [50.0, 80.0]" in text and "ObjectNet" in text and " - " in text


def _si(root, classes):
    root.mkdir(parents=True)
    rows = "".join(f"{idx},{name}\n" for idx, name in classes)
    (root / "foreground_classes.csv").write_text("int,label\n" + rows)
    for idx, name in classes:
        _img(root / name / "0.jpg", idx % 256)


def test_si_score_layout_maps_class_folders_to_imagenet_indices(tmp_path):
    _si(tmp_path / "object_size", [(105, "koala"), (9, "ostrich"), (950, "orange")])
    s = data.load_si_score(tmp_path / "object_size", "size")
    assert s.labels.tolist() == [105, 9, 950] and s.class_indices == [[105], [9], [950]]
    (tmp_path / "object_size" / "zebra").mkdir()
    with pytest.raises(DataError, match="not listed"):
        data.load_si_score(tmp_path / "object_size", "size")


def test_si_tasks_run_in_the_group(tmp_path, monkeypatch):
    for var in (
        "LUAB_BENCH_SI_SCORE_SIZE_ROOT",
        "LUAB_BENCH_SI_SCORE_LOC_ROOT",
        "LUAB_BENCH_SI_SCORE_ROT_ROOT",
    ):
        monkeypatch.delenv(var, raising=False)
    _si(tmp_path / "si-score" / "object_location", [(9, "ostrich"), (18, "magpie")])
    (tmp_path / "si-score" / "object_location" / "magpie" / "0.jpg").unlink()
    _img(tmp_path / "si-score" / "object_location" / "magpie" / "1.jpg", 20)  # predicted 20, label 18
    cfg = {"input_size": (3, 8, 8), "interpolation": "bilinear", "mean": (0, 0, 0), "std": (1, 1, 1),
           "crop_pct": 1.0, "crop_mode": "center"}  # fmt: skip
    res = evaluate_suite_group(
        "imagenet", None, _Fixed(), base_dir=tmp_path, tasks=["si_loc", "si_rot"], data_config=cfg, n_boot=20
    )
    assert res.metrics["si_loc_top1"]["value"] == pytest.approx(50.0)
    assert [m.task for m in res.missing] == ["si_rot"] and "si-score" in res.missing[0].how_to_get


def _challenge(root):
    """IN-9 challenge fixture: fg value = class-coded; backgrounds of value 0 and 40."""
    mapping = {str(i): -1 for i in range(1000)}
    mapping.update({"10": 0, "11": 1, "40": 2})
    root.mkdir(parents=True, exist_ok=True)
    (root / "in_to_in9.json").write_text(json.dumps(mapping))
    names = [f"{k:02d}_c{k}" for k in range(9)]
    for k, name in enumerate(names):
        (root / "fg_mask" / "val" / name).mkdir(parents=True)
        _img(root / "only_bg_t" / "val" / name / "b.JPEG", 40 if k == 0 else 0)
    mask = np.ones((12, 12), dtype=bool)
    for k, value in ((0, 10), (1, 11)):
        np.save(root / "fg_mask" / "val" / names[k] / "f.npy", mask)
        _img(root / "original" / "val" / names[k] / "f.JPEG", value)
    np.save(root / "fg_mask" / "val" / names[1] / "g.npy", np.zeros((12, 12), dtype=bool))
    _img(root / "original" / "val" / names[1] / "g.JPEG", 11)


def test_bg_challenge_accuracy_on_fixture(tmp_path):
    _challenge(tmp_path / "bg")
    ch = data.load_bg_challenge(tmp_path / "bg")
    assert ch.labels.tolist() == [0, 1, 1] and len(ch.bg_paths) == 9
    cfg = {"input_size": (3, 12, 12), "mean": (0, 0, 0), "std": (1, 1, 1)}
    res = evaluate_suite_group(
        "imagenet", {"bg_challenge": tmp_path / "bg"}, _Fixed(), tasks=["bg_challenge"], data_config=cfg,
        n_boot=20, batch_size=4,
    )  # fmt: skip
    # fully-masked foregrounds (values 10 and 11) survive every background; the empty-mask one
    # shows the backgrounds (value 40 -> class 2, value 0 -> unmapped) and is flipped
    m = res.metrics["in9_bgc_acc"]
    assert m["value"] == pytest.approx(200 / 3) and m["n"] == 3
    # per foreground, in the challenge's order (class 0's f, class 1's f, class 1's g)
    assert res.per_image["in9_bgc_acc"].tolist() == [True, True, False]


def test_per_image_vectors_are_the_ones_behind_val_real_and_v2(tmp_path):
    """Known by construction (``_Fixed`` predicts the pixel value): val, its ReaL subset and V2."""
    from luab_bench.results.per_image import PerImage, check_against_metric, encode

    val = tmp_path / "val"
    for w in SYN:
        (val / w).mkdir(parents=True)
    # (class, pixel value) in val order: right, wrong, right, right, wrong
    for n, (k, v) in enumerate(((0, 0), (0, 9), (1, 1), (2, 2), (3, 7)), start=1):
        _img(val / SYN[k] / f"ILSVRC2012_val_{n:08d}.JPEG", v)
    real = [[0], [9], [], [5], [3, 7]]  # val_2's prediction 9 is ReaL-right; val_3 has no ReaL labels
    (tmp_path / "real.json").write_text(json.dumps(real))
    for k, v in ((0, 0), (5, 5), (7, 9)):
        _img(tmp_path / "v2" / str(k) / "a.jpeg", v)
    cfg = {"input_size": (3, 8, 8), "interpolation": "bilinear", "mean": (0, 0, 0), "std": (1, 1, 1),
           "crop_pct": 1.0, "crop_mode": "center"}  # fmt: skip
    res = evaluate_suite_group(
        "imagenet",
        {"in1k_val": val, "real": tmp_path / "real.json", "v2": tmp_path / "v2"},
        _Fixed(),
        tasks=["in1k_val", "real", "v2"],
        data_config=cfg,
        n_boot=20,
    )
    got = {k: np.asarray(v).tolist() for k, v in res.per_image.items()}
    assert got == {
        "in1k_val_top1": [True, False, True, True, False],
        "real_top1": [True, True, False, True],  # the 4 images with ReaL labels, in val order
        "v2_top1": [True, True, False],
    }
    for name, bits in got.items():  # what the result schema checks on load
        m = res.metrics[name]
        check_against_metric(name, PerImage(**encode(bits)), m["value"], m["n"])


def test_a_task_failing_part_way_leaves_no_per_image_entry(tmp_path):
    """Backgrounds scores original, only_fg and mixed_same before mixed_rand's folder is found
    missing: the task is failed and none of its vectors is kept; the other task's is."""
    import shutil

    from luab_bench.leaderboard.paired import image_scores
    from luab_bench.results.per_image import PerImage, per_image_block
    from release_fixtures import backgrounds

    backgrounds(tmp_path / "bg")
    cfg = {"input_size": (3, 8, 8), "interpolation": "bilinear", "mean": (0, 0, 0), "std": (1, 1, 1),
           "crop_pct": 1.0, "crop_mode": "center"}  # fmt: skip
    for k, v in ((0, 0), (5, 5)):
        _img(tmp_path / "v2" / str(k) / "a.jpeg", v)
    roots = {"backgrounds": tmp_path / "bg", "v2": tmp_path / "v2"}
    whole = evaluate_suite_group(
        "imagenet", roots, _Fixed(), tasks=["backgrounds", "v2"], data_config=cfg, n_boot=20
    )
    splits = {f"in9_{v}_top1" for v in ("original", "only_fg", "mixed_same", "mixed_rand")}
    assert set(whole.per_image) == splits | {"v2_top1"}  # not in9_bg_gap: a difference of two means
    blocks = {k: PerImage(**v) for k, v in (per_image_block(whole) or {}).items()}
    gap = image_scores(blocks, "in9_bg_gap")  # the site's derivation finds the two mixed splits
    assert gap is not None and np.mean(gap) == pytest.approx(whole.metrics["in9_bg_gap"]["value"], abs=1e-9)

    shutil.rmtree(tmp_path / "bg" / "mixed_rand")
    part = evaluate_suite_group(
        "imagenet", roots, _Fixed(), tasks=["backgrounds", "v2"], data_config=cfg, n_boot=20
    )
    assert part.tasks["backgrounds"].status == "failed" and "mixed_rand" in part.tasks["backgrounds"].reason
    assert set(part.per_image) == {"v2_top1"} == set(part.metrics)


def test_bg_challenge_needs_fg_masks(tmp_path):
    (tmp_path / "bg").mkdir()
    cfg = {"mean": (0,) * 3, "std": (1,) * 3}
    res = evaluate_suite_group(
        "imagenet", {"bg_challenge": tmp_path / "bg"}, _Fixed(), tasks=["bg_challenge"], data_config=cfg
    )
    assert [m.task for m in res.missing] == ["bg_challenge"]


class _RunnerUp(torch.nn.Module):
    """Top logit at the image value (mod 1000), runner-up at ImageNet index 18 (magpie)."""

    def forward(self, x):
        v = (x[:, 0].mean(dim=(1, 2)) * 255).round().long()
        return (
            2.0 * torch.nn.functional.one_hot(v % 1000, 1000).float()
            + torch.nn.functional.one_hot(torch.full_like(v, 18), 1000).float()
        )


def test_si_score_is_scored_1000_way_not_restricted_to_its_classes(tmp_path, monkeypatch):
    # google-research/si-score's analysis colab ranks all 1000 logits: the magpie image predicted 20
    # (not an SI-Score class) is a miss even though magpie beats ostrich among the subset's classes
    monkeypatch.delenv("LUAB_BENCH_SI_SCORE_LOC_ROOT", raising=False)
    _si(tmp_path / "si-score" / "object_location", [(9, "ostrich"), (18, "magpie")])
    (tmp_path / "si-score" / "object_location" / "magpie" / "0.jpg").unlink()
    _img(tmp_path / "si-score" / "object_location" / "magpie" / "1.jpg", 20)
    cfg = {"input_size": (3, 8, 8), "interpolation": "bilinear", "mean": (0, 0, 0), "std": (1, 1, 1),
           "crop_pct": 1.0, "crop_mode": "center"}  # fmt: skip
    res = evaluate_suite_group(
        "imagenet", None, _RunnerUp(), base_dir=tmp_path, tasks=["si_loc"], data_config=cfg, n_boot=20
    )
    m = res.metrics["si_loc_top1"]
    assert m["value"] == pytest.approx(50.0) and m["n"] == 2  # a 2-way restricted argmax would give 100
    assert "unrestricted" in m["task"]


def test_imagenet_suite_returns_missing_datasets_in_its_outcome(tmp_path, monkeypatch):
    from luab_bench.suites.base import EvalOutcome, MissingDataset
    from luab_bench.suites.imagenet import IMAGENET_TASKS, ImagenetSuite

    for t in IMAGENET_TASKS.values():
        monkeypatch.delenv(t.env_var, raising=False)
    for k, v in ((0, 0), (5, 5), (7, 9)):
        _img(tmp_path / "imagenetv2-matched-frequency" / str(k) / "a.jpeg", v)
    monkeypatch.setattr(
        "luab_bench.suites.image_files.default_data_config",
        lambda m: {"input_size": (3, 8, 8), "interpolation": "bilinear", "mean": (0, 0, 0),
                   "std": (1, 1, 1), "crop_pct": 1.0, "crop_mode": "center"},
    )  # fmt: skip
    out = ImagenetSuite().evaluate(_Fixed(), dataset_dir=tmp_path, n_boot=20)
    assert isinstance(out, EvalOutcome) and set(out.metrics) == {"v2_top1"}
    assert all(isinstance(m, MissingDataset) for m in out.missing)
    assert {m.task for m in out.missing} == set(IMAGENET_TASKS) - {"v2"}
    with pytest.raises(DataError, match="no dataset found"):
        ImagenetSuite().evaluate(_Fixed(), dataset_dir=tmp_path / "nowhere", n_boot=20)
