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


def _uint8_batches(images: np.ndarray, bs: int, pin: bool, mine: Callable[[int], bool]) -> Iterable[Any]:
    """``(start, batch)`` of a uint8 NHWC array (numpy or memmap) for the batch indices ``mine`` keeps,
    each copied once into one reused buffer."""
    import torch

    buf = torch.empty((bs, *images.shape[1:]), dtype=torch.uint8, pin_memory=pin)
    buf_np = buf.numpy()
    for i, start in enumerate(range(0, images.shape[0], bs)):
        if not mine(i):
            continue
        b = min(bs, images.shape[0] - start)
        np.copyto(buf_np[:b], images[start : start + b])
        yield start, buf[:b]


def dist_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the active ``torch.distributed`` group, ``(0, 1)`` without one."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch built without distributed
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _loader_batches(loader: Any, mine: Callable[[int], bool]) -> tuple[Iterable[Any], int] | None:
    """``(start, batch)`` of only this rank's batches of a sequential, batched DataLoader (its images
    are decoded by this rank alone), and their image count; None for any other loader."""
    from torch.utils.data import DataLoader, SequentialSampler

    if not isinstance(loader, DataLoader) or not isinstance(loader.sampler, SequentialSampler):
        return None
    bs = loader.batch_size
    if bs is None or loader.drop_last:
        return None
    n = len(loader.dataset)
    cuts = [list(range(s, min(s + bs, n))) for i, s in enumerate(range(0, n, bs)) if mine(i)]
    sub = DataLoader(
        loader.dataset,
        batch_sampler=cuts,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
    )
    return zip((c[0] for c in cuts), sub, strict=True), sum(len(c) for c in cuts)


def _iterable_batches(batches: Iterable[Any], mine: Callable[[int], bool]) -> Iterable[Any]:
    """``(start, batch)`` for this rank's batches of any iterable (every batch is still produced)."""
    start = 0
    for i, batch in enumerate(batches):
        if mine(i):
            yield start, batch
        start += int(batch.shape[0])


def _reraise_everywhere(errors: list[tuple[int, str, str] | None], local: BaseException | None) -> None:
    """After a gather: the local exception, else one rank's error rebuilt (same class family, message)."""
    if local is not None:
        raise local
    for item in errors:
        if item is not None:
            rank, kind, message = item
            cls = {
                "DataError": DataError,
                "LuabError": LuabError,
                "OSError": OSError,
                "ValueError": ValueError,
            }
            raise cls.get(kind, RuntimeError)(f"{message} (on rank {rank})")


_ERROR_CLASSES: dict[str, type[Exception]] = {
    "DataError": DataError,
    "LuabError": LuabError,
    "OSError": OSError,
    "ValueError": ValueError,
}


def _error_kind(err: BaseException) -> str:
    """The most specific of :data:`_ERROR_CLASSES` ``err`` is (so its handler matches on every rank)."""
    for name, cls in _ERROR_CLASSES.items():
        if isinstance(err, cls):
            return name
    return type(err).__name__


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
    into ``extra[name]``. ``num_labels`` (1 + the largest label) is checked against the model's
    number of classes on the first batch.

    Distributed (a ``torch.distributed`` group of W > 1 processes, e.g. under ``torchrun``): the
    batches are exactly the single-process ones (the same ``batch_size`` cut of the same image
    order); rank r runs the model on batches r, r + W, r + 2W, … only (a sequential DataLoader is
    re-cut so each rank decodes only its own images; another iterable is iterated by every rank and
    the other ranks' batches are skipped), then **one** ``all_gather_object`` gives every rank every
    batch's outputs, reassembled in image order. So each image is evaluated once, by one rank, in the
    same batch as in a single process, and every rank returns what a single process returns. An
    error on any rank is raised on every rank after the gather (no rank waits forever).
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
    rank, world = dist_world()

    def mine(i: int) -> bool:
        return i % world == rank

    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DataError(
                f"{description}: images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}"
            )
        n_all = images.shape[0]
        bs = min(batch_size, max(n_all, 1))
        batches: Iterable[Any] = _uint8_batches(images, bs, device.type == "cuda", mine)
        total = sum(min(bs, n_all - s) for i, s in enumerate(range(0, n_all, bs)) if mine(i))
    else:
        if total is None and hasattr(images, "dataset"):
            total = len(images.dataset)  # a DataLoader
        cut = _loader_batches(images, mine) if world > 1 else None
        if cut is not None:
            batches, total = cut
        else:
            batches = _iterable_batches(images, mine)
            total = None if world > 1 else total
    norm = normalizer(normalize, device)
    reduce = reduce or _argmax
    keys = (*want, *(hooks or {}))
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    starts: list[int] = []  # first image index of each processed batch
    has_points: bool | None = None
    task = progress.add_task(description, total=total) if progress is not None else None
    seen = 0  # images this rank ran

    def keep(key: str, t: torch.Tensor, dtype: Any = None) -> None:
        a = t.cpu().numpy() if dtype is None else t.to(dtype).cpu().numpy()
        chunks[key].append(a)

    error: BaseException | None = None
    try:
        with torch.inference_mode():
            for start, batch in batches:
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
                if not starts and num_labels is not None and num_labels > logits.shape[1]:
                    raise LuabError(
                        f"{description}: the model predicts {logits.shape[1]} classes but the data has "
                        f"labels up to {num_labels - 1}; create the model with num_classes={num_labels}"
                    )
                starts.append(start)
                if "pred" in want:
                    keep("pred", reduce(logits))
                if "logits" in want:
                    keep("logits", logits, torch.float32)
                if "points" in want:
                    if has_points is None:
                        has_points = pts is not None and pts.ndim == 3 and pts.shape[1] > 0
                    if has_points:
                        if pts is None or pts.shape[0] != b or pts.shape[-1] != 2:
                            raise LuabError(
                                f"{description}: model returned points inconsistently across batches"
                            )
                        keep("points", pts, torch.float32)
                if "features" in want:
                    if feats is None:
                        raise LuabError(f"{description}: the model output has no features")
                    keep("features", feats, torch.float32)
                for name, hook in (hooks or {}).items():
                    r = hook(x, slice(start, start + b))
                    chunks[name].append(r.cpu().numpy() if isinstance(r, torch.Tensor) else np.asarray(r))
                seen += b
                if task is not None:
                    progress.advance(task, b)
    except Exception as err:
        if world == 1:
            raise
        error = err  # raised on every rank after the gather below
    n = seen
    if world > 1:
        n, chunks = _gather_batches(chunks, starts, seen, error, rank)

    def cat(key: str) -> np.ndarray | None:
        if key not in want or not chunks[key]:
            return None
        return chunks[key][0] if len(chunks[key]) == 1 else np.concatenate(chunks[key])

    out = Predictions(n, cat("pred"), cat("logits"), cat("points"), cat("features"))
    for name in hooks or {}:
        out.extra[name] = np.concatenate(chunks[name]) if chunks[name] else np.zeros(0)
    if out.pred is None and "pred" in want:
        out.pred = np.zeros(0, dtype=np.int64)
    return out


def _gather_batches(
    chunks: dict[str, list[np.ndarray]],
    starts: list[int],
    seen: int,
    error: BaseException | None,
    rank: int,
) -> tuple[int, dict[str, list[np.ndarray]]]:
    """The one collective of a distributed :func:`predict`: every rank's batches, in image order."""
    import torch.distributed as dist

    mine = {
        "starts": starts,
        "seen": seen,
        "chunks": chunks,
        "error": None if error is None else (rank, _error_kind(error), str(error)),
    }
    every: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    _reraise_everywhere([g["error"] for g in every], error)
    # one owner per batch: order every rank's batches by their first image index
    pieces = sorted((start, r, j) for r, g in enumerate(every) for j, start in enumerate(g["starts"]))
    merged = {
        key: [every[r]["chunks"][key][j] for _, r, j in pieces if j < len(every[r]["chunks"][key])]
        for key in chunks
    }
    return int(sum(g["seen"] for g in every)), merged


@dataclass(frozen=True)
class MissingDataset:
    """A dataset a suite looked for and did not find: the task, the path looked at, how to get it."""

    task: str
    path: Path
    how_to_get: str


#: A task's status in an evaluation: it ran, its data was absent, or its data made it fail.
TASK_STATUSES: tuple[str, ...] = ("ok", "missing", "failed")

#: What a task may fail with and still let the other tasks run: a user-fixable data problem
#: (LuabError / DataError), an unreadable file (OSError, e.g. PIL's truncated image), or a value the
#: data made impossible (ValueError, e.g. a metric on an empty split). Anything else is a bug and
#: propagates.
TASK_ERRORS: tuple[type[Exception], ...] = (LuabError, OSError, ValueError)


@dataclass(frozen=True)
class TaskStatus:
    """One task's outcome: ``status`` in :data:`TASK_STATUSES` and, unless ok, the one-line reason."""

    status: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in TASK_STATUSES:
            raise ValueError(f"task status must be one of {TASK_STATUSES}, got {self.status!r}")

    @classmethod
    def failed(cls, err: BaseException) -> TaskStatus:
        """A failed task's status from the exception that stopped it (class name + message, one line)."""
        text = " ".join(str(err).split()) or repr(err)
        kind = "" if isinstance(err, LuabError) else f"{type(err).__name__}: "
        return cls("failed", kind + text)

    def as_dict(self) -> dict[str, str]:
        """``{"status": ..., "reason": ...}`` (reason left out when ok), as the result stores it."""
        return {"status": self.status, **({"reason": self.reason} if self.reason else {})}


@dataclass
class EvalOutcome:
    """What :meth:`Suite.evaluate` returns.

    ``metrics``: ``{name: metric dict}`` (:func:`make_metric`); ``missing``: datasets that were absent
    and skipped (the rest still ran); ``tasks``: each task's :class:`TaskStatus` (a suite without
    sub-tasks gets ``{suite name: ok}`` from :meth:`Suite.evaluate`); ``data``: identities
    (fingerprints) of data used beyond ``dataset_dir``'s own fingerprint (e.g. derived analogue
    splits), for the result's provenance.
    """

    metrics: dict[str, dict[str, Any]]
    missing: tuple[MissingDataset, ...] = ()
    data: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, TaskStatus] = field(default_factory=dict)

    @property
    def not_ok(self) -> dict[str, TaskStatus]:
        """The tasks that were missing or failed."""
        return {k: v for k, v in self.tasks.items() if v.status != "ok"}


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
        from luab_bench.seeds import named_seed

        return named_seed(self.seed, metric)


class Suite(ABC):
    """An evaluation suite: ``name``, ``description`` (and ``default_batch_size``) are class attributes.

    Subclasses implement :meth:`run`; :meth:`evaluate` is the template every caller uses.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_batch_size: ClassVar[int] = 256
    #: Largest |drift| (in each metric's unit: points for %) between two evaluations of the same
    #: weights on the same data and seed that counts as agreement (``submission evaluate``; the same
    #: value as ``luab-bench reproduce``'s default). Same platform: the drift is exactly 0; this only
    #: absorbs floating-point differences between platforms / library versions.
    tolerance: ClassVar[float] = 0.5

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
            outcome = self.run(model, None if dataset_dir is None else Path(dataset_dir), settings)
        finally:
            model.train(was_training)
        if not outcome.tasks:
            outcome.tasks = {self.name: TaskStatus("ok")}
        return outcome

    def prepare(self, dataset_dir: Path | None, progress: Any = None) -> None:
        """Write whatever derived data :meth:`run` needs (default: nothing).

        A distributed evaluation calls this on rank 0 alone, then waits for it on every rank, so that
        ``run`` on every rank only reads (no two processes write one file).
        """
        return None

    @abstractmethod
    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """Measure ``model`` (already in eval mode on ``settings.device``) on the data in ``dataset_dir``."""
