"""The LUAB paper's reported numbers (Han et al., ICCV 2023, Tables 1–7): typed reference sets.

One YAML file per table in ``leaderboard/reference/`` (``table<N>.yaml``), validated by
:class:`ReferenceTable` (unknown keys are errors). Each table is its own reference set: rows of two
tables are never merged or averaged, even where they name the same backbone and protocol (Table 2's
ViT baselines are another training setup than Table 1's: ViT-S 74.1 vs 80.3 IN-1K).

A file holds

- ``columns``: every column as printed (name, the printed ↑/↓, unit) and the metric id of this
  suite it is compared with, or an explicit ``metric: null`` with ``reported_only`` saying why no
  metric of ours is mapped (e.g. Table 1's "Coccr", which the text never defines);
- ``models``: each printed backbone name -> its timm architecture and why that one;
- ``protocols``: the paper's protocol (baseline = "-" / the bare backbone row, ``rand``, ``luab``) ->
  this suite's protocol id for the table's ``suite``;
- ``rows``: one per printed row (or printed column, for Tables 6 and 7, which put the models in
  columns), with its position, the cells that name it as printed, and one value per column.

:func:`compare` puts reproduced (verified) seed means beside each reported row, with
Δ = reproduced − reported wherever suite, timm model, protocol and metric match;
:func:`paper_deltas` gives the paper's own LUAB − baseline and LUAB − Rand differences within one
table, next to the reproduced difference of the same pair. Both feed ``templates/reference.html.j2``
and ``results.json``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, StrictStr, model_validator

from luab_bench.config import StrictModel, load_config
from luab_bench.errors import ConfigError

FiniteFloat = Annotated[float, Field(strict=False, allow_inf_nan=False)]
PaperProtocol = Literal["baseline", "rand", "luab"]
CONTROLS: tuple[PaperProtocol, ...] = ("baseline", "rand")
CONTROL_LABELS = {"baseline": "baseline", "rand": "Rand"}  # the paper's spelling in Table 2/6/7
REPORTED_MARK = "reported, not reproduced"


class ReferenceModel(StrictModel):
    """A backbone as the paper names it, and the timm architecture it is compared with."""

    timm: StrictStr = Field(description="timm model name (matches reproduced results' model name)")
    why: StrictStr = Field(description="why this architecture: the paper's section / table it rests on")


class ReferenceColumn(StrictModel):
    """One printed column and the metric of this suite it maps to (``metric: null`` = reported only)."""

    name: StrictStr = Field(description="column header as printed, without its arrow")
    arrow: Literal["↑", "↓"] | None = Field(description="printed direction; null where none is printed")
    unit: Literal["%", "M", ""] = Field(
        description="'%' for accuracies / AP, 'M' for Params, '' where the text gives no unit (V^avg, V^min)"
    )
    metric: StrictStr | None = Field(description="this suite's metric id, or null for a reported-only column")
    reported_only: StrictStr = Field("", description="why no metric is mapped (required when metric is null)")
    note: StrictStr = Field("", description="what the text says (or leaves open) about this column")

    @model_validator(mode="after")
    def _mapping_is_explained(self) -> ReferenceColumn:
        if self.metric is None and not self.reported_only:
            raise ValueError(f"column {self.name!r}: metric is null, so say why in reported_only")
        if self.metric is not None and self.reported_only:
            raise ValueError(f"column {self.name!r}: a mapped column cannot be reported_only")
        if self.metric is not None and self.arrow is None:
            raise ValueError(f"column {self.name!r}: a mapped column needs its printed arrow (↑ or ↓)")
        return self

    @property
    def printed(self) -> str:
        """The header as printed: name and arrow."""
        return f"{self.name} {self.arrow}" if self.arrow else self.name

    @property
    def higher_is_better(self) -> bool | None:
        return None if self.arrow is None else self.arrow == "↑"


class ReferenceRow(StrictModel):
    """One printed row (a printed column in transposed tables): a backbone under a protocol."""

    row: StrictInt = Field(ge=1, description="1-based position among the table's data rows (or columns)")
    label: list[StrictStr] = Field(min_length=1, description="the cells naming this row, as printed")
    model: StrictStr = Field(description="backbone as printed; a key of the table's models")
    protocol: PaperProtocol
    values: dict[StrictStr, FiniteFloat] = Field(description="column name -> the printed number")


class ReferenceTable(StrictModel):
    """One table of the paper, transcribed in full."""

    paper: StrictStr
    source: StrictStr = Field(description="citable location of the paper (its arXiv page)")
    table: StrictInt = Field(ge=1, le=7)
    title: StrictStr = Field(description="the table's bold caption title")
    orientation: Literal["rows", "columns"] = Field(
        description="'rows': one printed row per backbone/protocol; 'columns': printed transposed"
    )
    suite: StrictStr = Field(description="the suite whose results these numbers are compared with")
    setup: StrictStr = Field(description="the training setup the text gives for these rows")
    open: list[StrictStr] = Field(default_factory=list, description="what the text leaves open here")
    decimals: StrictInt = Field(1, ge=0, le=4, description="decimals printed (every value has at most these)")
    protocols: dict[PaperProtocol, StrictStr] = Field(
        description="paper protocol -> this suite's protocol id"
    )
    models: dict[StrictStr, ReferenceModel]
    columns: list[ReferenceColumn] = Field(min_length=1)
    rows: list[ReferenceRow] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> ReferenceTable:
        names = [c.name for c in self.columns]
        dupes = sorted(n for n, k in Counter(names).items() if k > 1)
        if dupes:
            raise ValueError(f"duplicate column names {dupes}")
        if [r.row for r in self.rows] != list(range(1, len(self.rows) + 1)):
            raise ValueError("rows must be numbered 1, 2, ... in printed order")
        seen: set[tuple[str, str]] = set()
        for r in self.rows:
            where = f"row {r.row}"
            if r.model not in self.models:
                raise ValueError(f"{where}: model {r.model!r} is not in models {sorted(self.models)}")
            if r.protocol not in self.protocols:
                raise ValueError(f"{where}: protocol {r.protocol!r} has no entry in protocols")
            if (r.model, r.protocol) in seen:
                raise ValueError(f"{where}: a second {r.model} / {r.protocol} row")
            seen.add((r.model, r.protocol))
            missing, extra = sorted(set(names) - set(r.values)), sorted(set(r.values) - set(names))
            if missing or extra:
                raise ValueError(f"{where}: values lack columns {missing} / name unknown columns {extra}")
            scale = 10**self.decimals
            off = [k for k, v in r.values.items() if abs(v * scale - round(v * scale)) > 1e-6]
            if off:
                raise ValueError(f"{where}: {off} have more than {self.decimals} decimals")
        unused = sorted(set(self.models) - {r.model for r in self.rows})
        if unused:
            raise ValueError(f"models {unused} have no row")
        return self

    def column(self, name: str) -> ReferenceColumn:
        return next(c for c in self.columns if c.name == name)

    def cite(self, row: ReferenceRow) -> str:
        """Where a row is printed, e.g. "LUAB Table 1, row 4 (R50 +LUAB)"."""
        kind = "row" if self.orientation == "rows" else "column"
        label = " ".join(x for x in row.label if x != row.model)
        what = f"{row.model} {label}" if label else row.model
        return f"LUAB Table {self.table}, {kind} {row.row} ({what})"

    def row_for(self, model: str, protocol: str) -> ReferenceRow | None:
        return next((r for r in self.rows if r.model == model and r.protocol == protocol), None)


def _check_metrics(table: ReferenceTable, path: Path) -> None:
    """Every mapped metric id must be one the column map knows (catches typos in the files)."""
    from luab_bench.leaderboard.columns import load_column_map

    known = {c.key for c in load_column_map().columns}
    for c in table.columns:
        if c.metric is not None and c.metric not in known:
            raise ConfigError(
                f"{path}: column {c.name!r} maps to metric {c.metric!r}, which no suite reports "
                "(not in luab_bench/leaderboard/static/columns.yaml); fix the id or use metric: null"
            )


def load_references(directory: str | Path | None) -> list[ReferenceTable]:
    """Every ``*.yaml`` in ``directory``, sorted by table number; ``None`` or a missing directory: ``[]``."""
    if directory is None:
        return []
    directory = Path(directory)
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise ConfigError(f"{directory}: reference path is not a directory")
    tables: dict[int, tuple[Path, ReferenceTable]] = {}
    for path in sorted(directory.glob("*.yaml")):
        table = load_config(ReferenceTable, path)
        _check_metrics(table, path)
        if table.table in tables:
            raise ConfigError(
                f"{path}: Table {table.table} is already in {tables[table.table][0].name}; "
                "one file per table (each table is its own reference set)"
            )
        tables[table.table] = (path, table)
    return [tables[k][1] for k in sorted(tables)]


# ------------------------------------------------------------------------------------ comparison
def _verdict(delta: float, higher_is_better: bool | None) -> str:
    if delta == 0 or higher_is_better is None:
        return "same" if delta == 0 else "none"
    return "better" if (delta > 0) == higher_is_better else "worse"


def _index(aggregates: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """(suite, model, protocol) -> its aggregates (one per variant), in variant order."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for a in sorted(aggregates, key=lambda a: a["variant"]):
        out.setdefault((a["suite"], a["model"], a["protocol"]), []).append(a)
    return out


def _columns(table: ReferenceTable) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "printed": c.printed,
            "unit": c.unit,
            "metric": c.metric,
            "higher_is_better": c.higher_is_better,
            "reported_only": c.reported_only,
            "note": c.note,
        }
        for c in table.columns
    ]


def compare(tables: list[ReferenceTable], aggregates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per table: its rows as printed, each with the reproduced seed means that match it.

    A reproduced aggregate (verified results, :func:`luab_bench.leaderboard.aggregate.aggregate`)
    matches a row when its suite is the table's, its model the row's timm name and its protocol
    the table's id for the row's protocol; one match per variant. For every mapped column the
    aggregate reports, the cell holds the reproduced mean, its seed interval and
    Δ = reproduced − reported (the verdict follows the printed arrow).
    """
    index = _index(aggregates)
    out = []
    for t in tables:
        rows = []
        for r in t.rows:
            timm = t.models[r.model].timm
            protocol = t.protocols[r.protocol]
            reproduced = []
            for a in index.get((t.suite, timm, protocol), []):
                cells = {}
                for c in t.columns:
                    m = a["metrics"].get(c.metric) if c.metric else None
                    if m is None:
                        continue
                    d = m["mean"] - r.values[c.name]
                    cells[c.name] = {
                        "metric": c.metric,
                        "reported": r.values[c.name],
                        "reproduced": m["mean"],
                        "half_width": m["half_width"],
                        "k": m["k"],
                        "delta": d,
                        "verdict": _verdict(d, c.higher_is_better),
                    }
                if cells:
                    reproduced.append({"variant": a["variant"], "seeds": a["seeds"], "cells": cells})
            rows.append(
                {
                    "row": r.row,
                    "cite": t.cite(r),
                    "label": r.label,
                    "model": r.model,
                    "timm": timm,
                    "protocol": r.protocol,
                    "protocol_id": protocol,
                    "values": dict(r.values),
                    "reproduced": reproduced,
                }
            )
        out.append(
            {
                "table": t.table,
                "name": f"LUAB Table {t.table}",
                "title": t.title,
                "paper": t.paper,
                "source": t.source,
                "orientation": t.orientation,
                "suite": t.suite,
                "setup": t.setup,
                "open": list(t.open),
                "decimals": t.decimals,
                "models": {k: v.model_dump() for k, v in t.models.items()},
                "columns": _columns(t),
                "rows": rows,
            }
        )
    return out


def paper_deltas(tables: list[ReferenceTable], aggregates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's LUAB − baseline and LUAB − Rand per table and backbone, beside the reproduced one.

    Paper Δ = the two printed numbers of one table subtracted, rounded to the printed decimals
    (never across tables). Reproduced Δ = LUAB seed mean − control seed mean of the same suite,
    variant and timm model (verified results), per variant where both groups report the metric.
    One entry per (table, backbone, control), with one item per printed result column.
    """
    index = _index(aggregates)
    out = []
    for t in tables:
        for model, entry in t.models.items():
            luab = t.row_for(model, "luab")
            if luab is None:
                continue
            treated = {a["variant"]: a for a in index.get((t.suite, entry.timm, t.protocols["luab"]), [])}
            for control in CONTROLS:
                other = t.row_for(model, control)
                if other is None:
                    continue
                ctrl = {a["variant"]: a for a in index.get((t.suite, entry.timm, t.protocols[control]), [])}
                columns = []
                for c in t.columns:
                    if c.arrow is None:  # Params: not a result
                        continue
                    d = round(luab.values[c.name] - other.values[c.name], t.decimals)
                    reproduced = []
                    for variant in sorted(set(treated) & set(ctrl)):
                        a = treated[variant]["metrics"].get(c.metric) if c.metric else None
                        b = ctrl[variant]["metrics"].get(c.metric) if c.metric else None
                        if a is None or b is None:
                            continue
                        rd = a["mean"] - b["mean"]
                        reproduced.append(
                            {
                                "variant": variant,
                                "delta": rd,
                                "verdict": _verdict(rd, c.higher_is_better),
                                "k": [a["k"], b["k"]],
                                "minus_paper": rd - d,
                            }
                        )
                    columns.append(
                        {
                            "name": c.name,
                            "printed": c.printed,
                            "unit": c.unit,
                            "metric": c.metric,
                            "reported_only": c.reported_only,
                            "delta": d,
                            "delta_printed": f"{d:+.{t.decimals}f}",
                            "verdict": _verdict(d, c.higher_is_better),
                            "reproduced": reproduced,
                        }
                    )
                out.append(
                    {
                        "table": t.table,
                        "model": model,
                        "timm": entry.timm,
                        "suite": t.suite,
                        "protocol_id": t.protocols["luab"],
                        "comparison": f"LUAB − {CONTROL_LABELS[control]}",
                        "control": control,
                        "cite": f"LUAB Table {t.table}, {_where(t, luab)} − {_where(t, other)}",
                        "columns": columns,
                    }
                )
    return out


def _where(t: ReferenceTable, row: ReferenceRow) -> str:
    return t.cite(row).split(", ", 1)[1]


def site_reference(tables: list[ReferenceTable], aggregates: list[dict[str, Any]]) -> dict[str, Any]:
    """What the site and ``results.json`` show of the paper: tables with matches, and the paper's Δ."""
    return {
        "mark": REPORTED_MARK,
        "tables": compare(tables, aggregates),
        "deltas": paper_deltas(tables, aggregates),
    }
