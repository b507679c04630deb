"""The leaderboard's rows: every result file loaded, verified and formatted once per build.

:func:`collect_rows` reads every ``*.json`` of a results directory into a :class:`BuildReport`: a row
per valid result (with its signature verdict and the submission it is bound to), an entry in
``invalid`` per broken file (never skipped silently), replays marked ``duplicate_of``;
:func:`counted` says which rows enter means and Δ; :func:`format_metric` / :func:`row_cells` are the
display strings of a metric cell; :func:`metric_columns` the columns present, in the column map's
order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.leaderboard.columns import order_columns
from luab_bench.results.replays import find_replays
from luab_bench.results.schema import Metric, Result, read_json_document, validate_result
from luab_bench.results.signing import verify_document
from luab_bench.results.trust import TrustSet, as_trust_set
from luab_bench.safe_json import display_name, has_surrogate

DETAIL_DIR = "r"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class BuildReport:
    """What :func:`build_site` did: rows shown, invalid files, signature verdict counts, outputs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"verified": 0, "self-signed": 0, "failed": 0, "unsigned": 0}
    )
    excluded: int = 0
    #: replays (:mod:`luab_bench.results.replays`): shown, marked, never counted in a statistic
    duplicates: list[dict[str, str]] = field(default_factory=list)
    #: what a "verified" row was checked against, for the page and results.json
    trust: str = ""
    results: dict[str, Result] = field(default_factory=dict, repr=False)
    cells: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    pages_written: int = 0  # detail pages created or replaced (unchanged ones are left alone)
    stale_removed: list[str] = field(default_factory=list)  # temp files of killed builds, removed
    index_path: Path | None = None
    json_path: Path | None = None

    @property
    def n_results(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        """One line for the CLI."""
        c = self.counts
        excluded = f", {self.excluded} unverified left out" if self.excluded else ""
        dups = f", {len(self.duplicates)} duplicates not counted" if self.duplicates else ""
        return (
            f"{self.n_results} results ({c['verified']} verified, {c['self-signed']} self-signed, "
            f"{c['failed']} failing, {c['unsigned']} unsigned{excluded}{dups}), "
            f"{len(self.invalid)} invalid files -> {self.index_path}"
        )


def counted(row: dict[str, Any]) -> bool:
    """Whether a row enters means, Δ and Δ to the paper: a valid signature and not a replay.

    With trust anchors a valid signature is "verified" or failing; "self-signed" rows exist only in a
    build without anchors (a personal site), whose page says so.
    """
    return row["signature"]["status"] in ("verified", "self-signed") and row.get("duplicate_of") is None


def _trust_text(trust: TrustSet | None) -> str:
    if trust is None:
        return (
            "no trusted submissions or keys given: signatures are checked for consistency only "
            "(self-signed; the signer is not checked)"
        )
    n_sub, n_keys = trust.n_submissions, len(trust.entries) - trust.n_submissions
    parts = [f"{n_sub} submission{'' if n_sub == 1 else 's'}"] if n_sub else []
    parts += [f"{n_keys} bare trusted key{'' if n_keys == 1 else 's'}"] if n_keys else []
    return "verified against " + (" and ".join(parts) or "no anchors (nothing can verify)")


def fmt(x: float, unit: str) -> str:
    """A metric value as shown: 2 decimals for %, else 4 significant digits."""
    return f"{x:.2f}" if unit == "%" else f"{x:.4g}"


def signed(x: float, unit: str) -> str:
    """:func:`fmt` with an explicit sign (a Δ)."""
    text = fmt(x, unit)
    return text if text.startswith("-") else "+" + text


def format_metric(m: Metric | dict[str, Any]) -> dict[str, Any]:
    """Display strings for one metric cell: value, ±interval, hover text with n and the interval.

    Accepts a :class:`Metric` or its JSON dict (rows hold dicts already validated on load).
    """
    d = m.model_dump() if isinstance(m, Metric) else m
    value, unit, lo, hi = d["value"], d["unit"], d.get("ci_low"), d.get("ci_high")
    interval = ""
    title = f"n={d['n']}"
    if lo is not None and hi is not None:
        up, down = fmt(hi - value, unit), fmt(value - lo, unit)
        interval = f"±{up}" if up == down else f"+{up}/−{down}"
        title += f", 95% CI [{fmt(lo, unit)}, {fmt(hi, unit)}]"
    if d.get("task"):
        title += f"; {d['task']}"
    return {"value": fmt(value, unit), "interval": interval, "title": title, "sort": repr(value)}


def detail_name(file_name: str) -> str:
    """Stable, filesystem- and URL-safe detail page name for a result file name."""
    stem = _UNSAFE.sub("-", file_name.removesuffix(".json")).strip("-.")[:80] or "result"
    return f"{stem}-{hashlib.sha256(file_name.encode('utf-8')).hexdigest()[:8]}.html"


def _row(path: Path, result: Result, verdict: Any) -> dict[str, Any]:
    row = {
        "file": path.name,
        "detail": f"{DETAIL_DIR}/{detail_name(path.name)}",
        "result_id": result.result_id,
        "created_at": result.created_at,
        "model": result.model.model_dump(mode="json"),
        "protocol": result.protocol.model_dump(mode="json"),
        "suite": result.suite.model_dump(mode="json"),
        "seed": result.seed,
        "metrics": {k: v.model_dump(mode="json") for k, v in result.metrics.items()},
        "signature": {"status": verdict.status, "reason": verdict.reason, "fingerprint": verdict.fingerprint},
        # the submission a verified result is bound to, with its team (from submission.yaml)
        "submission": (
            {"id": verdict.submission_id, "team": verdict.team} if verdict.submission_id is not None else None
        ),
        "submission_id": result.submission_id,  # what the result itself names (schema 1.2), checked or not
        "duplicate_of": None,
    }
    if result.alignment is not None:  # r-vs-sigma curves, for results.json (absent in 1.0 files)
        row["alignment"] = result.alignment.model_dump(mode="json")
    return row


def collect_rows(
    results_dir: str | Path,
    *,
    trusted_keys: TrustSet | Collection[str | Path] | None = None,
    include_unverified: bool = True,
) -> BuildReport:
    """Load and verify every ``*.json`` in ``results_dir`` (sorted by name) into a report.

    Replays (same ``result_id``, or same model/protocol/suite/seed) are marked ``duplicate_of`` the
    kept row and listed in ``report.duplicates``.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise LuabError(
            f"{results_dir}: results directory not found; create it and put result JSON files "
            "(from `luab-bench run` / `luab-bench evaluate`) in it, or pass the right directory"
        )
    trusted = as_trust_set(trusted_keys)
    report = BuildReport(trust=_trust_text(trusted))
    for path in sorted(results_dir.glob("*.json")):
        if has_surrogate(path.name):  # not UTF-8: it could not be written into a page or results.json
            reason = "file name is not valid UTF-8; rename the file"
            report.invalid.append({"file": display_name(path.name), "reason": reason})
            continue
        if not path.is_file():
            report.invalid.append({"file": path.name, "reason": "not a regular file"})
            continue
        try:
            doc = read_json_document(path)  # read once: the same bytes are validated and verified
            result = validate_result(doc, str(path))
        except LuabError as err:
            reason = str(err).replace(f"{path}: ", "")  # the file is named in its own column
            report.invalid.append({"file": path.name, "reason": reason})
            continue
        verdict = verify_document(doc, trusted, source=str(path))
        report.counts[verdict.status] += 1
        if verdict.status != "verified" and not include_unverified:
            report.excluded += 1
            continue
        report.rows.append(_row(path, result, verdict))
        report.results[path.name] = result
    replays = find_replays(report.rows)
    by_file = {r["file"]: r for r in report.rows}
    for d in replays:
        by_file[d.file]["duplicate_of"] = d.duplicate_of
        report.duplicates.append(d.as_dict())
    report.rows.sort(
        key=lambda r: (
            r["suite"]["name"],
            r["suite"]["variant"],
            r["model"]["name"],
            r["protocol"]["name"],
            r["seed"],
            r["file"],
        )
    )
    return report


def metric_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Metric columns present in any row: the column map's order first, then unmapped by name.

    Each has ``name``, ``label``, ``group`` and the unit/direction/task of its first occurrence.
    """
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        for name, m in row["metrics"].items():
            found.setdefault(
                name, {"unit": m["unit"], "higher_is_better": m["higher_is_better"], "task": m["task"]}
            )
    return order_columns(found)


def row_cells(report: BuildReport, row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """:func:`format_metric` of every metric of ``row``, computed once per build (index + detail)."""
    cells = report.cells.get(row["file"])
    if cells is None:
        cells = report.cells[row["file"]] = {k: format_metric(m) for k, m in row["metrics"].items()}
    return cells
