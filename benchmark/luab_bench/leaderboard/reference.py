"""The paper's reported numbers ("reported, not reproduced"), one YAML file per table.

``leaderboard/reference/<table>.yaml``::

    table: "Table 1"                      # the paper's table
    source: "https://arxiv.org/abs/2303.17595v3"  # where the numbers were read (citable)
    status: confirmed | unconfirmed       # unconfirmed files must hold no rows
    note: "..."
    rows:
      - {label: "ResNet50 LUAB", model: resnet50, protocol: luab, suite: imagenet,
         metrics: {in1k_top1: 76.5, ...}}  # values exactly as printed in the paper

A number enters only with its table and source; a file whose table could not be read is kept with
``status: unconfirmed`` and no rows (the schema refuses rows there), so the site says so instead of
showing guesses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StrictStr, model_validator

from luab_bench.config import StrictModel, load_config
from luab_bench.errors import ConfigError

FiniteFloat = Annotated[float, Field(strict=False, allow_inf_nan=False)]


class ReferenceRow(StrictModel):
    """One reported row: a backbone under a protocol, with the printed numbers."""

    label: StrictStr = Field(description="row label as printed in the paper")
    model: StrictStr = Field(description="timm name of the backbone (matches reproduced results)")
    protocol: StrictStr = Field(description="baseline, rand or luab")
    suite: StrictStr = Field(description="suite the numbers belong to (matches reproduced results)")
    metrics: dict[str, FiniteFloat]


class ReferenceTable(StrictModel):
    """One reference file."""

    table: StrictStr
    source: StrictStr = Field(description="URL (with version) where the numbers were read")
    status: Literal["confirmed", "unconfirmed"]
    note: StrictStr = ""
    rows: list[ReferenceRow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unconfirmed_is_empty(self) -> ReferenceTable:
        if self.status == "unconfirmed" and self.rows:
            raise ValueError("an unconfirmed table must have no rows; confirm the numbers or remove them")
        return self


def load_references(directory: str | Path | None) -> list[ReferenceTable]:
    """Every ``*.yaml`` in ``directory`` (sorted); ``None`` or a missing directory gives ``[]``."""
    if directory is None:
        return []
    directory = Path(directory)
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise ConfigError(f"{directory}: reference path is not a directory")
    return [load_config(ReferenceTable, p) for p in sorted(directory.glob("*.yaml"))]
