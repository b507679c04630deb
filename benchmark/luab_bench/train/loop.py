"""The training loop: one model, one protocol, one recipe, one seed -> a trained model + its curves.

Deterministic on CPU for a seed: the global torch RNG is seeded, batches and augmentation come from
generators keyed by (seed, epoch) (see ``train.data``), and ``torch.use_deterministic_algorithms`` is on
for the duration of the call (restored afterwards). The learning rate is set every step from the
recipe's schedule: linear warm-up from lr/100 over ``warmup_epochs``, then cosine to 0 or step decay.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from luab_bench.errors import LuabError

if TYPE_CHECKING:
    import torch

    from luab_bench.models import LuabNet
    from luab_bench.protocols.base import Protocol, RecipeConfig
    from luab_bench.train.data import TrainData


@dataclasses.dataclass
class TrainReport:
    """Per-epoch curves (lists, one value per epoch) and run totals; JSON-ready via dataclasses.asdict.

    ``curves`` keys: ``ce``, ``point``, ``total`` (mean per-sample losses), ``train_top1`` (% on the
    augmented training batches, in train mode), ``lr`` (at the epoch's last step), ``seconds``; and,
    when the protocol regresses points, ``point_in_view`` (% of targets still in view after the crop).
    """

    curves: dict[str, list[float]]
    epochs: int
    steps: int
    samples_seen: int
    wall_time_s: float
    seed: int
    device: str
    deterministic: bool


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


def train(
    model: LuabNet,
    protocol: Protocol,
    recipe: RecipeConfig,
    data: TrainData,
    *,
    seed: int,
    device: str = "cpu",
    progress: Any = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainReport:
    """Train ``model`` in place under ``protocol`` with ``recipe`` on ``data``; return the curves.

    ``data`` may carry raw byproduct points or the protocol's targets: ``protocol.make_targets`` is
    applied here (it is idempotent). ``progress`` is a rich ``Progress`` or None; ``on_epoch_end`` is
    called with (epoch, that epoch's curve values).
    """
    import torch

    from luab_bench.train.data import TrainData, iter_batches, num_batches

    expected = protocol.num_point_heads(model.num_classes)
    if model.num_point_heads != expected:
        raise LuabError(
            f"protocol {protocol.config.name!r} needs {expected} point head(s) but the model has "
            f"{model.num_point_heads}; create it with num_point_heads=protocol.num_point_heads(num_classes)"
        )
    if int(data.labels.max()) >= model.num_classes:
        raise LuabError(
            f"training labels go up to {int(data.labels.max())} but the model has {model.num_classes} classes"
        )
    points, has_point = protocol.make_targets(data.points, data.has_point, seed)
    data = TrainData(data.images, data.labels, points, has_point)
    uses_points = data.num_point_slots > 0

    dev = torch.device(device)
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=dev.type != "cpu")
    torch.manual_seed(seed)
    mean, std = model.input_mean, model.input_std
    model.to(dev)
    model.train()
    optimizer = make_optimizer(model, recipe)
    steps_per_epoch = num_batches(len(data), recipe.batch_size)
    curves: dict[str, list[float]] = {k: [] for k in ("ce", "point", "total", "train_top1", "lr", "seconds")}
    if uses_points:
        curves["point_in_view"] = []
    task = progress.add_task("train", total=recipe.epochs * steps_per_epoch) if progress else None
    step = samples = 0
    t_start = time.perf_counter()
    try:
        for epoch in range(recipe.epochs):
            t_epoch = time.perf_counter()
            sums = dict.fromkeys(("ce", "point", "total", "correct", "n", "in_view", "had"), 0.0)
            lr = recipe.lr
            for batch in iter_batches(
                data,
                batch_size=recipe.batch_size,
                seed=seed,
                epoch=epoch,
                out_size=recipe.image_size,
                augmentation=recipe.augmentation,
                mean=mean,
                std=std,
                device=dev,
            ):
                lr = lr_at(recipe, step, steps_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                out = model(batch.images)
                loss, terms = protocol.loss(out, batch.labels, batch.points, batch.has_point)
                if not torch.isfinite(loss):
                    raise LuabError(
                        f"training diverged at epoch {epoch + 1}, step {step + 1} (loss {loss.item()}); "
                        "lower the recipe's lr"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                b = batch.labels.shape[0]
                sums["ce"] += float(terms["ce"]) * b
                sums["point"] += float(terms["point"]) * b
                sums["total"] += float(loss.detach()) * b
                sums["correct"] += float((out.logits.detach().argmax(1) == batch.labels).sum())
                sums["n"] += b
                sums["in_view"] += float(batch.has_point.sum())
                sums["had"] += float(batch.has_point_before_aug.sum())
                step += 1
                samples += b
                if task is not None:
                    progress.advance(task)
            n = max(sums["n"], 1.0)
            stats = {
                "ce": sums["ce"] / n,
                "point": sums["point"] / n,
                "total": sums["total"] / n,
                "train_top1": 100.0 * sums["correct"] / n,
                "lr": lr,
                "seconds": time.perf_counter() - t_epoch,
            }
            if uses_points:
                stats["point_in_view"] = 100.0 * sums["in_view"] / max(sums["had"], 1.0)
            for k, v in stats.items():
                curves[k].append(float(v))
            if task is not None:
                progress.update(
                    task,
                    description=f"train ep {epoch + 1}/{recipe.epochs} loss {stats['total']:.3f} "
                    f"top1 {stats['train_top1']:.1f}%",
                )
            if on_epoch_end is not None:
                on_epoch_end(epoch, stats)
    finally:
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
    model.eval()
    return TrainReport(
        curves=curves,
        epochs=recipe.epochs,
        steps=step,
        samples_seen=samples,
        wall_time_s=time.perf_counter() - t_start,
        seed=int(seed),
        device=str(dev),
        deterministic=dev.type == "cpu",
    )
