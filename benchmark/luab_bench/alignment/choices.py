"""The alignment choices the CLI offers, in one light module (no numpy / torch import), so that
``luab-bench align --help`` stays instant and the CLI and the alignment code cannot disagree.

* :data:`TARGETS` – the class the maps explain: ``top`` (the model's top prediction, Langlois et al.
  SI §A.2; default) or ``true`` (the label).
* :data:`CONVENTIONS` – named convention sets (saliency, blur, Human PC, masking): ``langlois2021``
  (the paper's code; default) and ``luab-v1`` (luab-bench's earlier choices). The saliency presets
  (:data:`luab_bench.alignment.saliency.PRESETS`) are keyed by these names (a test checks it).
"""

from __future__ import annotations

TARGETS: tuple[str, ...] = ("top", "true")
DEFAULT_TARGET = "top"
CONVENTIONS: tuple[str, ...] = ("langlois2021", "luab-v1")
DEFAULT_CONVENTIONS = "langlois2021"
#: What :func:`~luab_bench.alignment.report.align_result` runs when the caller names nothing
#: (``pipeline.run``): Grad-CAM and guided backprop are cheap (one forward/backward per image);
#: SmoothGrad-GBP costs 30 of them.
DEFAULT_METHODS: tuple[str, ...] = ("gbp", "gradcam")
DEFAULT_LIMIT = 100
