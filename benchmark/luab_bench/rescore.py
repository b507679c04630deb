"""Re-score a leaderboard submission instead of trusting it (``luab-bench submission evaluate``).

For ``submissions/<id>/``: validate ``submission.yaml``; download its weights (:mod:`weights_fetch`:
https only, size cap, SHA-256 checked before anything is loaded, resumable, cached); find the result
files the submitter signed for this model (signature verified against the submission's key, same
model spec, protocol and suite); evaluate the weights on each result's suite, variant and seed
(:mod:`evaluate_model`; the point head is loaded when the file has one; a file-based suite is fed the
recipe's image size); compare every submitted metric with the re-scored one.

Drift = re-scored − submitted, in the metric's unit (points for %), judged against that metric's
tolerance (:func:`metric_tolerance`: the column map's ``tolerance`` for the metric, else the suite's
``Suite.tolerance`` (0.5 points, as ``luab-bench reproduce``) for a metric in % or pp and
``Suite.unitless_tolerance`` (0.005) for a unitless one such as a correlation r). The same weights
on the same data with the same seed are deterministic on one platform, so the expected drift is 0;
the tolerance absorbs floating-point differences between platforms. Submitted metrics this
evaluation does not produce (the ``align_*`` rows of the human-alignment test, which ``submission
evaluate`` does not re-run) are listed as ``not_rescored``, never counted as passing. The outcome is
written as a new result (schema 1.2) with a ``rescore`` block (each drift with its tolerance) and
signed with the re-scorer's key; the site shows the submitted result as *re-scored ✓* or *re-score
drifted* (with each drift), otherwise *self-reported*.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError

Echo = Callable[[str], None]


def _noop(_: str) -> None:
    pass


#: Units whose values are percentages or percentage points (``Suite.tolerance`` applies).
POINT_UNITS = ("%", "pp")


def metric_tolerance(suite: Any, metric: str, unit: str) -> float:
    """Largest |drift| of ``metric`` (in ``unit``) that counts as agreement when ``suite`` re-scores it.

    The column map's ``tolerance`` for the metric (``leaderboard/static/columns.yaml``) if it has
    one; else ``suite.tolerance`` for % / pp and ``suite.unitless_tolerance`` for anything else.
    """
    from luab_bench.leaderboard.columns import column_tolerance

    own = column_tolerance(metric)
    if own is not None:
        return float(own)
    return float(suite.tolerance if unit in POINT_UNITS else suite.unitless_tolerance)


@dataclasses.dataclass(frozen=True)
class Drift:
    """One re-scored metric: submitted and re-scored value, unit, and its own tolerance (``limit``).

    Read by :class:`~luab_bench.train.reproduce.ReproduceReport` like a ``MetricDrift``, except that
    :meth:`ok` always judges by ``limit`` (:func:`metric_tolerance`).
    """

    name: str
    recorded: float
    reproduced: float
    unit: str
    limit: float

    @property
    def drift(self) -> float:
        return self.reproduced - self.recorded

    def ok(self, tolerance: float | None = None) -> bool:
        """``|drift| <= limit`` (``tolerance`` is ignored: each metric has its own)."""
        return abs(self.drift) <= self.limit


@dataclasses.dataclass(frozen=True)
class RescoreOutcome:
    """One re-scored result: the submitted file, the written file, drifts, what was not re-scored."""

    submitted: Path
    rescored: Path
    tolerance: float
    drifts: list[Drift]
    not_rescored: list[str]

    @property
    def ok(self) -> bool:
        return bool(self.drifts) and all(d.ok(self.tolerance) for d in self.drifts)

    def lines(self) -> list[str]:
        """The drift table (as ``luab-bench reproduce`` prints it) plus the metrics not re-scored."""
        from luab_bench.train.reproduce import ReproduceReport

        out = ReproduceReport(self.submitted, self.rescored, self.tolerance, self.drifts).lines()
        other = sorted({d.limit for d in self.drifts if d.limit != self.tolerance})
        for lim in other:  # metrics judged by their own tolerance (unitless, or set in the column map)
            names = ", ".join(d.name for d in self.drifts if d.limit == lim)
            out.append(f"tolerance ±{lim:g} for: {names}")
        if self.not_rescored:
            out.append(f"not re-scored (not measured by this evaluation): {', '.join(self.not_rescored)}")
        return out


def submitted_results(sub: Any, results_dir: Path, files: list[Path] | None = None) -> list[tuple[Path, Any]]:
    """The results in ``results_dir`` (or ``files``) that this submission's key signed for its model.

    A listed file that does not verify against the submission's key, or names another model, is an
    error; in a directory such files are simply not this submission's.
    """
    from luab_bench.protocols.base import load_protocol
    from luab_bench.results.schema import load_result
    from luab_bench.results.signing import verify_result_file

    explicit = files is not None
    candidates = list(files) if explicit else sorted(Path(results_dir).glob("*.json"))
    out = []
    for path in candidates:
        if not explicit and not path.is_file():
            continue
        try:
            result = load_result(path)
        except LuabError:
            if explicit:
                raise
            continue
        if result.rescore is not None:
            continue
        verdict = verify_result_file(path, trusted_keys={sub.public_key})
        matches = result.model.name == sub.model and result.suite.name == sub.suite
        if matches and sub.protocol.endswith((".yaml", ".yml")):
            matches = result.protocol.name == load_protocol(str(sub.root / sub.protocol)).config.name
        elif matches:
            matches = result.protocol.name == sub.protocol
        if verdict.ok and matches:
            out.append((path, result))
        elif explicit:
            why = (
                verdict.reason if not verdict.ok else "another model, protocol or suite than the submission's"
            )
            raise LuabError(f"{path}: not a result of this submission ({why})")
    return out


def _has_point_head(weights: Path) -> bool:
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        return any(k.startswith("point_head.") for k in f.keys())  # noqa: SIM118 (safe_open has no __iter__)


def rescore_submission(
    submission: Path,
    *,
    key: Path,
    data_dir: Path,
    out_dir: Path,
    results_dir: Path = Path("leaderboard/results"),
    result_files: list[Path] | None = None,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    max_bytes: int | None = None,
    device: str = "auto",
    progress: bool = False,
    echo: Echo = _noop,
) -> list[RescoreOutcome]:
    """Re-score every submitted result of ``submission`` (see the module docstring); sign with ``key``."""
    from luab_bench.evaluate_model import evaluate_model
    from luab_bench.model_spec import parse_model_spec
    from luab_bench.protocols.base import load_recipe
    from luab_bench.results.schema import load_result
    from luab_bench.results.signing import key_fingerprint, sign_result_file
    from luab_bench.results.store import write_result
    from luab_bench.submissions import check_submission
    from luab_bench.suites.base import SUITES
    from luab_bench.weights_fetch import DEFAULT_MAX_BYTES, fetch_weights

    if not Path(key).is_file():
        raise LuabError(f"--key {key}: file not found; the re-scored result is signed by the re-scorer")
    sub = check_submission(submission)
    root = Path(submission) if Path(submission).is_dir() else Path(submission).parent
    found = submitted_results(_WithRoot(sub, root), results_dir, result_files)
    if not found:
        raise LuabError(
            f"{root}: no result in {results_dir} is signed by this submission's key for model "
            f"{sub.model!r} / protocol {sub.protocol} / suite {sub.suite}; pass --result FILE"
        )
    echo(f"Fetching {sub.weights.url}")
    weights = fetch_weights(
        sub.weights.url, sub.weights.sha256, cache_dir=cache_dir, max_bytes=max_bytes or DEFAULT_MAX_BYTES
    )
    spec = parse_model_spec(
        sub.model, weights=weights, sha256=sub.weights.sha256, point_head=_has_point_head(weights)
    )
    recipe_path = str(root / sub.recipe) if sub.recipe.endswith((".yaml", ".yml")) else sub.recipe
    protocol = str(root / sub.protocol) if sub.protocol.endswith((".yaml", ".yml")) else sub.protocol
    image_size = int(load_recipe(recipe_path).image_size)
    from luab_bench.preprocess import SIZED_SUITES

    rescorer = key_fingerprint(_public_key_of(key))
    outcomes = []
    for path, submitted in found:
        suite = SUITES.get(submitted.suite.name)
        tolerance = float(suite.tolerance)
        out = Path(out_dir) / f"{path.stem}.rescore-{rescorer.removeprefix('sha256:')[:8]}.json"
        echo(
            f"Re-scoring {path.name} ({submitted.suite.name}/{submitted.suite.variant}, "
            f"seed {submitted.seed})"
        )
        new_path = evaluate_model(
            spec=spec,
            suite=submitted.suite.name,
            variant=submitted.suite.variant or None,
            protocol=protocol,
            image_size=image_size if submitted.suite.name in SIZED_SUITES else None,
            data_dir=data_dir,
            data_root=data_root,
            out=out,
            results_dir=Path(out_dir),
            key=None,
            device=device,
            progress=progress,
            echo=echo,
            seed=submitted.seed,
        )
        new = load_result(new_path)
        if new.suite.data_fingerprint != submitted.suite.data_fingerprint:
            raise LuabError(
                f"{path}: submitted on data {str(submitted.suite.data_fingerprint)[:12]} but the data here "
                f"is {str(new.suite.data_fingerprint)[:12]}; re-score on the submitted data (--data-root)"
            )
        drifts = [
            Drift(
                name,
                float(m.value),
                float(new.metrics[name].value),
                m.unit,
                metric_tolerance(suite, name, new.metrics[name].unit),
            )
            for name, m in sorted(submitted.metrics.items())
            if name in new.metrics
        ]
        missing = sorted(set(submitted.metrics) - set(new.metrics))
        block = {
            "of_result_id": submitted.result_id,
            "submitted_key": submitted.signature.public_key if submitted.signature else "",
            "submission": root.name,
            "tolerance": tolerance,
            "status": "ok" if drifts and all(d.ok() for d in drifts) else "drifted",
            "drifts": [
                {
                    "metric": d.name,
                    "submitted": d.recorded,
                    "rescored": d.reproduced,
                    "drift": d.drift,
                    "unit": d.unit,
                    "tolerance": d.limit,
                    "ok": d.ok(),
                }
                for d in drifts
            ],
            "not_rescored": missing,
        }
        updated = new.model_validate(
            {**new.model_dump(), "result_id": f"{submitted.result_id}-rescore", "rescore": block}
        )
        write_result(new_path, updated)
        sign_result_file(new_path, key)
        outcomes.append(RescoreOutcome(path, Path(new_path), tolerance, drifts, missing))
    return outcomes


@dataclasses.dataclass(frozen=True)
class _WithRoot:
    """A validated submission plus the directory it lives in (its protocol / recipe files are there)."""

    sub: Any
    root: Path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sub, name)


def _public_key_of(private_key: Path) -> str:
    """base64 public key of an Ed25519 private key file (the re-scorer's identity)."""
    from luab_bench.results.signing import load_private_key, public_key_b64

    return public_key_b64(load_private_key(private_key))
