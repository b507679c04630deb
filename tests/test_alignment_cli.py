"""`luab-bench align` end to end on the tiny synthetic variant: table, metrics, signing, plots, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from luab_bench.alignment.human_maps import byproduct_density_maps, simulate_records
from luab_bench.commands.align import align
from luab_bench.errors import LuabError
from luab_bench.results.schema import Result, load_result
from luab_bench.results.signing import generate_keypair, verify_result_file
from luab_bench.results.store import write_result


def _result(path: Path) -> Path:
    doc = {
        "schema_version": "1.0",
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


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def _run(args: list[str]) -> object:
    return CliRunner().invoke(align, args, catch_exceptions=False)


def test_align_writes_metrics_signs_and_plots(tmp_path: Path, data_dir: Path) -> None:
    out = _result(tmp_path / "r.json")
    key, _ = generate_keypair(tmp_path / "keys")
    args = [
        "--model", "resnet10t", "--variant", "synthetic-tiny", "--data-dir", str(data_dir),
        "--method", "gradient,gbp", "--limit", "12", "--annotators", "2", "--n-boot", "20", "--no-progress",
        "--out", str(out), "--key", str(key), "--plots", str(tmp_path / "plots"), "--split-half",
    ]  # fmt: skip
    res = _run(args)
    assert res.exit_code == 0, res.output
    assert "gbp" in res.output and "masking (inverse rank" in res.output and "re-signed" in res.output
    result = load_result(out)
    for name in ("align_gbp_r", "align_gbp_spearman", "align_gbp_r_cv", "align_gradient_r",
                 "align_mask_correct", "align_mask_mismatched", "align_mask_gap", "top1_val"):  # fmt: skip
        assert name in result.metrics, name
    m = result.metrics["align_gbp_r"]
    assert m.n == 12 and m.ci_low is not None and m.ci_low <= m.value <= m.ci_high and "sigma" in m.task
    assert "align_gbp_sigma" not in result.metrics  # no direction: it lives in the alignment block
    assert 0 <= next(c for c in result.alignment.curves if c.method == "gbp").best_sigma <= 30
    assert verify_result_file(out).ok
    assert (tmp_path / "plots" / "align_resnet10t.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "plots" / "align_resnet10t.svg").read_text().lstrip().startswith("<?xml")

    # without --key an edited result loses its (now invalid) signature and says so
    res = _run([*args[: args.index("--key")], "--no-masking", "--method", "gradient"])
    assert res.exit_code == 0 and "UNSIGNED" in res.output
    assert load_result(out).signature is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "exactly one of --checkpoint"),
        (["--model", "resnet10t", "--method", "gbpp"], "did you mean 'gbp'"),
        (["--model", "resnet10t", "--out", "missing.json"], "result file not found"),
        (["--model", "resnet10t", "--key", "k.pem"], "--key signs the result"),
    ],
)
def test_align_user_errors(extra: list[str], message: str, data_dir: Path) -> None:
    res = CliRunner().invoke(align, ["--variant", "synthetic-tiny", "--data-dir", str(data_dir), *extra])
    assert res.exit_code != 0 and message in str(res.exception) + res.output


def test_simulated_val_records_cover_every_image_and_mostly_hit_the_object(data_dir: Path) -> None:
    from luab_bench import pipeline
    from luab_bench.data.byproducts import parse_imagenet_ab
    from luab_bench.data.synthetic import load_split

    ds = pipeline.prepare_synthetic("synthetic-tiny", data_dir, progress=False)
    split = load_split(ds.directory, "val")
    records = simulate_records(ds.directory, "val", annotators=3, seed=0)
    assert len(records) == 3 * len(split)
    assert records == simulate_records(ds.directory, "val", annotators=3, seed=0)
    parsed = parse_imagenet_ab(records)
    pts, has = parsed.lookup(list(split.ids))
    assert has.all()
    boxes = np.asarray(split.boxes)
    inside = (
        (pts[:, 0] >= boxes[:, 0])
        & (pts[:, 0] <= boxes[:, 2])
        & (pts[:, 1] >= boxes[:, 1])
        & (pts[:, 1] <= boxes[:, 3])
    )
    assert inside.mean() > 0.6
    hm = byproduct_density_maps(records, list(split.ids))
    assert hm.maps["clicks"].shape == (len(split), 100, 100)
    assert np.allclose(hm.maps["clicks"].sum(axis=(1, 2)), 1.0, atol=1e-4)


def test_evenly_spaced_subset_spans_the_class_ordered_split() -> None:
    from luab_bench.alignment.report import evenly_spaced

    assert evenly_spaced(10, 4).tolist() == [0, 2, 5, 7]
    assert evenly_spaced(3, 10).tolist() == [0, 1, 2]
    labels = np.repeat(np.arange(10), 100)  # the synthetic evaluation splits are in class order
    assert np.bincount(labels[evenly_spaced(1000, 300)]).tolist() == [30] * 10


@pytest.mark.parametrize(
    "model",
    [
        ["resnet10t"],
        ["efficientnet_b0"],
        ["vit_tiny_patch16_224", "--model-arg", "img_size=32", "--model-arg", "depth=2"],
    ],
    ids=["resnet", "efficientnet", "vit"],
)
def test_align_method_all_gives_every_method_a_map_or_a_paper_reason(
    model: list[str], data_dir: Path
) -> None:
    from luab_bench.alignment.saliency import SALIENCY_METHODS

    args = ["--model", *model, "--variant", "synthetic-tiny", "--data-dir", str(data_dir), "--method", "all",
            "--limit", "4", "--annotators", "1", "--n-boot", "10", "--no-progress"]  # fmt: skip
    res = _run(args)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    for method in SALIENCY_METHODS.names():
        row = [ln for ln in lines if ln.split(" ")[0] == method]
        assert len(row) == 1, (method, res.output)
        if "skipped:" in row[0]:  # a one-line reason tied to the paper
            assert "paper" in row[0] and "\n" not in row[0], row[0]
    # every guided-backprop method runs on every model (the paper's rule covers SiLU and GELU)
    for method in ("gbp", "gbp_x_image", "sgbp"):
        assert "skipped" not in next(ln for ln in lines if ln.split(" ")[0] == method)
    assert "[centre]" in res.output and "[spectral_residual]" in res.output
    assert ("cameras" in res.output and "CAMERAS cannot be applied to ViT" in res.output) == (
        "vit" in model[0]
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model-arg", "img_size"], "expected KEY=VALUE"),
        (["--model-arg", "x=[1"], "not valid YAML"),
        (["--model-arg", "1a=2"], "expected KEY=VALUE"),
    ],
)
def test_model_arg_errors_are_one_line(extra: list[str], message: str, data_dir: Path) -> None:
    res = CliRunner().invoke(align, ["--model", "resnet10t", "--data-dir", str(data_dir), *extra])
    assert res.exit_code != 0 and isinstance(res.exception, LuabError) and message in str(res.exception)


def test_model_arg_needs_an_untrained_model(tmp_path: Path, data_dir: Path) -> None:
    res = CliRunner().invoke(
        align, ["--checkpoint", str(tmp_path), "--data-dir", str(data_dir), "--model-arg", "depth=2"]
    )
    assert res.exit_code != 0 and "--model-arg applies to an untrained --model" in str(res.exception)


def test_cli_choices_live_in_one_light_module_the_alignment_code_uses() -> None:
    """Issue 15: --target / --conventions come from alignment.choices (no numpy/torch import), the
    same tuples the alignment code validates against; an AlignSpec is built once at the CLI edge."""
    import subprocess
    import sys

    from luab_bench.alignment import choices, correlate, report
    from luab_bench.alignment.saliency import PRESETS
    from luab_bench.alignment.spec import N_BOOT, AlignSpec
    from luab_bench.commands.align import align as align_cmd
    from luab_bench.errors import LuabError

    opts = {p.name: p for p in align_cmd.params}
    assert tuple(opts["target"].type.choices) == choices.TARGETS == report.TARGETS
    assert tuple(opts["conventions"].type.choices) == choices.CONVENTIONS == tuple(PRESETS)
    assert all(report.convention_fields(c)["saliency"] == PRESETS[c] for c in choices.CONVENTIONS)
    assert N_BOOT == correlate.N_BOOT and AlignSpec().methods == report.DEFAULT_METHODS
    code = (
        "import sys, luab_bench.alignment.choices, luab_bench.alignment.spec, luab_bench.commands.align; "
        "print(sorted(m for m in ('numpy', 'torch', 'scipy') if m in sys.modules))"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "[]"
    )
    with pytest.raises(LuabError, match=r"unknown alignment option.*limt"):
        AlignSpec.from_fields(limt=3)
    with pytest.raises(LuabError, match="unknown target 'best'"):
        AlignSpec(target="best")
    with pytest.raises(LuabError, match="not both"):
        report.align_result(None, Path("unused"), AlignSpec(), data_dir=Path("unused"), seed=1)
    cfg = AlignSpec(methods=("gbp",), conventions="luab-v1", run_masking=False).config("label")
    assert (
        cfg.methods == ("gbp",)
        and cfg.blur == "scipy-4sigma"
        and not cfg.masking
        and cfg.data_label == "label"
    )


def test_default_spec_is_the_paper_protocol_run_no_train_aligned_with() -> None:
    """`run --no-train` aligns with ``AlignSpec(seed=0)``: the config it hand-built before (defaults,
    byproduct clicks, skip inapplicable methods) and the same set options."""
    from luab_bench.alignment.choices import DEFAULT_LIMIT
    from luab_bench.alignment.report import DEFAULT_METHODS, AlignConfig, default_measure
    from luab_bench.alignment.spec import AlignSpec

    spec = AlignSpec(seed=0)
    before = AlignConfig(
        methods=DEFAULT_METHODS, measure=default_measure("byproducts", None), seed=0,
        data_label="label", skip_inapplicable=True,
    )  # fmt: skip
    assert spec.config("label") == before
    assert (spec.split, spec.limit, spec.maps, spec.annotators, spec.kernel_sigma) == (
        "val",
        DEFAULT_LIMIT,
        "byproducts",
        5,
        3.0,
    )
