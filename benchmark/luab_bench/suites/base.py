"""Suite plugin API: a named evaluation task family that turns a model into metric dicts.

A suite registers its class in :data:`SUITES` (``@SUITES.register("name")``); ``get_suite(name)``
returns an instance. ``Suite.evaluate`` (a template: device placement, eval mode and its restoration,
default batch size) calls the subclass's ``run`` and returns an :class:`EvalOutcome`: ``metrics`` maps
a metric name to a plain dict with exactly the fields of ``luab_bench.results.schema.Metric`` (see
:func:`make_metric`), so this package does not depend on the results schema and the results layer
validates once; ``missing`` lists datasets that were absent and skipped; ``data`` names any data used
beyond ``dataset_dir`` (fingerprints, recorded in the result's provenance).

:func:`predict` is the one batched inference loop every suite uses (uint8 or float batches in,
argmax / reduced logits / logits / points / features / per-batch hook outputs out).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from luab_bench.errors import DataError, LuabError
from luab_bench.registry import Registry

if TYPE_CHECKING:
    import torch

#: ``normalize`` argument of :meth:`Suite.evaluate`: a callable applied to the float batch (B, 3, H, W)
#: in [0, 1], or ``(mean, std)`` per channel on that [0, 1] scale (timm's data-config convention), or
#: None for no normalisation beyond the [0, 1] scaling.
Normalize = Callable[["torch.Tensor"], "torch.Tensor"] | tuple[Sequence[float], Sequence[float]] | None

SUITES: Registry[type[Suite]] = Registry(
    "suite",
    plugin_modules=[
        "luab_bench.suites.synthetic",
        "luab_bench.suites.imagenet",
        "luab_bench.suites.coco",
        "luab_bench.suites.synthetic_coco",
        "luab_bench.suites.wsol",
    ],
)


def get_suite(name: str) -> Suite:
    """Instantiate the suite registered as ``name`` (unknown names: LuabError with did-you-mean)."""
    return SUITES.get(name)()


def make_metric(
    value: float,
    *,
    n: int,
    ci: tuple[float, float] | None,
    unit: str,
    higher_is_better: bool,
    task: str,
) -> dict[str, Any]:
    """One metric as the results-schema dict ``{value, n, ci_low, ci_high, unit, higher_is_better, task}``.

    Raises ValueError for a non-finite value or an interval that does not contain the value, so a bad
    number fails where it is computed rather than when the result is validated.
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{task}: metric value {value} is not finite")
    low, high = (None, None) if ci is None else (float(ci[0]), float(ci[1]))
    if ci is not None and not (low <= value <= high):
        raise ValueError(f"{task}: interval [{low}, {high}] does not contain the value {value}")
    return {
        "value": value,
        "n": int(n),
        "ci_low": low,
        "ci_high": high,
        "unit": unit,
        "higher_is_better": bool(higher_is_better),
        "task": task,
    }


def normalizer(normalize: Normalize, device: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """Turn a :data:`Normalize` argument into a callable on (B, 3, H, W) in [0, 1] (may work in place)."""
    import torch

    if normalize is None:
        return lambda x: x
    if callable(normalize):
        return normalize
    mean, std = normalize
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"normalize=(mean, std) needs 3 values each, got {mean!r}, {std!r}")
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return lambda x: x.sub_(m).div_(s)


#: What :func:`predict` can keep per image, besides the per-batch ``hooks``.
PREDICT_OUTPUTS = frozenset({"pred", "logits", "points", "features"})


@dataclass
class Predictions:
    """Outputs of :func:`predict`, each None unless asked for (and, for points, produced by the model).

    ``pred`` (N, ...): ``reduce(logits)`` per image (default: the argmax, int64); ``logits`` (N, K)
    float32; ``points`` (N, P, 2) float32 (every point head); ``features`` (N, D) float32 (the model
    output's ``features``); ``extra[name]`` the concatenated outputs of ``hooks[name]``; ``n`` images.
    """

    n: int
    pred: np.ndarray | None = None
    logits: np.ndarray | None = None
    points: np.ndarray | None = None
    features: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _argmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=1)


def _split_output(out: Any) -> tuple[Any, Any, Any]:
    """(logits, points, features) of a model output: a tensor, a ModelOutput or a tuple led by logits."""
    import torch

    if isinstance(out, torch.Tensor):
        return out, None, None
    logits = getattr(out, "logits", None)
    if logits is None:
        logits = out[0]
    return logits, getattr(out, "points", None), getattr(out, "features", None)


def _uint8_batches(images: np.ndarray, bs: int, pin: bool) -> Iterable[torch.Tensor]:
    """Batches of a uint8 NHWC array (numpy or memmap), copied once each into one reused buffer."""
    import torch

    buf = torch.empty((bs, *images.shape[1:]), dtype=torch.uint8, pin_memory=pin)
    buf_np = buf.numpy()
    for start in range(0, images.shape[0], bs):
        b = min(bs, images.shape[0] - start)
        np.copyto(buf_np[:b], images[start : start + b])
        yield buf[:b]


def predict(
    model: Any,
    images: np.ndarray | Iterable[torch.Tensor],
    *,
    device: Any = "cpu",
    normalize: Normalize = None,
    batch_size: int = 256,
    outputs: Iterable[str] = ("pred",),
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    hooks: Mapping[str, Callable[[torch.Tensor, slice], torch.Tensor]] | None = None,
    num_labels: int | None = None,
    progress: Any = None,
    description: str = "evaluate",
    total: int | None = None,
) -> Predictions:
    """Batched no-grad inference: the one loop every suite runs its model through.

    ``images``: a uint8 (N, H, W, 3) array (batched here by ``batch_size``), or an iterable of
    batches (e.g. a DataLoader): uint8 NHWC tensors, or float NCHW tensors already scaled to [0, 1]
    (or already normalised: then pass ``normalize=None``). Each batch is moved to ``device``, uint8
    converted to float NCHW / 255, normalised with ``normalize`` (see :data:`Normalize`), and fed to
    ``model`` (in eval mode on ``device`` already). ``outputs`` picks what is kept (see
    :class:`Predictions`); only what is kept leaves the device. ``reduce`` replaces the argmax for
    ``pred`` (e.g. a subset argmax or an OOD score). ``hooks[name](x, rows)`` runs on every
    normalised input batch ``x`` with ``rows`` its slice of the image index (e.g. a CAM of each
    image's label) and returns a tensor or array with one row per image; the rows are concatenated
    into ``extra[name]``. ``num_labels`` (1 + the
    largest label) is checked against the model's number of classes on the first batch.
    """
    import torch

    want = set(outputs)
    if want - PREDICT_OUTPUTS:
        raise ValueError(
            f"predict: unknown outputs {sorted(want - PREDICT_OUTPUTS)}; known {sorted(PREDICT_OUTPUTS)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DataError(
                f"{description}: images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}"
            )
        total = images.shape[0]
        batches: Iterable[Any] = _uint8_batches(images, min(batch_size, max(total, 1)), device.type == "cuda")
    else:
        batches = images
        if total is None and hasattr(images, "dataset"):
            total = len(images.dataset)  # a DataLoader
    norm = normalizer(normalize, device)
    reduce = reduce or _argmax
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in (*want, *(hooks or {}))}
    has_points: bool | None = None
    task = progress.add_task(description, total=total) if progress is not None else None
    start = 0

    def keep(key: str, t: torch.Tensor, dtype: Any = None) -> None:
        a = t.cpu().numpy() if dtype is None else t.to(dtype).cpu().numpy()
        chunks[key].append(a)

    with torch.inference_mode():
        for batch in batches:
            x = batch.to(device, non_blocking=True)
            if x.dtype == torch.uint8:
                if x.ndim != 4 or x.shape[-1] != 3:
                    raise DataError(
                        f"{description}: uint8 batches must be (B, H, W, 3), got {tuple(x.shape)}"
                    )
                x = x.permute(0, 3, 1, 2).float().div_(255.0)
            b = x.shape[0]
            x = norm(x)
            logits, pts, feats = _split_output(model(x))
            if logits.ndim != 2 or logits.shape[0] != b:
                raise LuabError(
                    f"{description}: model returned logits of shape {tuple(logits.shape)} for a batch "
                    f"of {b}; expected ({b}, num_classes)"
                )
            if start == 0 and num_labels is not None and num_labels > logits.shape[1]:
                raise LuabError(
                    f"{description}: the model predicts {logits.shape[1]} classes but the data has "
                    f"labels up to {num_labels - 1}; create the model with num_classes={num_labels}"
                )
            if "pred" in want:
                keep("pred", reduce(logits))
            if "logits" in want:
                keep("logits", logits, torch.float32)
            if "points" in want:
                if has_points is None:
                    has_points = pts is not None and pts.ndim == 3 and pts.shape[1] > 0
                if has_points:
                    if pts is None or pts.shape[0] != b or pts.shape[-1] != 2:
                        raise LuabError(f"{description}: model returned points inconsistently across batches")
                    keep("points", pts, torch.float32)
            if "features" in want:
                if feats is None:
                    raise LuabError(f"{description}: the model output has no features")
                keep("features", feats, torch.float32)
            for name, hook in (hooks or {}).items():
                r = hook(x, slice(start, start + b))
                chunks[name].append(r.cpu().numpy() if isinstance(r, torch.Tensor) else np.asarray(r))
            start += b
            if task is not None:
                progress.advance(task, b)

    def cat(key: str) -> np.ndarray | None:
        if key not in want or not chunks[key]:
            return None
        return chunks[key][0] if len(chunks[key]) == 1 else np.concatenate(chunks[key])

    out = Predictions(start, cat("pred"), cat("logits"), cat("points"), cat("features"))
    for name in hooks or {}:
        out.extra[name] = np.concatenate(chunks[name]) if chunks[name] else np.zeros(0)
    if out.pred is None and "pred" in want:
        out.pred = np.zeros(0, dtype=np.int64)
    return out


@dataclass(frozen=True)
class MissingDataset:
    """A dataset a suite looked for and did not find: the task, the path looked at, how to get it."""

    task: str
    path: Path
    how_to_get: str


@dataclass
class EvalOutcome:
    """What :meth:`Suite.evaluate` returns.

    ``metrics``: ``{name: metric dict}`` (:func:`make_metric`); ``missing``: datasets that were absent
    and skipped (the rest still ran); ``data``: identities (fingerprints) of data used beyond
    ``dataset_dir``'s own fingerprint (e.g. derived analogue splits), for the result's provenance.
    """

    metrics: dict[str, dict[str, Any]]
    missing: tuple[MissingDataset, ...] = ()
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalSettings:
    """The evaluation settings every suite's ``run`` receives (resolved by :meth:`Suite.evaluate`)."""

    device: Any
    progress: Any
    seed: int
    batch_size: int
    normalize: Normalize
    n_boot: int

    def seed_for(self, metric: str) -> list[int]:
        """A per-metric bootstrap seed: stable across runs, different between metrics."""
        import zlib

        return [int(self.seed), zlib.crc32(metric.encode("utf-8"))]


class Suite(ABC):
    """An evaluation suite: ``name``, ``description`` (and ``default_batch_size``) are class attributes.

    Subclasses implement :meth:`run`; :meth:`evaluate` is the template every caller uses.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_batch_size: ClassVar[int] = 256

    def evaluate(
        self,
        model: torch.nn.Module,
        *,
        dataset_dir: str | Path | None = None,
        device: str | torch.device = "cpu",
        progress: Any = None,
        seed: int = 0,
        batch_size: int | None = None,
        normalize: Normalize = None,
        n_boot: int = 1000,
    ) -> EvalOutcome:
        """Evaluate ``model`` on the suite's data in ``dataset_dir``.

        Moves ``model`` to ``device`` and evaluates it in eval mode (its train/eval mode is restored
        afterwards). ``progress`` is a rich ``Progress`` (or None for silence); ``seed`` seeds the
        bootstrap intervals; ``batch_size`` defaults to the suite's ``default_batch_size``;
        ``normalize`` is the model's input normalisation (see :data:`Normalize`).
        """
        import torch

        dev = torch.device(device)
        settings = EvalSettings(
            dev, progress, int(seed), batch_size or self.default_batch_size, normalize, n_boot
        )
        was_training = model.training
        model.to(dev)
        model.eval()
        try:
            return self.run(model, None if dataset_dir is None else Path(dataset_dir), settings)
        finally:
            model.train(was_training)

    @abstractmethod
    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """Measure ``model`` (already in eval mode on ``settings.device``) on the data in ``dataset_dir``."""
