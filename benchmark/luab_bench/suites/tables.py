"""The paper's Table 1 (ImageNet) / Table 6 (COCO) layouts as data: metric key -> column header.

``render_table(rows, layout)`` builds a rich Table with one row per (model, protocol) and one column
per metric in the layout; metrics a row lacks show as "-". Only metrics that exist are laid out here
(V^avg / V^min are not implemented; see docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TABLE1_IMAGENET: dict[str, str] = {
    "in1k_val_top1": "IN-1k",
    "real_top1": "ReaL",
    "v2_top1": "V2",
    "a_top1": "A",
    "c_top1": "C",
    "c_mce": "C mCE↓",
    "o_aupr": "O AUPR",
    "r_top1": "R",
    "sketch_top1": "Sketch",
    "objectnet_top1": "ObjectNet",
    "si_size_top1": "SI-size",
    "si_loc_top1": "SI-loc",
    "si_rot_top1": "SI-rot",
    "in9_mixed_rand_top1": "BG mixed_rand",
    "in9_bg_gap": "BG-gap↓",
    "in9_bgc_acc": "BGC-acc",
}
#: The synthetic suite's stand-ins for the Table-1 columns, in paper order (no synthetic analogue:
#: V2, ReaL, A, R, Sketch, ObjectNet). ``*``: mCE is unnormalised here (no AlexNet reference).
TABLE1_SYNTHETIC: dict[str, str] = {
    "val_top1": "IN-1K",
    "c_top1": "IN-C",
    "c_mce": "IN-C mCE*↓",
    "o_aupr": "IN-O AUPR",
    "si_size_top1": "SI-size",
    "si_loc_top1": "SI-loc",
    "si_rot_top1": "SI-rot",
    "bg_gap": "BG-gap↓",
    "bgc_acc": "BGC-acc",
    "only_fg_top1": "Only-FG",
    "mixed_rand_top1": "Mixed-rand",
    "point_loc_acc": "Point-loc",
}
TABLE6_COCO: dict[str, str] = {"coco_map": "mAP"}
TABLE6_SYNTHETIC_COCO: dict[str, str] = {
    "synthetic_coco_map": "mAP",
    "synthetic_coco_point_loc_acc": "point-loc",
}
LAYOUTS: dict[str, dict[str, str]] = {
    "synthetic": TABLE1_SYNTHETIC,
    "imagenet": TABLE1_IMAGENET,
    "coco": TABLE6_COCO,
    "synthetic-coco": TABLE6_SYNTHETIC_COCO,
}


def render_table(
    rows: Sequence[tuple[str, Mapping[str, Mapping[str, Any]]]], layout: Mapping[str, str], title: str = ""
) -> Any:
    """A rich Table: ``rows`` = [(row label, {metric key: metric dict})]; values with 95% CI."""
    from rich.table import Table

    table = Table(title=title or None)
    table.add_column("model / protocol")
    for header in layout.values():
        table.add_column(header, justify="right")
    for label, metrics in rows:
        cells = []
        for key in layout:
            m = metrics.get(key)
            if m is None:
                cells.append("-")
            elif m.get("ci_low") is not None:
                cells.append(f"{m['value']:.1f} [{m['ci_low']:.1f}, {m['ci_high']:.1f}]")
            else:
                cells.append(f"{m['value']:.1f}")
        table.add_row(label, *cells)
    return table
