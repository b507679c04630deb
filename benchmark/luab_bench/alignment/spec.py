"""One alignment request as data (:class:`AlignSpec`), built once at the edge (the CLI, ``pipeline``)
and passed down whole to :func:`~luab_bench.alignment.report.align_result`. Light: no numpy / torch
import, so the CLI can build it before any heavy import."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luab_bench.alignment.choices import (
    CONVENTIONS,
    DEFAULT_CONVENTIONS,
    DEFAULT_LIMIT,
    DEFAULT_METHODS,
    DEFAULT_TARGET,
    TARGETS,
)
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    from luab_bench.alignment.align_config import AlignConfig
    from luab_bench.alignment.sets import AlignmentSet

N_BOOT = 100  # = correlate.N_BOOT (SI §D.2: 100 resamples); a test keeps them equal


@dataclass(frozen=True)
class AlignSpec:
    """What to align with and how (defaults: the paper's protocol on the embedded byproduct maps).

    ``methods``: saliency method names; ``variant``: the embedded data (None: the checkpoint's);
    ``maps``: ``"byproducts"`` or a human-map folder; ``measure``: None = ``clicks`` / ``human_pc``;
    ``limit``: evenly spaced images; ``skip_inapplicable``: skip a method that does not apply to the
    model (with its reason) instead of raising.
    """

    methods: tuple[str, ...] = DEFAULT_METHODS
    limit: int = DEFAULT_LIMIT
    seed: int = 0
    split: str = "val"
    variant: str | None = None
    maps: str | Path = "byproducts"
    measure: str | None = None
    annotators: int = 5
    kernel_sigma: float = 3.0
    n_boot: int = N_BOOT
    split_half: bool = False
    run_masking: bool = True
    skip_inapplicable: bool = True
    target: str = DEFAULT_TARGET
    conventions: str = DEFAULT_CONVENTIONS
    all_measures: bool = False

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise LuabError(f"unknown target {self.target!r}; use one of {', '.join(TARGETS)}")
        if self.conventions not in CONVENTIONS:
            raise LuabError(f"unknown conventions {self.conventions!r}; use one of {', '.join(CONVENTIONS)}")
        if isinstance(self.methods, str):
            raise LuabError("AlignSpec.methods is a tuple of names; split a comma list first")

    @classmethod
    def from_fields(cls, **values: Any) -> AlignSpec:
        """An AlignSpec from keyword values; an unknown name is a LuabError listing the fields."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise LuabError(
                f"unknown alignment option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        if "methods" in values:
            values["methods"] = tuple(values["methods"])
        return cls(**values)

    def measure_name(self) -> str:
        """The human measure compared: the named one, byproduct clicks, or a folder's Human PC."""
        return self.measure or ("clicks" if self.maps == "byproducts" else "human_pc")

    def load_set(self, variant: str, data_dir: Path, *, progress: bool = False) -> AlignmentSet:
        """The images and human maps of ``variant`` this spec asks for (conventions applied to the PC)."""
        from luab_bench.alignment.sets import load_alignment_set

        aset = load_alignment_set(
            variant,
            Path(data_dir),
            split=self.split,
            limit=self.limit,
            maps=self.maps,
            annotators=self.annotators,
            kernel_sigma=self.kernel_sigma,
            seed=self.seed,
            progress=progress,
        )
        if self.conventions != DEFAULT_CONVENTIONS:
            aset.human.pc_convention = self.conventions
        return aset

    def config(self, data_label: str, methods: tuple[str, ...] | None = None) -> AlignConfig:
        """The :class:`~luab_bench.alignment.align_config.AlignConfig` of this spec on one data set."""
        from luab_bench.alignment.align_config import AlignConfig, convention_fields

        return AlignConfig(
            methods=tuple(methods or self.methods),
            measure=self.measure_name(),
            n_boot=self.n_boot,
            split_half=self.split_half,
            masking=self.run_masking,
            seed=self.seed,
            data_label=data_label,
            skip_inapplicable=self.skip_inapplicable,
            target=self.target,
            all_measures=self.all_measures,
            **convention_fields(self.conventions),
        )
