"""Human visual-selectivity maps (one import for the pieces; each lives in its own module).

* :mod:`.human_types` – :class:`DensityKernel`, :class:`HumanMaps` (maps per measure, fixation
  events for NSS, the per-measure resamplers of the human-data bootstrap), :func:`density_map`.
* :mod:`.human_byproducts` – maps from annotation byproducts: ImageNet-AB clicks + mouse tracks,
  COCO-AB final icon positions + tracks per (image, class) unit, simulated annotators for the
  embedded evaluation splits, and the annotator resampling of both (SI §D.2 error bars).
* :mod:`.human_folder` – maps measured elsewhere, from a folder (``measures.json`` + one PNG/NPY per
  image and measure, optionally ``<key>.points.json`` per-annotator points for the bootstrap).
* :mod:`.human_pc` – the Human PC (SI §D.1) and its loadings.

docs/alignment.md ("Human maps") has the definitions and how they relate to the paper's KDE maps.
"""

from __future__ import annotations

from luab_bench.alignment.human_byproducts import (
    bootstrap_byproduct_maps,
    bootstrap_coco_maps,
    byproduct_density_maps,
    coco_density_maps,
    coco_unit_id,
    imagenet_annotator_histograms,
    resample_histograms,
    simulate_coco_records,
    simulate_records,
)
from luab_bench.alignment.human_folder import (
    MAP_SUFFIXES,
    MEASURES_FILE,
    POINTS_SUFFIX,
    id_to_key,
    load_map_folder,
    read_map_file,
    read_points_file,
    resize_map,
)
from luab_bench.alignment.human_pc import (
    FIXATION_WEIGHT,
    PC_CONVENTIONS,
    HumanPC,
    human_pc,
    human_pc_fit,
    pc_combine,
    zscore_maps,
)
from luab_bench.alignment.human_types import (
    DensityKernel,
    HumanMaps,
    Resampler,
    density_map,
    event_map,
    normalize_density,
    point_histogram,
)

__all__ = [
    "FIXATION_WEIGHT",
    "MAP_SUFFIXES",
    "MEASURES_FILE",
    "PC_CONVENTIONS",
    "POINTS_SUFFIX",
    "DensityKernel",
    "HumanMaps",
    "HumanPC",
    "Resampler",
    "bootstrap_byproduct_maps",
    "bootstrap_coco_maps",
    "byproduct_density_maps",
    "coco_density_maps",
    "coco_unit_id",
    "density_map",
    "event_map",
    "human_pc",
    "human_pc_fit",
    "id_to_key",
    "imagenet_annotator_histograms",
    "load_map_folder",
    "normalize_density",
    "pc_combine",
    "point_histogram",
    "read_map_file",
    "read_points_file",
    "resample_histograms",
    "resize_map",
    "simulate_coco_records",
    "simulate_records",
    "zscore_maps",
]
