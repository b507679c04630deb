"""The suite contract: what an evaluation suite is, what it returns, and the registry of suites.

A suite turns a model into metric dicts. Implementations (``luab_bench.suites.*``) subclass
:class:`Suite`, implement :meth:`Suite.run` and register with ``@SUITES.register("name")``; the core
(pipeline, ``evaluate --model``, ``submission evaluate``, studies) calls only :func:`get_suite` /
:data:`SUITES` and :meth:`Suite.evaluate` (a template: device placement, eval mode and its
restoration, default batch size). :meth:`Suite.evaluate` returns an :class:`EvalOutcome` whose
``metrics`` are plain dicts with exactly the fields of ``luab_bench.results.schema.Metric`` (made by
``luab_bench.suites.base.make_metric``), so neither this contract nor a suite depends on the results
schema. A suite made of tasks (imagenet, coco) reports each task's :class:`TaskStatus` (ok / missing /
failed) and lists absent data as :class:`MissingDataset`; a task that raises one of
:data:`TASK_ERRORS` fails alone.

This module imports no implementation (the registry names its plugin modules as strings) and
nothing heavy: torch is imported inside :meth:`Suite.evaluate`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from luab_bench.errors import LuabError
from luab_bench.registry import Registry

if TYPE_CHECKING:
    import torch

#: ``normalize`` argument of :meth:`Suite.evaluate` and ``inference.predict``: a callable applied to the float
#: batch (B, 3, H, W) in [0, 1], or ``(mean, std)`` per channel on that [0, 1] scale (timm's
#: data-config convention), or None for no normalisation beyond the [0, 1] scaling.
Normalize = Callable[["torch.Tensor"], "torch.Tensor"] | tuple[Sequence[float], Sequence[float]] | None


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
    splits), for the result's provenance; ``per_image``: for accuracy metrics whose per-image
    correctness the suite records, ``{metric name: sequence of bools in the split's image order}``
    (the result's ``per_image`` block, :mod:`luab_bench.results.per_image`; paired bootstraps between
    results need it).
    """

    metrics: dict[str, dict[str, Any]]
    missing: tuple[MissingDataset, ...] = ()
    data: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, TaskStatus] = field(default_factory=dict)
    per_image: dict[str, Any] = field(default_factory=dict)

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
    #: Largest |drift| (in points, for metrics in % or pp) between two evaluations of the same
    #: weights on the same data and seed that counts as agreement (``submission evaluate``; the same
    #: value as ``luab-bench reproduce``'s default). Same platform: the drift is exactly 0; this only
    #: absorbs floating-point differences between platforms / library versions.
    tolerance: ClassVar[float] = 0.5
    #: The same for a unitless metric (unit ``""``: a correlation r, a fraction), whose scale is 100×
    #: smaller than a percentage's. A metric's own ``tolerance`` in the column map
    #: (``leaderboard/static/columns.yaml``) overrides both (``luab_bench.rescore.metric_tolerance``).
    unitless_tolerance: ClassVar[float] = 0.005

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
