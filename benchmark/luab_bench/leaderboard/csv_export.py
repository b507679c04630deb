"""``results.csv``: one line per result, with spreadsheet formulas in submitted strings neutralised."""

from __future__ import annotations

import csv
import io
from typing import Any

from luab_bench.leaderboard.rows import BuildReport, metric_columns

#: What a spreadsheet reads as the start of a formula (after NFKC, so fullwidth ＝ ＋ － ＠ and
#: their small/superscript variants count too; OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@")


def _csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in submitted strings (CSV injection) with a leading ``'``.

    A string is neutralised when it starts with a tab, CR or LF, or when its first character after
    any leading whitespace and control/format characters (spaces, ``\\r``, zero-width space, BOM)
    is, after NFKC normalisation, one of ``= + - @`` (``" =1+1"``, ``"\\r=1+1"``, ``"＝1+1"``).
    Line breaks inside a value are kept; :func:`results_csv` quotes such fields (CRLF records).
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "\t\r\n":
        return "'" + value
    import unicodedata

    for ch in value:
        if ch.isspace() or unicodedata.category(ch)[0] == "C":
            continue
        if unicodedata.normalize("NFKC", ch)[:1] in _FORMULA_STARTS:
            return "'" + value
        break
    return value


def results_csv(report: BuildReport) -> str:
    """One line per result: identity, signature status, and value / ci_low / ci_high / n per metric."""
    columns = [c["name"] for c in metric_columns(report.rows)]
    buf = io.StringIO()
    # RFC 4180 records end in CRLF; Python's writer quotes a field holding a character of the line
    # terminator, so with "\r\n" every field with a CR or LF is quoted (with "\n" a lone CR was not)
    w = csv.writer(buf, lineterminator="\r\n")
    head = ["file", "result_id", "model", "protocol", "suite", "variant", "seed", "signature"]
    w.writerow(head + [f"{c}{s}" for c in columns for s in ("", "_ci_low", "_ci_high", "_n")])
    for r in report.rows:
        line = [
            r["file"],
            r["result_id"],
            r["model"]["name"],
            r["protocol"]["name"],
            r["suite"]["name"],
            r["suite"]["variant"],
            r["seed"],
            r["signature"]["status"],
        ]
        for c in columns:
            m = r["metrics"].get(c)
            line += [m["value"], m["ci_low"], m["ci_high"], m["n"]] if m else ["", "", "", ""]
        w.writerow([_csv_cell(v) for v in line])
    return buf.getvalue()
