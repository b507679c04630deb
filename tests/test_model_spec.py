"""Model specs (issue 14): every form offline, weights + preprocessing, strict keys, the code opt-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from luab_bench.cli import cli
from luab_bench.code_trust import UntrustedCodeError, allow_code
from luab_bench.errors import DataError, LuabError
from luab_bench.model_spec import build_model, parse_model_spec
from luab_bench.models import create_model
from luab_bench.preprocess import apply_input_size, resolved_preprocessing


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _random_state(name: str, num_classes: int, seed: int) -> dict[str, torch.Tensor]:
    import timm

    torch.manual_seed(seed)
    m = timm.create_model(name, num_classes=num_classes)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.05)
    return {k: v.contiguous() for k, v in m.state_dict().items()}


def _assert_loaded(net: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    own = net.backbone.state_dict()
    assert set(own) == set(state)
    for k, v in state.items():
        assert torch.equal(own[k], v), k


def _fake_hub_file(cache: Path, repo: str, files: dict[str, bytes]) -> None:
    """The Hugging Face cache layout hf_hub_download reads offline (refs/main -> snapshot)."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    rev = "0" * 40
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(rev)
    snap = folder / "snapshots" / rev
    snap.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (snap / name).write_bytes(blob)


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def _st_bytes(state: dict[str, torch.Tensor], path: Path) -> bytes:
    save_file(state, str(path))
    return path.read_bytes()


# ------------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "kind", "pretrained"),
    [
        ("resnet10t", "timm", False),
        ("resnet10t.c3_in1k", "timm", True),  # a tag names weights: they are loaded
        ("hf-hub:timm/resnet10t.c3_in1k", "hf-hub", True),
        ("hf-hub:org/name@abc123", "hf-hub", True),
        ("some_pkg.mod:build", "factory", False),
    ],
)
def test_parse_forms(text: str, kind: str, pretrained: bool) -> None:
    spec = parse_model_spec(text)
    assert (spec.text, spec.kind, spec.pretrained) == (text, kind, pretrained)


def test_parse_local_dir_needs_config(tmp_path: Path) -> None:
    with pytest.raises(LuabError, match=r"config\.json not found"):
        parse_model_spec(f"local-dir:{tmp_path}")
    (tmp_path / "config.json").write_text("{}")
    assert parse_model_spec(f"local-dir:{tmp_path}").kind == "local-dir"


@pytest.mark.parametrize(
    ("text", "kwargs", "needle"),
    [
        ("resnet10", {}, "did you mean 'resnet10t'"),
        ("resnet10t.nope", {}, "no pretrained tag 'nope'"),
        ("hf-hub:justname", {}, "hf-hub:ORG/NAME"),
        ("a b:c", {}, "package.module:callable"),
        ("resnet10t", {"weights": "w.pth"}, "pickle checkpoint"),
        ("resnet10t", {"weights": "w.onnx"}, "safetensors only"),
        ("resnet10t", {"weights": "w.safetensors", "pretrained": True}, "not both"),
        ("resnet10t", {"sha256": "ab" * 32}, "give --weights"),
        ("resnet10t", {"weights": "w.safetensors", "sha256": "xyz"}, "64 hex digits"),
        ("", {}, "empty"),
    ],
)
def test_parse_errors_are_one_line(text: str, kwargs: dict, needle: str) -> None:
    with pytest.raises(LuabError, match=needle) as info:
        parse_model_spec(text, **kwargs)
    assert "\n" not in str(info.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.:/-@ ", max_size=30))
def test_parse_never_crashes(text: str) -> None:
    """Any text: a ModelSpec that keeps the text, or a one-line LuabError; never another exception."""
    try:
        spec = parse_model_spec(text)
    except LuabError as err:
        assert "\n" not in str(err)
    else:
        assert spec.text == text.strip()


# ------------------------------------------------------------------------- weights + preprocessing
def test_tag_with_weights_file_applies_both(tmp_path: Path) -> None:
    """resnet10t.c3_in1k + --weights: the tag's pretrained_cfg preprocessing and the file's tensors."""
    state = _random_state("resnet10t", 10, seed=1)
    f = tmp_path / "w.safetensors"
    blob = _st_bytes(state, f)
    import hashlib

    spec = parse_model_spec("resnet10t.c3_in1k", weights=f, sha256=hashlib.sha256(blob).hexdigest())
    loaded = build_model(spec, 10)
    _assert_loaded(loaded.net, state)
    cfg = loaded.net.data_config
    assert cfg["input_size"] == (3, 176, 176) and cfg["crop_pct"] == 0.875  # the c3_in1k tag's cfg
    w = loaded.provenance["weights"]
    assert w == {
        "file": "w.safetensors",
        "sha256": hashlib.sha256(blob).hexdigest(),
        "size": len(blob),
        "source": "file",
    }
    assert loaded.provenance["pretrained"] is False and loaded.provenance["init"] is None


def test_tag_pretrained_from_hub_cache_offline(hub_cache: Path, tmp_path: Path) -> None:
    """A tag without --weights loads the tag's own weights (from the HF cache, offline) + its cfg."""
    state = _random_state("resnet10t", 1000, seed=2)
    _fake_hub_file(
        hub_cache, "timm/resnet10t.c3_in1k", {"model.safetensors": _st_bytes(state, tmp_path / "a")}
    )
    loaded = build_model(parse_model_spec("resnet10t.c3_in1k"), 1000)
    _assert_loaded(loaded.net, state)
    assert loaded.net.data_config["crop_pct"] == 0.875
    assert loaded.provenance["weights"]["source"] == "hf-hub:timm/resnet10t.c3_in1k/model.safetensors"
    assert loaded.provenance["pretrained"] is True and loaded.provenance["notes"] == []
    # built for another label space: timm drops the pretrained classifier, and the result says so
    other = build_model(parse_model_spec("resnet10t.c3_in1k"), 10)
    assert other.provenance["notes"] == [
        "classifier re-initialised at random: the pretrained weights have 1000 classes, the model was built "
        "with 10"
    ]
    assert torch.equal(other.net.backbone.conv1[0].weight, state["conv1.0.weight"])


def test_pretrained_weights_of_another_architecture_one_line(hub_cache: Path, tmp_path: Path) -> None:
    """timm's own (strict) pretrained loading: a mismatching Hub file is one line, not a traceback."""
    state = _random_state("resnet14t", 1000, seed=5)
    _fake_hub_file(
        hub_cache, "timm/resnet10t.c3_in1k", {"model.safetensors": _st_bytes(state, tmp_path / "c")}
    )
    with pytest.raises(LuabError, match="timm could not build it") as info:
        build_model(parse_model_spec("resnet10t.c3_in1k"), 1000)
    assert "\n" not in str(info.value) and "Unexpected key" in str(info.value)


def test_pretrained_offline_without_cache_names_the_cache(hub_cache: Path) -> None:
    with pytest.raises(LuabError, match="not in the Hugging Face cache") as info:
        build_model(parse_model_spec("resnet10t", pretrained=True), 1000)
    assert str(hub_cache) in str(info.value) and "HF_HUB_OFFLINE" in str(info.value)
    assert "\n" not in str(info.value)


def _timm_config(arch: str, num_classes: int) -> bytes:
    return json.dumps(
        {
            "architecture": arch,
            "num_classes": num_classes,
            "pretrained_cfg": {
                "input_size": [3, 96, 96],
                "crop_pct": 0.9,
                "interpolation": "bilinear",
                "mean": [0.5, 0.5, 0.5],
                "std": [0.25, 0.25, 0.25],
                "num_classes": num_classes,
                "classifier": "fc",
                "first_conv": "conv1.0",
            },
        }
    ).encode()


def test_hf_hub_name_offline(hub_cache: Path, tmp_path: Path) -> None:
    state = _random_state("resnet10t", 7, seed=3)
    _fake_hub_file(
        hub_cache,
        "someorg/tiny",
        {"config.json": _timm_config("resnet10t", 7), "model.safetensors": _st_bytes(state, tmp_path / "b")},
    )
    loaded = build_model(parse_model_spec("hf-hub:someorg/tiny"), 7)
    _assert_loaded(loaded.net, state)
    assert loaded.net.input_mean == (0.5, 0.5, 0.5)
    assert tuple(loaded.net.data_config["input_size"]) == (3, 96, 96)


def test_hf_hub_config_missing_offline(hub_cache: Path) -> None:
    with pytest.raises(LuabError, match="Hugging Face cache") as info:
        build_model(parse_model_spec("hf-hub:someorg/absent"), 7)
    assert "\n" not in str(info.value)


def test_local_dir(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_bytes(_timm_config("resnet10t", 5))
    state = _random_state("resnet10t", 5, seed=4)
    save_file(state, str(folder / "model.safetensors"))
    loaded = build_model(parse_model_spec(f"local-dir:{folder}"), 5)
    _assert_loaded(loaded.net, state)
    assert loaded.provenance["weights"]["source"] == "local-dir"
    assert loaded.net.data_config["crop_pct"] == 0.9
    # a folder with only a pickle is refused (timm would fall back to pytorch_model.bin)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(LuabError, match="pickle and refused"):
        build_model(parse_model_spec(f"local-dir:{folder}"), 5)


def test_strict_key_mismatch_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "w.safetensors"
    save_file(_random_state("resnet14t", 10, seed=0), str(f))
    with pytest.raises(DataError, match="strict key matching") as info:
        build_model(parse_model_spec("resnet10t", weights=f), 10)
    assert "\n" not in str(info.value) and "unexpected" in str(info.value)
    save_file(_random_state("resnet10t", 1000, seed=0), str(f))
    with pytest.raises(DataError, match=r"shape .*--num-classes"):
        build_model(parse_model_spec("resnet10t", weights=f), 10)


def test_sha256_mismatch_refused_before_loading(tmp_path: Path) -> None:
    f = tmp_path / "w.safetensors"
    save_file(_random_state("resnet10t", 10, seed=0), str(f))
    with pytest.raises(DataError, match="does not match the expected"):
        build_model(parse_model_spec("resnet10t", weights=f, sha256="0" * 64), 10)


def test_point_head_from_luab_state_dict(tmp_path: Path) -> None:
    """A LuabNet state dict (backbone.* + point_head.*) loads with --point-head; without it the head is
    left out and counted."""
    net = create_model("resnet10t", 4, num_point_heads=1, init_seed=9)
    f = tmp_path / "luab.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(f))
    with_head = build_model(parse_model_spec("resnet10t", weights=f, point_head=True), 4)
    assert with_head.net.num_point_heads == 1
    assert torch.equal(with_head.net.point_head.fc.weight, net.point_head.fc.weight)
    without = build_model(parse_model_spec("resnet10t", weights=f), 4)
    assert without.net.point_head is None and without.provenance["point_head"]["ignored_tensors"] == 2
    plain = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in net.backbone.state_dict().items()}, str(plain))
    with pytest.raises(LuabError, match="no point_head"):
        build_model(parse_model_spec("resnet10t", weights=plain, point_head=True), 4)


# ------------------------------------------------------------------------------ preprocessing
def test_input_size_override_and_record() -> None:
    from luab_bench.suites.imagenet import default_data_config

    net = create_model("resnet10t", 10, num_point_heads=0)
    assert apply_input_size(net, "imagenet", 64, explicit=False) == "recipe image_size"
    assert default_data_config(net)["input_size"] == (3, 64, 64)  # what the imagenet suite feeds
    rec = resolved_preprocessing(net, "imagenet", size_from="recipe image_size")
    assert rec["input_size"] == [3, 64, 64] and rec["crop_pct"] == 0.875
    assert rec["interpolation"] == "bicubic" and rec["mean"] == pytest.approx([0.485, 0.456, 0.406])
    with pytest.raises(LuabError, match="does not resize"):
        apply_input_size(net, "synthetic", 32, explicit=True)
    assert "does not apply" in apply_input_size(net, "synthetic", 32, explicit=False)


# --------------------------------------------------------------------------- user code opt-in
FACTORY = """
import timm
def build(num_classes, pretrained=False, **kw):
    return timm.create_model("resnet10t", num_classes=num_classes, pretrained=pretrained, **kw)
def strict(num_classes):
    return timm.create_model("resnet10t", num_classes=num_classes)
"""


def test_factory_in_working_directory_needs_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cwd_factory_mod.py").write_text(FACTORY)
    spec = parse_model_spec("cwd_factory_mod:build")
    with pytest.raises(UntrustedCodeError, match="--allow-code"):
        build_model(spec, 3)
    assert "cwd_factory_mod" not in sys.modules
    with allow_code():
        loaded = build_model(spec, 3)
    fac = loaded.provenance["factory"]
    import hashlib

    assert fac["module"] == "cwd_factory_mod" and fac["callable"] == "build"
    assert fac["sha256"] == hashlib.sha256(FACTORY.encode()).hexdigest()
    assert fac["file"] == "cwd_factory_mod.py"
    with allow_code(False, ["cwd_factory_mod"]):  # a trusted-module list works too
        build_model(spec, 3)


def test_factory_rejecting_a_keyword_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cwd_factory_mod2.py").write_text(FACTORY)
    with allow_code(), pytest.raises(LuabError, match="rejected its keyword arguments") as info:
        build_model(parse_model_spec("cwd_factory_mod2:strict"), 3)
    assert "\n" not in str(info.value) and "pretrained" in str(info.value)


def _write_fake_checkpoint(directory: Path, model_name: str) -> None:
    import hashlib

    from luab_bench.protocols.base import load_protocol, load_recipe

    directory.mkdir()
    save_file({"x": torch.zeros(1)}, str(directory / "model.safetensors"))
    digest = hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()
    meta = {
        "format": "luab-bench-checkpoint",
        "format_version": 1,
        "suite": "synthetic",
        "seed": 0,
        "model": {"name": model_name, "num_classes": 3, "num_point_heads": 0},
        "protocol": load_protocol("baseline").config.model_dump(mode="json"),
        "recipe": load_recipe("synthetic").model_dump(mode="json"),
        "data": {"source": "synthetic", "variant": "synthetic-tiny", "fingerprint": "f" * 64},
        "weights": {"file": "model.safetensors", "sha256": digest},
    }
    (directory / "checkpoint.json").write_text(json.dumps(meta))


def test_checkpoint_naming_code_does_not_run_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """checkpoint.json model.name "evilmod:f" + evilmod.py in the working directory: nothing runs
    without the opt-in; and `python -m luab_bench` does not put the working directory on sys.path, so
    a shadowing timm.py there is never imported."""
    evil = "open('PWNED', 'w').write('x')\ndef f(**kw):\n    raise SystemExit\n"
    (tmp_path / "evilmod.py").write_text(evil)
    (tmp_path / "timm.py").write_text("open('PWNED_TIMM', 'w').write('x')\n")  # a shadowing module
    _write_fake_checkpoint(tmp_path / "ckpt", "evilmod:f")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["evaluate", "--checkpoint", "ckpt", "--no-progress", "--data-dir", "data"])
    assert res.exit_code == 1 and "--allow-code" in res.output and res.output.count("Error:") == 1
    assert not (tmp_path / "PWNED").exists() and "evilmod" not in sys.modules
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "benchmark")}
    res = subprocess.run(
        [sys.executable, "-m", "luab_bench", "evaluate", "--model", "resnet10", "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert res.returncode == 1 and "did you mean 'resnet10t'" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "PWNED_TIMM").exists()


def test_checkpoint_mean_std_checked(tmp_path: Path) -> None:
    from luab_bench.train.checkpoint import load_checkpoint, save_checkpoint

    net = create_model("resnet10t", 3, num_point_heads=0)
    save_checkpoint(tmp_path / "c", net, {"suite": "synthetic"})
    load_checkpoint(tmp_path / "c")
    meta = json.loads((tmp_path / "c" / "checkpoint.json").read_text())
    meta["model"]["input_mean"] = [0.5, 0.5, 0.5]
    (tmp_path / "c" / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="input_mean"):
        load_checkpoint(tmp_path / "c")


# ------------------------------------------------------------------------------------ the command
def test_evaluate_factory_cli_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cwd_factory_mod3.py").write_text(FACTORY)
    base = [
        "evaluate",
        "--model",
        "cwd_factory_mod3:build",
        "--variant",
        "synthetic-tiny",
        "--no-progress",
        "--device",
        "cpu",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "r.json"),
    ]
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 1 and "--allow-code" in res.output and res.output.count("Error:") == 1
    res = CliRunner().invoke(cli, [*base, "--allow-code"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["schema_version"] == "1.2"
    mp = doc["model_provenance"]
    assert mp["kind"] == "factory" and mp["factory"]["module"] == "cwd_factory_mod3"
    assert doc["model"] == {**doc["model"], "name": "cwd_factory_mod3:build", "source": "factory"}


@pytest.mark.parametrize(
    ("model", "needle"),
    [("hf-hub:someorg/tiny", None), ("hf-hub:bad", "hf-hub:ORG/NAME"), ("local-dir:/x", "weights.url")],
)
def test_submission_model_uses_the_spec_parser(tmp_path: Path, model: str, needle: str | None) -> None:
    import shutil

    from luab_bench.submissions import SubmissionError, check_submission

    example = Path(__file__).resolve().parents[1] / "submissions" / "example-resnet10t"
    sub = tmp_path / "s"
    shutil.copytree(example, sub)
    text = (sub / "submission.yaml").read_text().replace("model: resnet10t", f"model: {model}")
    (sub / "submission.yaml").write_text(text)
    if needle is None:
        assert check_submission(sub).model == model
    else:
        with pytest.raises(SubmissionError, match=needle):
            check_submission(sub)


def test_reproduce_refuses_a_model_trained_elsewhere(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        ["evaluate", "--model", "resnet10t", "--variant", "synthetic-tiny", "--no-progress", "--device",
         "cpu", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "r.json")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        cli, ["reproduce", str(tmp_path / "r.json"), "--data-dir", str(tmp_path / "data")]
    )
    assert res.exit_code == 1 and "trained elsewhere" in res.output and "Traceback" not in res.output


def test_checkpoint_evaluated_at_recipe_image_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16, item 8: a checkpoint trained at 64 px is fed 64 px on a file suite (coco: resize, no
    crop), not timm's 224; --image-size overrides; the result records the preprocessing."""
    from PIL import Image

    from luab_bench import pipeline
    from luab_bench.models import LuabNet
    from luab_bench.protocols.base import load_protocol, load_recipe
    from luab_bench.results.schema import load_result
    from luab_bench.train.checkpoint import save_checkpoint

    root = tmp_path / "coco"
    (root / "val2014").mkdir(parents=True)
    (root / "annotations").mkdir()
    labels = [[1], [2], [1, 2], [1]]
    for i in range(len(labels)):
        Image.new("RGB", (40, 30), (40 * i, 30, 200)).save(root / "val2014" / f"im{i}.jpg")
    ann = {
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "images": [{"id": i, "file_name": f"im{i}.jpg", "height": 30, "width": 40} for i in range(4)],
        "annotations": [{"id": 10 * i + c, "image_id": i, "category_id": c, "bbox": [0, 0, 5, 5],
                         "segmentation": [[0, 0, 5, 0, 5, 5, 0, 5]], "area": 25.0, "iscrowd": 0}
                        for i, cs in enumerate(labels) for c in cs],
    }  # fmt: skip
    (root / "annotations" / "instances_val2014.json").write_text(json.dumps(ann))
    net = create_model("resnet10t", 2, num_point_heads=0)
    recipe = load_recipe("synthetic").model_dump(mode="json")
    assert recipe["image_size"] == 64
    meta = {"protocol": load_protocol("coco_baseline").config.model_dump(mode="json"), "recipe": recipe,
            "seed": 0, "suite": "coco", "data": {"source": "coco-ab", "fingerprint": "f" * 64},
            "training": None}  # fmt: skip
    save_checkpoint(tmp_path / "ckpt", net, meta)
    seen: list[tuple[int, ...]] = []
    forward = LuabNet.forward
    monkeypatch.setattr(
        LuabNet, "forward", lambda self, x: (seen.append(tuple(x.shape[1:])), forward(self, x))[1]
    )
    for size, expect, source in ((None, 64, "recipe image_size"), (96, 96, "--image-size")):
        seen.clear()
        path = pipeline.evaluate_checkpoint(
            checkpoint=tmp_path / "ckpt", suite="coco", data_dir=tmp_path / "d", data_root=root,
            out=tmp_path / f"r{expect}.json", results_dir=tmp_path, device="cpu", progress=False,
            image_size=size,
        )  # fmt: skip
        assert set(seen) == {(3, expect, expect)}
        pre = load_result(path).model_provenance.preprocessing
        assert pre.input_size == [3, expect, expect] and pre.size_from == source
        assert pre.crop_pct is None and pre.interpolation == "bilinear" and "no crop" in pre.suite_transform


def test_run_no_train_and_align_take_a_spec(tmp_path: Path) -> None:
    """`run --no-train` (evaluate + align + sign + site) and `align --model` with a weights file."""
    net = create_model("resnet10t", 10, num_point_heads=1, init_seed=3)
    w = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(w))
    common = [
        "--variant",
        "synthetic-tiny",
        "--device",
        "cpu",
        "--no-progress",
        "--data-dir",
        str(tmp_path / "d"),
    ]
    res = CliRunner().invoke(
        cli,
        ["run", "--no-train", "--model", "resnet10t", "--weights", str(w), "--point-head", "--protocol",
         "luab", "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "res"), "--site-dir",
         str(tmp_path / "site"), *common],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (path,) = sorted((tmp_path / "res").glob("*.json"))
    doc = json.loads(path.read_text())
    assert doc["protocol"]["name"] == "luab" and "point_loc_acc" in doc["metrics"]
    assert any(k.startswith("align_") for k in doc["metrics"]) and doc["alignment"]["curves"]
    assert doc["model_provenance"]["weights"]["source"] == "file" and doc["signature"] is not None
    assert (tmp_path / "site" / "index.html").is_file()
    res = CliRunner().invoke(
        cli,
        ["align", "--model", "resnet10t", "--weights", str(w), "--limit", "4", "--method", "gbp",
         "--no-masking", "--n-boot", "10", *common],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "(weights file)" in res.output
    res = CliRunner().invoke(cli, ["run", "--model", "resnet10t", "--weights", str(w), *common])
    assert res.exit_code == 1 and "need --no-train" in res.output
