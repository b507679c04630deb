"""Alignment in every result: `align_result` on a checkpoint, the typed block, signing, skips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from luab_bench.alignment.report import AlignConfig, align_model, align_result, write_alignment
from luab_bench.alignment.saliency import saliency_preset
from luab_bench.alignment.sets import load_alignment_set
from luab_bench.commands.align import align
from luab_bench.errors import LuabError
from luab_bench.models import create_model
from luab_bench.results.schema import Result, load_result
from luab_bench.results.signing import generate_keypair, verify_result_file
from luab_bench.results.store import write_result
from luab_bench.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def _checkpoint(
    path: Path, data_dir: Path, source: str = "synthetic", variant: str = "synthetic-tiny"
) -> Path:
    from luab_bench import pipeline

    fingerprint = None
    if source == "synthetic":
        fingerprint = pipeline.prepare_synthetic(variant, data_dir, progress=False).fingerprint
    net = create_model("resnet10t", 10, num_point_heads=1, init_seed=0)
    meta = {
        "model": {"name": "resnet10t", "num_classes": 10, "num_point_heads": 1},
        "protocol": {"name": "luab", "version": "1", "family": "point_regression"},
        "seed": 0,
        "suite": "synthetic",
        "data": {"source": source, "variant": variant, "fingerprint": fingerprint},
    }
    return save_checkpoint(path, net, meta)


def _result(path: Path, version: str = "1.0") -> Path:
    doc = {
        "schema_version": version,
        "result_id": "r1",
        "created_at": "2026-01-31T12:00:00Z",
        "model": {"name": "resnet10t"},
        "protocol": {"name": "luab", "version": "1", "family": "point_regression"},
        "suite": {"name": "synthetic", "variant": "synthetic-tiny"},
        "seed": 0,
        "metrics": {"top1_val": {"value": 50.0, "n": 10, "unit": "%", "higher_is_better": True}},
        "config": {},
        "provenance": {"luab_bench_version": "0.1.0"},
    }
    return write_result(path, Result.model_validate(doc))


def test_align_result_fills_metrics_and_the_typed_block_and_signs(tmp_path: Path, data_dir: Path) -> None:
    ckpt = _checkpoint(tmp_path / "ckpt", data_dir)
    out = _result(tmp_path / "r.json")
    key, _ = generate_keypair(tmp_path / "keys")
    done = align_result(
        out, ckpt, data_dir=data_dir, device="cpu", methods=("gbp", "cameras"), limit=12, n_boot=20, key=key
    )
    assert done.skipped is None and done.signed and done.report is not None
    result = load_result(out)
    assert result.schema_version == "1.2" and verify_result_file(out).ok
    assert not any(k.endswith("_class_gap") for k in result.metrics)  # single-label: no partner class
    assert {"align_gbp_r", "align_cameras_r", "align_gbp_nss", "align_mask_gap", "top1_val"} <= set(
        result.metrics
    )
    block = result.alignment
    assert block is not None and block.measure == "clicks" and "synthetic-tiny/val (12 evenly" in block.data
    by = {c.method: c for c in block.curves}
    assert set(by) == {"gbp", "cameras", "centre", "spectral_residual"}
    assert by["gbp"].sigmas == [float(s) for s in range(31)]
    assert by["centre"].kind == "baseline" and by["gbp"].kind == "method"
    # schema 1.2: human-data bootstrap (annotators redrawn), image interval, pairwise tests
    assert by["gbp"].human_boot_n == 20 and by["gbp"].human_boot_sd is not None
    assert by["gbp"].human_boot_ci_low <= by["gbp"].human_boot_ci_high
    assert block.pairwise is not None and set(block.pairwise.names) == set(by)
    assert "target=top" in block.conventions
    # issue 12 (e): per-image r at each map's peak sigma, aligned with the block's image ids; the
    # stored block's own t-test is scipy's on exactly these vectors
    from scipy import stats

    assert block.image_ids == list(done.report.ids) and len(block.image_ids) == 12
    assert block.human_boot_note is not None and "resampled" in block.human_boot_note
    vec = {
        m: np.array([np.nan if v is None else v for v in c.per_image_r], dtype=float) for m, c in by.items()
    }
    assert all(len(v) == 12 for v in vec.values())
    assert np.nanmean(vec["gbp"]) == pytest.approx(by["gbp"].best_r)
    ok = np.all([np.isfinite(v) for v in vec.values()], axis=0)
    pw = block.pairwise
    i, j = pw.names.index("gbp"), pw.names.index("centre")
    ref = stats.ttest_rel(vec["gbp"][ok], vec["centre"][ok])
    assert pw.t[i][j] == pytest.approx(ref.statistic) and pw.n == int(ok.sum())
    # the block's curve is the search behind the metric: best_r is its max, at best_sigma
    gbp = by["gbp"]
    assert gbp.best_r == pytest.approx(result.metrics["align_gbp_r"].value)
    assert gbp.best_r == pytest.approx(max(v for v in gbp.mean_r if v is not None))
    assert gbp.mean_r[gbp.sigmas.index(gbp.best_sigma)] == pytest.approx(gbp.best_r)
    assert f"best sigma {gbp.best_sigma:g} px" in result.metrics["align_gbp_r"].task

    # a second run with one method keeps the other method's curve (same data) and, unsigned, says so
    again = align_result(
        out, ckpt, data_dir=data_dir, device="cpu", methods=("gradient",), limit=12, n_boot=20
    )
    assert not again.signed
    result = load_result(out)
    assert result.signature is None and {c.method for c in result.alignment.curves} == {
        "gbp",
        "cameras",
        "gradient",
        "centre",
        "spectral_residual",
    }


def test_handed_net_gives_the_values_of_the_checkpoint(tmp_path: Path, data_dir: Path) -> None:
    """``net=`` (the in-memory model ``run`` hands over) measures what the reloaded checkpoint does."""
    from luab_bench.train.checkpoint import load_checkpoint

    ckpt = _checkpoint(tmp_path / "ckpt", data_dir)
    opts = {"data_dir": data_dir, "device": "cpu", "methods": ("gbp", "gradient"), "limit": 8, "n_boot": 10}
    reloaded = align_result(None, ckpt, **opts)
    net, _ = load_checkpoint(ckpt, "cpu")
    net.train()  # handed over in any mode: align_result puts it in eval mode
    handed = align_result(None, ckpt, net=net, **opts)
    assert not net.training
    assert reloaded.report is not None and handed.report is not None
    assert handed.report.metrics() == reloaded.report.metrics()
    assert handed.report.alignment_block() == reloaded.report.alignment_block()


def test_align_result_skips_data_without_human_maps_and_leaves_the_file(
    tmp_path: Path, data_dir: Path
) -> None:
    ckpt = _checkpoint(tmp_path / "ckpt", data_dir, source="imagenet-ab", variant="imagenet-ab")
    out = _result(tmp_path / "r.json")
    before = out.read_bytes()
    done = align_result(out, ckpt, data_dir=data_dir, device="cpu", limit=4)
    assert done.report is None and "trained on 'imagenet-ab' data" in (done.skipped or "")
    assert out.read_bytes() == before


def test_inapplicable_method_is_skipped_with_its_reason_or_raises(data_dir: Path) -> None:
    aset = load_alignment_set("synthetic-tiny", data_dir, limit=6, annotators=1)
    vit = create_model("vit_tiny_patch16_224", 10, num_point_heads=0, img_size=32, depth=2).eval()
    cfg = AlignConfig(
        methods=("gbp", "cameras", "gradcam"), n_boot=10, masking=False, skip_inapplicable=True, baselines=()
    )
    report = align_model(vit, aset.images, aset.targets, aset.ids, aset.human, cfg)
    # the paper's GBP rule covers GELU; its code refuses CAMERAS on a ViT, and so do we
    assert [s.method for s in report.scores] == ["gbp", "gradcam"]
    assert "CAMERAS cannot be applied to ViT" in report.skipped["cameras"]
    assert any(line.startswith("cameras             skipped:") for line in report.table_lines())
    with pytest.raises(LuabError, match="CAMERAS cannot be applied to ViT"):
        align_model(vit, aset.images, aset.targets, aset.ids, aset.human, AlignConfig(methods=("cameras",)))
    # the luab-v1 conventions keep the old ReLU-only guided backprop
    old = AlignConfig(methods=("gbp",), saliency=saliency_preset("luab-v1"), skip_inapplicable=True)
    empty = align_model(vit, aset.images, aset.targets, aset.ids, aset.human, old)
    assert "needs a ReLU network" in empty.skipped["gbp"] and "GELU" in empty.skipped["gbp"]
    assert not empty.scores and empty.mask is None
    with pytest.raises(LuabError, match="no saliency method could be run"):
        write_alignment(Path("unused.json"), empty)


def test_cli_checkpoint_path_writes_the_block(tmp_path: Path, data_dir: Path) -> None:
    ckpt = _checkpoint(tmp_path / "ckpt", data_dir)
    out = _result(tmp_path / "r.json")
    args = ["--checkpoint", str(ckpt), "--data-dir", str(data_dir), "--method", "cameras", "--limit", "8",
            "--annotators", "1", "--n-boot", "10", "--no-progress", "--out", str(out),
            "--device", "cpu"]  # fmt: skip
    res = CliRunner().invoke(align, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "UNSIGNED" in res.output and "cameras" in res.output
    assert load_result(out).alignment.curves[0].method == "cameras"


def test_cli_untrained_model_on_synthetic_coco(tmp_path: Path, data_dir: Path) -> None:
    out = _result(tmp_path / "r.json", version="1.1")
    args = ["--model", "resnet10t", "--variant", "synthetic-coco-tiny", "--data-dir", str(data_dir),
            "--method", "cameras,gbp", "--limit", "16", "--annotators", "2", "--n-boot", "10",
            "--no-progress", "--out", str(out), "--device", "cpu"]  # fmt: skip
    res = CliRunner().invoke(align, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "(image, class) pairs" in res.output and "final icon positions" in res.output
    result = load_result(out)
    assert result.metrics["align_gbp_r"].n >= 10
    assert "align_gbp_nss" in result.metrics and np.isfinite(result.metrics["align_gbp_nss"].value)
    gap = result.metrics["align_gbp_class_gap"]  # (image, class) units with a second class
    assert 0 < gap.n < 16 and gap.ci_low <= gap.value <= gap.ci_high
    # issue 12 (c): COCO-AB units get the human-data bootstrap too (each unit's annotators redrawn)
    gbp = next(c for c in result.alignment.curves if c.method == "gbp")
    assert gbp.human_boot_n == 10 and gbp.human_boot_ci_low <= gbp.human_boot_ci_high
    assert "human-data bootstrap (10 resamples" in result.metrics["align_gbp_r"].task


def test_all_measures_gives_methods_x_measures_and_human_pc_loadings(data_dir: Path) -> None:
    from luab_bench.alignment import correlate
    from luab_bench.alignment.human_maps import HumanMaps, human_pc_fit
    from luab_bench.alignment.report import model_saliency, top_classes

    aset = load_alignment_set("synthetic-tiny", data_dir, limit=8, annotators=2)
    clicks = aset.human.maps["clicks"]
    other = np.ascontiguousarray(clicks[:, ::-1, :])  # a second "measure": the maps flipped
    human = HumanMaps(list(aset.human.ids), {"a": clicks, "b": other}, {"a": False, "b": True})
    net = create_model("resnet10t", 10, num_point_heads=0, init_seed=0).eval()
    cfg = AlignConfig(
        methods=("gbp",),
        measure="human_pc",
        n_boot=10,
        masking=False,
        all_measures=True,
        baselines=("centre",),
    )
    report = align_model(net, aset.images, aset.targets, aset.ids, human, cfg)
    assert set(report.per_measure) == {"a", "b", "human_pc"}
    assert report.per_measure["human_pc"]["gbp"][0] == pytest.approx(report.scores[0].search.best_r)
    idx = [aset.ids.index(i) for i in human.ids]
    maps = model_saliency(
        net, aset.images[idx], top_classes(net, aset.images[idx], device="cpu"), "gbp", device="cpu"
    )
    ref = correlate.sigma_search(maps, other)  # independent: the search against measure b alone
    assert report.per_measure["b"]["gbp"][:2] == pytest.approx((ref.best_r, ref.best_sigma))
    fit = human_pc_fit(np.stack([clicks, other]), [False, True], ["a", "b"])
    block = report.alignment_block()
    assert block.human_pc is not None and block.human_pc.loadings == pytest.approx(list(fit.loadings))
    assert {p.method for p in block.per_measure["a"]} == {"gbp", "centre"}
    assert any(line.startswith("Human PC loadings") for line in report.table_lines())
    # finished maps only (no per-annotator data): one line says so, the error bars are the images'
    assert all(s.human_boot is None for s in report.scores)
    assert block.human_boot_note is not None and block.human_boot_note.endswith("the image bootstrap")
    assert block.human_boot_note in report.metrics()["align_gbp_r"].task


def test_write_alignment_keeps_old_per_image_r_only_on_the_same_images(tmp_path: Path) -> None:
    """A re-run with other methods keeps the old curves; their per-image r survives only when the
    images are the same (otherwise it could not be paired with the new curves'). The stored per-image
    r is each image's Pearson r at the curve's best sigma (checked by recomputing it)."""
    from luab_bench.alignment import correlate
    from luab_bench.alignment.report import AlignmentReport, MethodScore

    rng = np.random.default_rng(0)
    human = rng.random((5, 20, 20))
    model: dict[str, np.ndarray] = {}

    def report(method: str, n: int) -> AlignmentReport:
        model[method] = rng.random((n, 20, 20))
        search = correlate.sigma_search(model[method], human[:n], (0.0, 1.0, 2.0))
        score = MethodScore(method, search, (-1.0, 1.0), "x", (-1.0, 1.0))
        cfg = AlignConfig(methods=(method,), n_boot=10, data_label="same data")
        return AlignmentReport(cfg, n, scores=[score], ids=[f"i{k}" for k in range(n)])

    out = _result(tmp_path / "r.json")
    write_alignment(out, report("gbp", 5))
    write_alignment(out, report("gradcam", 5))
    block = load_result(out).alignment
    assert block.image_ids == [f"i{k}" for k in range(5)]
    assert all(c.per_image_r is not None and len(c.per_image_r) == 5 for c in block.curves)
    write_alignment(out, report("gradient", 4))  # other images: old per-image r dropped, curves kept
    block = load_result(out).alignment
    by = {c.method: c for c in block.curves}
    assert set(by) == {"gbp", "gradcam", "gradient"} and len(block.image_ids) == 4
    assert by["gbp"].per_image_r is None and by["gradcam"].per_image_r is None
    g = by["gradient"]
    blurred = correlate.blur_maps(correlate.resize_maps(model["gradient"]), g.best_sigma)
    want = correlate.pearson_per_image(blurred, correlate.resize_maps(human[:4]))
    assert g.per_image_r == pytest.approx([float(v) for v in want], abs=1e-6)
