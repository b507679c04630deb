"""The one batched inference loop: :func:`predict` (evaluation suites and held-out curves).

``predict(model, images, ...)`` runs a model without gradients over a uint8 (N, H, W, 3) array or an
iterable of batches (a DataLoader, a generator of float NCHW tensors) and keeps, per image, what was
asked for: ``pred`` (argmax or any ``reduce`` of the logits), ``logits``, every point head's
``points``, ``features``, and per-batch ``hooks`` outputs (CAMs). Under ``torchrun`` it shards the
batches over the ranks and gathers them once (docs/evaluation.md), unless ``distributed=False``.

Callers: every suite (``luab_bench.suites.*``), the per-epoch held-out curves
(``luab_bench.train.heldout``), the sensitivity study; ``luab_bench.suites.base.predict`` is this
function (kept importable under that name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.api.suite import Normalize
from luab_bench.errors import DataError, LuabError

if TYPE_CHECKING:
    import torch


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
            raise _ERROR_CLASSES.get(kind, RuntimeError)(f"{message} (on rank {rank})")


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
    distributed: bool = True,
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
    ``distributed=False``: this process runs every batch itself, group or not (the training loop's
    held-out curves, which every rank computes whole).
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
    rank, world = dist_world() if distributed else (0, 1)

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
