"""Evaluating a folder of JPEGs: ``luab-bench evaluate --model`` vs timm's own validation recipe.

Issue 14: the same ImageFolder (ImageNet-val layout, 1000 wnid folders x 2 JPEGs = 2,000 images,
500 x 375 px like a typical ImageNet val photo, ~200 KB each at JPEG quality 95, evaluated at 224 px:
resize to 256, centre crop 224; generated once outside the repository under ``$LUAB_BENCH_JPEG_DIR``
or ``~/.cache/luab-bench/bench-jpegs-500x375``), the same model (an untrained resnet10t: speed does not
depend on the weights), the same batch size (256, the imagenet suite's) and workers (0: the
imagenet suite decodes in the evaluating process; 2 shared cores here), in one run:

* luab: :func:`luab_bench.evaluate_model.evaluate_model` on the ``imagenet`` suite (only its val task
  has data; the rest are listed as missing) — model build, file listing and fingerprint, decoding,
  inference, the bootstrap interval and the result file, all inside the timed call;
* timm: ``timm.data.create_dataset`` + ``create_loader(is_training=False, use_prefetcher=False)`` with
  the model's resolved data config, and a loop keeping each batch's argmax.

Interleaved rounds (``LUAB_BENCH_TIMM_ROUNDS``, default 3), best of each side; the target is
luab images/s >= 0.95 x timm images/s. The decode/transform share is each pipeline's loader iterated
without the model, divided by that side's best full time. Load average (1 min) before/after is
printed. Run: ``nice -n 15 python -m pytest tests/benchmarks/test_bench_timm_loader.py
--benchmark-enable --benchmark-only -s -p no:randomly``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

ROUNDS = int(os.environ.get("LUAB_BENCH_TIMM_ROUNDS", "3"))
PER_CLASS = 2
WIDTH, HEIGHT = 500, 375
BATCH = 256


def _jpeg_root() -> Path:
    """Generate (once) the ImageFolder of JPEGs; returns the data root (``<root>/imagenet/val``)."""
    from PIL import Image

    from luab_bench.suites.imagenet_data import imagenet_synsets

    root = Path(
        os.environ.get("LUAB_BENCH_JPEG_DIR") or "~/.cache/luab-bench/bench-jpegs-500x375"
    ).expanduser()
    done = root / "COMPLETE"
    if done.is_file():
        return root
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    n = 0
    for wnid in imagenet_synsets():
        folder = root / "imagenet" / "val" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(PER_CLASS):
            n += 1
            # smooth colour gradients + fine noise: a photo-like JPEG size, not a flat image
            base = np.stack([(xx * rng.uniform(0.5, 1.2)) % 256, (yy * rng.uniform(0.5, 1.2)) % 256,
                             ((xx + yy) * rng.uniform(0.2, 0.6)) % 256], axis=-1)  # fmt: skip
            img = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / f"ILSVRC2012_val_{n:08d}.JPEG", quality=95)
    done.write_text(f"{n} images\n")
    return root


def test_evaluate_vs_timm_loader(benchmark, tmp_path: Path) -> None:
    import timm
    from timm.data import create_dataset, create_loader, resolve_model_data_config

    from luab_bench.evaluate_model import evaluate_model
    from luab_bench.model_spec import parse_model_spec
    from luab_bench.suites.image_files import ImageFiles, make_transform
    from luab_bench.suites.imagenet_data import load_imagenet_val

    torch.set_num_threads(min(2, torch.get_num_threads()))
    root = _jpeg_root()
    val = root / "imagenet" / "val"
    files = sorted(val.rglob("*.JPEG"))
    n = len(files)
    mean_kb = sum(f.stat().st_size for f in files) / n / 1024
    model = timm.create_model("resnet10t").eval()
    cfg = resolve_model_data_config(model)

    def timm_loader():
        ds = create_dataset("", root=str(val), split="validation")
        return create_loader(ds, input_size=cfg["input_size"], batch_size=BATCH, is_training=False,
                             use_prefetcher=False, interpolation=cfg["interpolation"], mean=cfg["mean"],
                             std=cfg["std"], crop_pct=cfg["crop_pct"], crop_mode=cfg["crop_mode"],
                             num_workers=0, persistent_workers=False)  # fmt: skip

    timm_times: list[float] = []
    luab_times: list[float] = []

    def run_timm() -> None:
        t0 = time.perf_counter()
        preds = []
        with torch.inference_mode():
            for x, _y in timm_loader():
                preds.append(model(x).argmax(1))
        assert sum(p.shape[0] for p in preds) == n
        timm_times.append(time.perf_counter() - t0)

    def run_luab() -> None:
        t0 = time.perf_counter()
        evaluate_model(spec=parse_model_spec("resnet10t"), suite="imagenet", data_root=root,
                       num_classes=1000, data_dir=tmp_path / "d", results_dir=tmp_path / "r",
                       out=tmp_path / "r" / "result.json", device="cpu", progress=False)  # fmt: skip
        luab_times.append(time.perf_counter() - t0)

    load_before = os.getloadavg()[0]
    benchmark.pedantic(run_luab, setup=run_timm, rounds=ROUNDS, iterations=1)
    load_after = os.getloadavg()[0]

    # decode + transform alone, each pipeline's own loader
    t0 = time.perf_counter()
    for _ in timm_loader():
        pass
    timm_decode = time.perf_counter() - t0
    from torch.utils.data import DataLoader

    s = load_imagenet_val(val)
    t0 = time.perf_counter()
    for _ in DataLoader(ImageFiles(s.paths, make_transform(cfg)), batch_size=BATCH, num_workers=0):
        pass
    luab_decode = time.perf_counter() - t0

    t_timm, t_luab = min(timm_times), min(luab_times)
    ratio = (n / t_luab) / (n / t_timm)
    paired = [tt / tl for tt, tl in zip(timm_times, luab_times, strict=True)]
    benchmark.extra_info.update(
        images=n, mean_jpeg_kb=round(mean_kb, 1), batch=BATCH, workers=0,
        luab_s=round(t_luab, 2), timm_s=round(t_timm, 2),
        luab_img_per_s=round(n / t_luab, 1), timm_img_per_s=round(n / t_timm, 1),
        ratio=round(ratio, 3), ratio_paired=[round(r, 3) for r in paired],
        luab_decode_share=round(luab_decode / t_luab, 3), timm_decode_share=round(timm_decode / t_timm, 3),
        loadavg_1min=(load_before, load_after),
    )  # fmt: skip
    print(
        f"\n{n} JPEGs ({mean_kb:.0f} KB mean, {WIDTH}x{HEIGHT} px, evaluated at 224), "
        f"batch {BATCH}, workers 0: "
        f"luab {n / t_luab:.1f} img/s ({t_luab:.2f}s), timm {n / t_timm:.1f} img/s ({t_timm:.2f}s), "
        f"ratio {ratio:.3f} (paired {[round(r, 3) for r in paired]}); decode/transform share: luab "
        f"{luab_decode / t_luab:.2f}, timm {timm_decode / t_timm:.2f}; "
        f"load average (1 min) {load_before:.2f} -> {load_after:.2f}"
    )
    assert ratio >= 0.95
