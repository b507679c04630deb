"""Specs as data: what one run, training or evaluation job is, made once at the edge (CLI, public API).

Every layer below the edge takes one of these objects whole instead of relaying keyword lists
(issue 15). The training data a job reads is a :class:`~luab_bench.train.sources.SourceRequest`
(``data_dir``, ``variant``, ``data_root``, ``train_data``, ``byproducts``, ``num_workers``,
``options`` and the name of the training source, ``source``). A suite's default training is
:class:`SuiteTraining`, kept on the suite class as its ``training`` attribute (the way timm keeps a
model's ``default_cfgs`` beside the model). This module imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from luab_bench.default_dirs import DEFAULT_RESULTS_DIR, DEFAULT_RUNS_DIR, DEFAULT_SITE_DIR
from luab_bench.errors import LuabError
from luab_bench.train.sources.base import MULTI_LABEL_PROTOCOLS, SINGLE_LABEL_PROTOCOLS, SourceRequest

Echo = Callable[[str], None]
BUILTIN_PROTOCOLS = SINGLE_LABEL_PROTOCOLS
MULTILABEL_PROTOCOLS = MULTI_LABEL_PROTOCOLS


def no_echo(_: str) -> None:
    """An ``echo`` that prints nothing (the default, and every rank but 0)."""


@dataclasses.dataclass(frozen=True)
class SuiteTraining:
    """How a suite trains by default: training source, variant (None = the source's), recipe, and
    the protocols ``--protocol all`` means (multi-label suites: the coco_* family)."""

    source: str
    variant: str | None
    recipe: str
    protocols: tuple[str, ...]


#: The flat keywords of :func:`luab_bench.pipeline.train_one` that describe the training data.
_DATA_FIELDS = {
    "data_dir": "data_dir",
    "variant": "variant",
    "source": "source",
    "data_root": "data_root",
    "train_data": "train_data",
    "byproducts": "byproducts",
    "workers": "num_workers",
    "source_options": "options",
}


def data_request(fields: Mapping[str, Any]) -> SourceRequest:
    """The :class:`SourceRequest` of flat keyword arguments (``workers``, ``source_options``, …)."""
    kw = {_DATA_FIELDS[k]: v for k, v in fields.items() if k in _DATA_FIELDS}
    if "data_dir" not in kw:
        raise LuabError("data_dir is required: the folder where datasets are generated or cached")
    kw["data_dir"] = Path(kw["data_dir"])
    kw["options"] = dict(kw.get("options") or {})
    kw["num_workers"] = int(kw.get("num_workers") or 0)
    return SourceRequest(**kw)


def _split(cls: type, fields: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names - set(_DATA_FIELDS))
    if unknown:
        raise TypeError(f"{cls.__name__}: unexpected keyword argument(s) {', '.join(unknown)}")
    return {k: v for k, v in fields.items() if k in names and k != "data"}


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """One training job: ``model`` under ``protocol`` (name or YAML) on ``data``, written to ``out``."""

    model: str
    protocol: str
    data: SourceRequest
    out: Path
    suite: str = "synthetic"
    seed: int = 0
    recipe: str | None = None
    epochs: int | None = None
    device: str = "auto"
    resume: bool = False
    checkpoint_every_steps: int = 0
    progress: bool = True
    echo: Echo = no_echo

    @classmethod
    def from_fields(cls, **fields: Any) -> TrainSpec:
        """The spec of ``train_one``'s flat keywords (the public API: ``luab_bench.train(...)``)."""
        return cls(data=data_request(fields), **_split(cls, fields))


@dataclasses.dataclass(frozen=True)
class EvalSpec:
    """One evaluation of a checkpoint: on ``suite`` (None = the checkpoint's), written to ``out`` or
    ``results_dir``, signed with ``key`` when given."""

    checkpoint: Path
    data_dir: Path
    results_dir: Path = DEFAULT_RESULTS_DIR
    suite: str | None = None
    out: Path | None = None
    key: Path | None = None
    device: str = "auto"
    progress: bool = True
    echo: Echo = no_echo
    data_root: Path | None = None
    strict: bool = False
    image_size: int | None = None


@dataclasses.dataclass(frozen=True)
class ModelEvalSpec:
    """One evaluation of any model spec without training (``evaluate --model``, ``run --no-train``).

    ``spec``: a :class:`~luab_bench.model_spec.ModelSpec`; ``protocol``: how it was trained (recorded;
    None = external); ``num_classes``: default the suite's; ``extra``: merged into the result.
    """

    spec: Any
    data_dir: Path
    results_dir: Path = DEFAULT_RESULTS_DIR
    suite: str = "synthetic"
    variant: str | None = None
    protocol: str | None = None
    num_classes: int | None = None
    image_size: int | None = None
    data_root: Path | None = None
    out: Path | None = None
    key: Path | None = None
    device: str = "auto"
    progress: bool = True
    echo: Echo = no_echo
    seed: int = 0
    extra: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """``luab-bench run``: ``model`` under each of ``protocols`` at each of ``seeds`` on ``data``.

    Checkpoints go under ``runs_dir``, signed results (``key``; None = a throw-away key) under
    ``results_dir``, the site under ``site_dir``. ``data.data_root`` also holds a real suite's
    evaluation sets. ``align``: add the human-alignment test to each result (embedded data).
    """

    model: str
    protocols: tuple[str, ...]
    data: SourceRequest
    suite: str = "synthetic"
    seeds: tuple[int, ...] = (0,)
    recipe: str | None = None
    epochs: int | None = None
    device: str = "auto"
    runs_dir: Path = DEFAULT_RUNS_DIR
    results_dir: Path = DEFAULT_RESULTS_DIR
    site_dir: Path = DEFAULT_SITE_DIR
    key: Path | None = None
    align: bool = True
    progress: bool = True
    echo: Echo = no_echo

    @classmethod
    def from_fields(cls, *, seed: int = 0, seeds: Sequence[int] | None = None, **fields: Any) -> RunSpec:
        """The spec of ``pipeline.run``'s flat keywords (``seeds`` default: ``[seed]``)."""
        kw = _split(cls, fields)
        kw["protocols"] = tuple(kw.get("protocols", ()))
        return cls(data=data_request(fields), seeds=tuple(seeds) if seeds else (int(seed),), **kw)

    def checkpoint_dir(self, protocol_name: str, seed: int) -> Path:
        """Where the job (protocol, seed) keeps its checkpoint."""
        return Path(self.runs_dir) / f"{self.suite}__{self.model}__{protocol_name}__s{seed}"

    def train_spec(self, protocol: str, protocol_name: str, seed: int) -> TrainSpec:
        """The training job of (protocol, seed); ``protocol`` as given (name or YAML path)."""
        return TrainSpec(
            model=self.model, protocol=protocol, data=self.data, out=self.checkpoint_dir(protocol_name, seed),
            suite=self.suite, seed=seed, recipe=self.recipe, epochs=self.epochs, device=self.device,
            progress=self.progress, echo=self.echo,
        )  # fmt: skip
