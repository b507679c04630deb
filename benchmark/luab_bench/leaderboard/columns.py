"""The column map: metric key -> column label, group and order, kept in one data file.

``static/columns.yaml`` lists the columns the paper's tables use, in the paper's order. A metric that
the map does not know is still shown, after the mapped ones, under its own key (sorted by name), so a
new suite never needs a code change to appear on the site, only a line in the data file to look nice.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

from pydantic import Field, StrictStr

from luab_bench.config import StrictModel, validate


class ColumnSpec(StrictModel):
    """One mapped metric column."""

    key: StrictStr = Field(description="metric name as written in result files")
    label: StrictStr = Field(description="column header (the paper's wording where it has one)")
    group: StrictStr = Field("", description="header group, e.g. the suite or the table")
    note: StrictStr = ""
    tolerance: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="largest |drift| of a re-score that counts as agreement, in the metric's unit "
        "(default: the suite's tolerance for that unit, luab_bench.rescore.metric_tolerance)",
    )


class ColumnMap(StrictModel):
    """The whole ``columns.yaml``: columns in display order, and each suite's paper-table layout."""

    columns: list[ColumnSpec]
    layouts: dict[StrictStr, list[StrictStr | dict[StrictStr, StrictStr]]] = Field(
        default_factory=dict,
        description="suite -> its paper-table columns: a metric key, or {key: label} to relabel it there",
    )


@lru_cache(maxsize=1)
def load_column_map() -> ColumnMap:
    """The packaged column map (validated; duplicate keys are an error)."""
    import yaml

    source = files("luab_bench.leaderboard") / "static" / "columns.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    cmap = validate(ColumnMap, data, "luab_bench/leaderboard/static/columns.yaml")
    keys = [c.key for c in cmap.columns]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"columns.yaml: duplicate metric keys {dupes}")
    unknown = sorted({k for ks in cmap.layouts.values() for e in ks for k in _entry_keys(e)} - set(keys))
    if unknown:
        raise ValueError(f"columns.yaml: layouts name metrics without a column entry: {unknown}")
    return cmap


def order_columns(found: dict[str, dict[str, Any]], cmap: ColumnMap | None = None) -> list[dict[str, Any]]:
    """Mapped columns that occur (map order) then unmapped ones (by name), each with label/group.

    ``found`` maps metric key -> ``{"unit", "higher_is_better", "task"}`` of its first occurrence.
    """
    cmap = cmap or load_column_map()
    out = []
    mapped = set()
    for spec in cmap.columns:
        if spec.key in found:
            mapped.add(spec.key)
            out.append({"name": spec.key, "label": spec.label, "group": spec.group, **found[spec.key]})
    for key in sorted(set(found) - mapped):
        out.append({"name": key, "label": key, "group": "", **found[key]})
    return out


def column_tolerance(key: str, cmap: ColumnMap | None = None) -> float | None:
    """The column map's re-score tolerance of metric ``key`` (None: not mapped or not set)."""
    cmap = cmap or load_column_map()
    return next((c.tolerance for c in cmap.columns if c.key == key), None)


def _entry_keys(entry: str | dict[str, str]) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry)


def suite_layout(suite: str, cmap: ColumnMap | None = None) -> dict[str, str]:
    """``{metric key: label}`` of ``suite``'s paper-table columns, in table order (may be empty)."""
    cmap = cmap or load_column_map()
    labels = {c.key: c.label for c in cmap.columns}
    out: dict[str, str] = {}
    for entry in cmap.layouts.get(suite, []):
        if isinstance(entry, str):
            out[entry] = labels[entry]
        else:
            out.update(entry)
    return out
