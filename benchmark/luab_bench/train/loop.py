"""The training loop: one model, one protocol, one recipe, one seed -> a trained model + its curves.

Deterministic on CPU for a seed: the global torch RNG is seeded, batches and augmentation come from
generators keyed by (seed, epoch) (see ``train.data``), and ``torch.use_deterministic_algorithms`` is on
for the duration of the call (restored afterwards). The learning rate is set every step from the
recipe's schedule: linear warm-up from lr/100 over ``warmup_epochs``, then cosine to 0 or step decay.

At scale (see docs/training.md): ``checkpoint_dir`` gets a resumable training state at every epoch end
(and every ``checkpoint_every_steps`` steps); ``resume=True`` continues from it so that the finished
run is bit-identical to an uninterrupted one on CPU; ``dist`` (from ``train.distributed``) trains
with DDP on this rank's slice of every global batch; on CUDA the forward runs under bfloat16
autocast (``recipe.amp``); ``recipe.mixing`` turns on point-aware mixup/CutMix; ``recipe.rand_augment``
/ ``random_erasing`` / ``repeated_aug`` act in the batch iterator (``train.data``) and
``recipe.label_smoothing`` on the CE term (``train.smoothing``); ``held_out`` adds per-epoch held-out
top-1 (multi-label: mAP) and point-in-box accuracy to the curves (``train.heldout``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luab_bench.errors import DataError, LuabError

if TYPE_CHECKING:
    import torch

    from luab_bench.models import LuabNet
    from luab_bench.protocols.base import RecipeConfig, TrainingProtocol
    from luab_bench.train.data import FileTrainData, TrainData
    from luab_bench.train.distributed import DistContext
    from luab_bench.train.heldout import HeldOutSet


@dataclasses.dataclass
class TrainReport:
    """Per-epoch curves (lists, one value per epoch) and run totals; JSON-ready via dataclasses.asdict.

    ``curves`` keys: ``ce``, ``point``, ``total`` (mean per-sample losses), ``train_top1`` (% on the
    augmented training batches, in train mode, against the first mixing partner's label; for
    multi-label data: % whose arg-max class is one of the true labels),
    ``lr`` (at the epoch's last step), ``seconds``; and, when the protocol regresses points,
    ``point_in_view`` (% of targets still in view after the crop) and ``point_err`` (mean Euclidean
    distance, in image-relative units, between the predicted point and its target over the
    (sample, head) slots that have a target in view, before mixing).
    With a ``held_out`` set: ``val_top1`` (multi-label: ``val_map``) and (point heads + boxes)
    ``val_point_in_box``, measured after the epoch's last step in eval mode (``train.heldout``).
    ``resumed_at_step`` is the global step a resumed run continued from (None if not resumed).
    """

    curves: dict[str, list[float]]
    epochs: int
    steps: int
    samples_seen: int
    wall_time_s: float
    seed: int
    device: str
    deterministic: bool
    world_size: int = 1
    resumed_at_step: int | None = None


def lr_at(recipe: RecipeConfig, step: int, steps_per_epoch: int) -> float:
    """Learning rate for optimiser step ``step`` (0-based) under ``recipe``'s schedule."""
    total = recipe.epochs * steps_per_epoch
    warm = min(round(recipe.warmup_epochs * steps_per_epoch), max(total - steps_per_epoch, 0))
    if step < warm:
        start = recipe.lr / 100
        return start + (recipe.lr - start) * step / warm
    if recipe.schedule == "cosine":
        span = max(total - warm, 1)
        return 0.5 * recipe.lr * (1 + math.cos(math.pi * (step - warm) / span))
    return recipe.lr * recipe.step_gamma ** ((step // steps_per_epoch) // recipe.step_epochs)


def make_optimizer(model: torch.nn.Module, recipe: RecipeConfig) -> torch.optim.Optimizer:
    """timm's optimiser factory (no weight decay on biases and norm weights).

    ``sgd`` is SGD with classical (non-Nesterov) momentum (timm's ``momentum``); ``adamw`` is AdamW.
    """
    from timm.optim import create_optimizer_v2

    if recipe.optimizer == "sgd":
        return create_optimizer_v2(
            model, opt="momentum", lr=recipe.lr, weight_decay=recipe.weight_decay, momentum=recipe.momentum
        )
    return create_optimizer_v2(model, opt="adamw", lr=recipe.lr, weight_decay=recipe.weight_decay)


def run_key(
    model: LuabNet,
    protocol: TrainingProtocol,
    recipe: RecipeConfig,
    data: TrainData | FileTrainData,
    seed: int,
) -> str:
    """What a training state must match to be resumed: model, protocol, recipe, seed and data shape.

    The data is identified by its shape (file-backed: count, identity and image sizes) and label
    checksum (not its pixels, which would cost a pass over the whole set); pipeline callers also
    store the dataset fingerprint in the checkpoint meta.
    """
    import numpy as np

    basis = json.dumps(
        [
            model.model_name,
            model.num_classes,
            model.num_point_heads,
            protocol.config.model_dump(mode="json"),
            recipe.model_dump(mode="json"),
            int(seed),
            data.shape_key,
            hashlib.sha256(np.ascontiguousarray(data.labels).tobytes()).hexdigest(),
        ],
        sort_keys=True,
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def _check_drop_path(model: torch.nn.Module, recipe: RecipeConfig) -> None:
    if recipe.drop_path_rate > 0 and not any(
        float(getattr(m, "drop_prob", 0) or 0) > 0 for m in model.modules()
    ):
        raise LuabError(
            f"recipe {recipe.name!r} sets drop_path_rate={recipe.drop_path_rate}, but the model has no "
            f"stochastic depth; create it with create_model(..., drop_path_rate={recipe.drop_path_rate})"
        )


def _top1_hits(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Samples whose arg-max class is a true label (class index (B,) or multi-hot (B, K) labels)."""
    pred = logits.argmax(1)
    if labels.ndim == 2:
        return float((labels.gather(1, pred[:, None]).squeeze(1) > 0).sum())
    return float((pred == labels).sum())


_SUM_KEYS = ("ce", "point", "total", "correct", "n", "in_view", "had", "err_sum", "err_n")


def train(
    model: LuabNet,
    protocol: TrainingProtocol,
    recipe: RecipeConfig,
    data: TrainData | FileTrainData,
    *,
    seed: int,
    device: str = "cpu",
    progress: Any = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_every_steps: int = 0,
    dist: DistContext | None = None,
    on_step_end: Callable[[int], None] | None = None,
    held_out: HeldOutSet | None = None,
) -> TrainReport:
    """Train ``model`` in place under ``protocol`` with ``recipe`` on ``data``; return the curves.

    ``data`` may carry raw byproduct points or the protocol's targets: ``protocol.make_targets`` is
    applied here (it is idempotent). ``progress`` is a rich ``Progress`` or None; ``on_epoch_end`` is
    called with (epoch, that epoch's curve values), ``on_step_end`` with the global step count.

    ``checkpoint_dir``: where the resumable state is written (rank 0 only) at every epoch end and,
    if ``checkpoint_every_steps`` > 0, every that many steps. ``resume``: continue from the state in
    ``checkpoint_dir`` if there is one (a state from a different run is an error; no state = start
    from scratch). ``dist``: the process group context (None = single process). ``held_out``: a
    small labelled set (with boxes) evaluated after every epoch into the curves; every rank
    evaluates it (it is deterministic), so the curves agree across ranks.
    """
    import torch

    from luab_bench.train.checkpoint import has_train_state, load_train_state, save_train_state
    from luab_bench.train.data import iter_batches, num_batches
    from luab_bench.train.distributed import DistContext, all_reduce_sum
    from luab_bench.train.heldout import evaluate_held_out
    from luab_bench.train.mixing import mix_batch, mixed_loss
    from luab_bench.train.smoothing import smooth_cross_entropy

    dist = dist or DistContext()
    expected = protocol.num_point_heads(model.num_classes)
    if model.num_point_heads != expected:
        raise LuabError(
            f"protocol {protocol.config.name!r} needs {expected} point head(s) but the model has "
            f"{model.num_point_heads}; create it with num_point_heads=protocol.num_point_heads(num_classes)"
        )
    if data.multilabel and data.labels.shape[1] != model.num_classes:
        raise LuabError(
            f"multi-label training labels have {data.labels.shape[1]} classes but the model has "
            f"{model.num_classes}"
        )
    if not data.multilabel and int(data.labels.max()) >= model.num_classes:
        raise LuabError(
            f"training labels go up to {int(data.labels.max())} but the model has {model.num_classes} classes"
        )
    if recipe.label_smoothing > 0 and data.multilabel:
        raise LuabError(
            f"recipe {recipe.name!r} sets label_smoothing={recipe.label_smoothing}, which is defined for "
            "single-label softmax cross-entropy only; set label_smoothing: 0 for multi-label (BCE) training"
        )
    if resume and checkpoint_dir is None:
        raise LuabError("resume=True needs checkpoint_dir (the directory of the interrupted run)")
    if checkpoint_every_steps < 0:
        raise LuabError(f"checkpoint_every_steps must be >= 0, got {checkpoint_every_steps}")
    _check_drop_path(model, recipe)
    points, has_point = protocol.make_targets(data.points, data.has_point, seed)
    key = run_key(model, protocol, recipe, data, seed)
    data = data.with_targets(points, has_point)
    uses_points = data.num_point_slots > 0

    dev = torch.device(device)
    use_amp = dev.type == "cuda" and recipe.amp
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(True, warn_only=dev.type != "cpu")
        torch.manual_seed(seed + dist.rank)
        mean, std = model.input_mean, model.input_std
        model.to(dev)
        model.train()
        optimizer = make_optimizer(model, recipe)
        steps_per_epoch = num_batches(len(data), recipe.batch_size, dist.world_size)
        curve_keys = ("ce", "point", "total", "train_top1", "lr", "seconds")
        curves: dict[str, list[float]] = {k: [] for k in curve_keys}
        if uses_points:
            curves["point_in_view"] = []
            curves["point_err"] = []
        if held_out is not None:
            curves["val_map" if held_out.multilabel else "val_top1"] = []
            heads_fit = not held_out.multilabel or model.num_point_heads == held_out.labels.shape[1]
            if uses_points and held_out.has_boxes and heads_fit:
                curves["val_point_in_box"] = []
        step = samples = 0
        start_epoch = start_batch = 0
        sums = dict.fromkeys(_SUM_KEYS, 0.0)
        epoch_elapsed = prior_wall = 0.0
        resumed_at: int | None = None
        if resume and has_train_state(checkpoint_dir):  # type: ignore[arg-type]
            state = load_train_state(checkpoint_dir)  # type: ignore[arg-type]
            prog = state["progress"]
            if prog.get("run_key") != key:
                raise LuabError(
                    f"{checkpoint_dir}: its training state belongs to a different run (model, protocol, "
                    "recipe, seed or data differ); resume with the same settings or use a new output "
                    "directory"
                )
            try:  # a state that passed the file checks but does not fit this model: one clear error
                model.load_state_dict(state["model"], strict=True)
                optimizer.load_state_dict(state["optimizer"])
                step, samples = int(prog["step"]), int(prog["samples"])
                start_epoch, start_batch = int(prog["epoch"]), int(prog["batch"])
                curves = {k: [float(v) for v in vals] for k, vals in prog["curves"].items()}
                if dist.is_main:  # the saved partial sums are already reduced over ranks
                    sums = {k: float(prog["sums"][k]) for k in _SUM_KEYS}
                epoch_elapsed, prior_wall = float(prog["epoch_elapsed"]), float(prog["wall_time_s"])
                if len(state["rng"]) == dist.world_size:
                    torch.set_rng_state(state["rng"][dist.rank])
            except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, OverflowError) as err:
                raise DataError(
                    f"{checkpoint_dir}: the training state cannot be restored ({type(err).__name__}: "
                    f"{str(err)[:100]}); delete train_state.json there to start over"
                ) from None
            resumed_at = step
        train_model: torch.nn.Module = model
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            if dev.type == "cuda":
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            device_ids = [dev.index] if dev.type == "cuda" else None
            train_model = DistributedDataParallel(model, device_ids=device_ids)

        def save_state(epoch: int, batch: int, t_epoch: float) -> None:
            partial = all_reduce_sum(sums, dist, dev)
            rng = [torch.get_rng_state()]
            if dist.enabled:
                import torch.distributed as tdist

                gathered: list[Any] = [None] * dist.world_size
                tdist.all_gather_object(gathered, rng[0])
                rng = gathered
            if dist.is_main and checkpoint_dir is not None:
                save_train_state(
                    checkpoint_dir,
                    model,
                    optimizer,
                    {
                        "run_key": key,
                        "epoch": epoch,
                        "batch": batch,
                        "step": step,
                        "samples": samples,
                        "sums": partial,
                        "curves": curves,
                        "epoch_elapsed": time.perf_counter() - t_epoch,
                        "wall_time_s": prior_wall + time.perf_counter() - t_start,
                        "world_size": dist.world_size,
                    },
                    rng,
                )

        show = progress if dist.is_main else None
        task = show.add_task("train", total=recipe.epochs * steps_per_epoch) if show else None
        if task is not None and step:
            show.advance(task, step)
        t_start = time.perf_counter()
        for epoch in range(start_epoch, recipe.epochs):
            t_epoch = time.perf_counter() - (epoch_elapsed if epoch == start_epoch else 0.0)
            first = start_batch if epoch == start_epoch else 0
            if epoch != start_epoch:
                sums = dict.fromkeys(_SUM_KEYS, 0.0)
            lr = lr_at(recipe, max(step - 1, 0), steps_per_epoch)
            batches = iter_batches(
                data,
                batch_size=recipe.batch_size,
                seed=seed,
                epoch=epoch,
                out_size=recipe.image_size,
                augmentation=recipe.augmentation,
                mean=mean,
                std=std,
                device=dev,
                start_batch=first,
                shard=(dist.rank, dist.world_size),
                rand_augment=recipe.rand_augment,
                random_erasing=recipe.random_erasing,
                repeated_aug=recipe.repeated_aug,
            )
            for b_index, batch in enumerate(batches, start=first):
                lr = lr_at(recipe, step, steps_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                images, labels = batch.images, batch.labels
                mixed = None
                if recipe.mixing is not None:
                    mixed = mix_batch(
                        images, labels, batch.points, batch.has_point, recipe.mixing,
                        seed=seed, epoch=epoch, batch_index=b_index,
                    )  # fmt: skip
                    images = mixed.images
                with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
                    out = train_model(images)
                    if mixed is not None:
                        loss, terms = mixed_loss(protocol, out, mixed)
                        targets = [(mixed.a.labels, mixed.lam)]
                        if mixed.lam < 1.0:
                            targets.append((mixed.b.labels, 1.0 - mixed.lam))
                    else:
                        loss, terms = protocol.loss(out, labels, batch.points, batch.has_point)
                        targets = [(labels, 1.0)]
                    if recipe.label_smoothing > 0:
                        loss, terms = smooth_cross_entropy(loss, terms, out, targets, recipe.label_smoothing)
                if not torch.isfinite(loss):
                    raise LuabError(
                        f"training diverged at epoch {epoch + 1}, step {step + 1} (loss {loss.item()}); "
                        "lower the recipe's lr"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bsz = labels.shape[0]
                sums["ce"] += float(terms["ce"]) * bsz
                sums["point"] += float(terms["point"]) * bsz
                sums["total"] += float(loss.detach()) * bsz
                sums["correct"] += _top1_hits(out.logits.detach(), labels)
                sums["n"] += bsz
                sums["in_view"] += float(batch.has_point.sum())
                sums["had"] += float(batch.has_point_before_aug.sum())
                if uses_points and out.points is not None:
                    dist_err = (out.points.detach().float() - batch.points).norm(dim=-1)
                    sums["err_sum"] += float(dist_err[batch.has_point].sum())
                    sums["err_n"] += float(batch.has_point.sum())
                step += 1
                samples += min(recipe.batch_size, len(data) - b_index * recipe.batch_size)
                if task is not None:
                    show.advance(task)
                if on_step_end is not None:
                    on_step_end(step)
                last_in_epoch = b_index + 1 == steps_per_epoch
                if checkpoint_every_steps and step % checkpoint_every_steps == 0 and not last_in_epoch:
                    save_state(epoch, b_index + 1, t_epoch)
            tot = all_reduce_sum(sums, dist, dev)
            n = max(tot["n"], 1.0)
            stats = {
                "ce": tot["ce"] / n,
                "point": tot["point"] / n,
                "total": tot["total"] / n,
                "train_top1": 100.0 * tot["correct"] / n,
                "lr": lr,
                "seconds": time.perf_counter() - t_epoch,
            }
            if uses_points:
                stats["point_in_view"] = 100.0 * tot["in_view"] / max(tot["had"], 1.0)
                stats["point_err"] = tot["err_sum"] / max(tot["err_n"], 1.0)
            if held_out is not None:
                val = evaluate_held_out(
                    model,
                    held_out,
                    image_size=recipe.image_size,
                    mean=mean,
                    std=std,
                    device=dev,
                    batch_size=recipe.eval_batch_size,
                )
                stats.update({k: v for k, v in val.items() if k in curves})
            for k, v in stats.items():
                curves.setdefault(k, []).append(float(v))
            sums = dict.fromkeys(_SUM_KEYS, 0.0)
            if checkpoint_dir is not None:
                save_state(epoch + 1, 0, time.perf_counter())
            if task is not None:
                show.update(
                    task,
                    description=f"train ep {epoch + 1}/{recipe.epochs} loss {stats['total']:.3f} "
                    f"top1 {stats['train_top1']:.1f}%",
                )
            if on_epoch_end is not None and dist.is_main:
                on_epoch_end(epoch, stats)
    finally:
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
    model.eval()
    return TrainReport(
        curves=curves,
        epochs=recipe.epochs,
        steps=step,
        samples_seen=samples,
        wall_time_s=prior_wall + time.perf_counter() - t_start,
        seed=int(seed),
        device=str(dev),
        deterministic=dev.type == "cpu",
        world_size=dist.world_size,
        resumed_at_step=resumed_at,
    )
