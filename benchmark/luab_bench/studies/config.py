"""The sensitivity study's files: its config (``sensitivity.yaml``), layout on disk, log and results.

See :mod:`luab_bench.studies.sensitivity` for what the study does.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from luab_bench.config import StrictModel, load_config
from luab_bench.errors import LuabError

STUDY_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = STUDY_DIR / "sensitivity.yaml"
PER_IMAGE_SPLITS = ("val", "only_fg", "no_fg", "mixed_same", "mixed_rand")
LOG_FILE = "study-log.json"


class StudyConfig(StrictModel):
    """``studies/sensitivity.yaml``: what the study trains and compares."""

    name: str
    version: str
    model: str
    suite: str
    recipe: str
    variants: list[str] = Field(min_length=1)
    protocols: list[str] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    comparisons: list[tuple[str, str]]
    expected: dict[str, list[str]] = Field(default_factory=dict)
    metrics: list[str] = Field(min_length=1)
    n_boot: int = Field(2000, ge=100)
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0.5, lt=1)
    epochs: int | None = Field(None, ge=1, description="override the recipe's epochs (None = recipe's)")

    @field_validator("version", mode="before")
    @classmethod
    def _v(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def load_study(path: str | Path | None = None) -> StudyConfig:
    """The study config (default: the built-in ``sensitivity.yaml``), validated."""
    return load_config(StudyConfig, path or DEFAULT_CONFIG)


def subset(
    cfg: StudyConfig,
    *,
    variants: str | None = None,
    protocols: str | None = None,
    seeds: list[int] | None = None,
    epochs: int | None = None,
) -> StudyConfig:
    """``cfg`` restricted to some of its variants / protocols, other seeds or epochs (CLI overrides)."""
    update: dict[str, Any] = {}
    for field, spec in (("variants", variants), ("protocols", protocols)):
        if spec is None:
            continue
        names = [n.strip() for n in spec.split(",") if n.strip()]
        unknown = [n for n in names if n not in getattr(cfg, field)]
        if unknown or not names:
            raise LuabError(
                f"--{field} {spec!r}: not in the study's {field} ({', '.join(getattr(cfg, field))})"
            )
        update[field] = names
    if seeds is not None:
        update["seeds"] = seeds
    if epochs is not None:
        update["epochs"] = epochs
    return cfg.model_copy(update=update)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a study keeps things under ``out``: one results dir, checkpoints per variant, the log."""

    out: Path

    @property
    def results(self) -> Path:
        return self.out / "results"

    def runs(self, variant: str) -> Path:
        return self.out / "runs" / variant

    def checkpoint(self, cfg: StudyConfig, variant: str, protocol: str, seed: int) -> Path:
        return self.runs(variant) / f"{cfg.suite}__{cfg.model}__{protocol}__s{seed}"

    @property
    def log(self) -> Path:
        return self.out / LOG_FILE


def conditions() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "time": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "load1": round(load1, 2),
        "load5": round(load5, 2),
        "usable_cores": cores,
        "cpu_count": os.cpu_count(),
    }


def read_log(layout: Layout) -> list[dict[str, Any]]:
    if not layout.log.is_file():
        return []
    try:
        data = json.loads(layout.log.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise LuabError(
            f"{layout.log}: unreadable study log ({err}); move it away to start a new log"
        ) from None
    return list(data) if isinstance(data, list) else []


def append_log(layout: Layout, entry: dict[str, Any]) -> None:
    from luab_bench.io import atomic_write_bytes

    log = [e for e in read_log(layout) if e.get("job") != entry["job"]] + [entry]
    atomic_write_bytes(layout.log, (json.dumps(log, indent=1, sort_keys=True) + "\n").encode())


# ---------------------------------------------------------------- results on disk
def load_verified(results_dir: Path, model: str) -> dict[tuple[str, str, int], tuple[Path, Any]]:
    """(variant, protocol, seed) -> (path, Result) of every counted result of ``model``: a valid
    signature (the leaderboard's ``counted``: verified, or self-signed in a build without trust
    anchors, as the study's own throw-away key is) and not a replay."""
    from luab_bench.leaderboard.build import collect_rows, counted

    if not results_dir.is_dir():
        return {}
    report = collect_rows(results_dir)
    out: dict[tuple[str, str, int], tuple[Path, Any]] = {}
    for row in report.rows:
        # a valid signature (verified, or self-signed without trust anchors) and not a replay
        if not counted(row) or row["model"]["name"] != model:
            continue
        key = (row["suite"]["variant"], row["protocol"]["name"], int(row["seed"]))
        out.setdefault(key, (results_dir / row["file"], report.results[row["file"]]))
    return out


def jobs(cfg: StudyConfig) -> list[tuple[str, int, str]]:
    """Every (variant, seed, protocol), variant- then seed-major (a stopped study has whole seeds)."""
    return [(v, s, p) for v in cfg.variants for s in cfg.seeds for p in cfg.protocols]
