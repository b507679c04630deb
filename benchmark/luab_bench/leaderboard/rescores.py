"""Re-score badges: mark each submitted result *self-reported*, *re-scored ✓* or *re-score drifted*.

A re-scored result (``rescore`` block, written by ``luab-bench submission evaluate``) counts for the
result it names (``rescore.of_result_id``) when its signature verifies (against ``rescore_keys`` when
given: the maintainers' keys) and it is not signed by the submitter's own key (a re-score must be
independent). Re-scored results are not rows of their own (they would count the same model twice
in the means over seeds); each submitted row gets ``row["rescore"]``:

``{"status": "self-reported"}``, or ``{"status": "rescored", "key": <fingerprint>, "file": ...,
"n": <metrics compared>, "not_rescored": [...]}``, or the same with ``"status": "drifted"`` and
``"drifts": [{"metric", "submitted", "rescored", "drift", "unit"}]`` for the metrics beyond tolerance.
When several re-scores exist, a drifted one wins over an agreeing one (a disagreement is news).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError

SELF_REPORTED = "self-reported"


def _rescore_docs(results_dir: Path, rescore_keys: Collection[str | Path] | None) -> list[dict[str, Any]]:
    """Verified re-score blocks in ``results_dir`` as ``{"file", "key", "block"}``."""
    from luab_bench.results.schema import read_json_document, validate_result
    from luab_bench.results.signing import verify_document

    out = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            if b'"rescore"' not in path.read_bytes():
                continue
            doc = read_json_document(path)
            result = validate_result(doc, str(path))
        except (LuabError, OSError):
            continue  # listed as invalid by collect_rows
        if result.rescore is None:
            continue
        verdict = verify_document(doc, rescore_keys, source=str(path))
        if not verdict.ok or result.signature is None:
            continue
        if result.signature.public_key == result.rescore.submitted_key:
            continue  # a submitter re-scoring their own result is not a re-score
        out.append({"file": path.name, "key": verdict.fingerprint, "block": result.rescore})
    return out


def attach_rescores(
    report: Any, results_dir: str | Path, *, rescore_keys: Collection[str | Path] | None = None
) -> None:
    """Give every row of ``report`` its ``rescore`` badge; drop re-score rows from the table."""
    rescores = _rescore_docs(Path(results_dir), rescore_keys)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in rescores:
        by_id.setdefault(r["block"].of_result_id, []).append(r)
    rescore_files = {
        name for name, result in report.results.items() if getattr(result, "rescore", None) is not None
    }
    report.rows = [row for row in report.rows if row["file"] not in rescore_files]
    for row in report.rows:
        found = by_id.get(row["result_id"], [])
        submitted_key = (
            (report.results[row["file"]].signature or None) if row["file"] in report.results else None
        )
        found = [
            r for r in found if submitted_key is None or r["block"].submitted_key == submitted_key.public_key
        ]
        if not found:
            row["rescore"] = {"status": SELF_REPORTED}
            continue
        found.sort(key=lambda r: (r["block"].status != "drifted", r["file"]))
        best = found[0]
        block = best["block"]
        badge: dict[str, Any] = {
            "status": "rescored" if block.status == "ok" else "drifted",
            "key": best["key"],
            "file": best["file"],
            "n": len(block.drifts),
            "tolerance": block.tolerance,
            "not_rescored": list(block.not_rescored),
        }
        if block.status != "ok":
            badge["drifts"] = [
                {"metric": d.metric, "submitted": d.submitted, "rescored": d.rescored, "drift": d.drift,
                 "unit": d.unit}
                for d in block.drifts
                if not d.ok
            ]  # fmt: skip
        row["rescore"] = badge


def badge_title(badge: dict[str, Any]) -> str:
    """Hover text of a badge: who re-scored, how many metrics, each drift beyond tolerance."""
    status = badge["status"]
    if status == SELF_REPORTED:
        return "self-reported: nobody has re-scored these weights yet (luab-bench submission evaluate)"
    text = f"re-scored by key {badge['key']} on {badge['n']} metrics (tolerance ±{badge['tolerance']:g})"
    if status == "drifted":
        parts = [
            f"{d['metric']} {d['submitted']:.4g} → "
            + ("missing" if d["rescored"] is None else f"{d['rescored']:.4g} ({d['drift']:+.4g})")
            for d in badge.get("drifts", [])
        ]
        text += "; drifted: " + "; ".join(parts)
    if badge.get("not_rescored"):
        text += f"; not re-scored: {', '.join(badge['not_rescored'])}"
    return text
