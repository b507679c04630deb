"""Run the alignment analysis for one model, turn it into result metrics, a table and plots.

Entry points: :func:`align_result` (checkpoint + result file -> metrics and the typed ``alignment``
block, signed; what ``luab-bench align --checkpoint`` and ``pipeline.run`` call), :func:`align_model`
(a net and an :class:`~luab_bench.alignment.sets.AlignmentSet`'s arrays -> :class:`AlignmentReport`),
:func:`write_alignment` (report -> result file).

Metric names written into a result's ``metrics`` (``<m>`` = saliency method):

* ``align_<m>_r`` – best mean Pearson r over the sigma grid; 95% interval from the bootstrap over
  images that re-picks sigma on every resample (:func:`correlate.bootstrap_best_r`). If that interval
  does not contain the point estimate (possible, since the max over sigma is biased), the interval of
  the mean r at the chosen sigma is recorded instead and the task string says so.
The chosen sigma (px at the 100 x 100 scale) is not a metric: it has no better direction, so it is
recorded in the result's typed ``alignment`` block (``best_sigma`` of each curve) and in each metric's
task string, and printed in the table.
* ``align_<m>_spearman`` – mean Spearman rho at the chosen sigma, bootstrap interval over images.
* ``align_<m>_r_cv`` – split-half cross-validated mean r (only with ``split_half=True``).
* ``align_<m>_nss`` – mean normalised scanpath saliency (:func:`correlate.nss_per_image`) of the model
  map at the chosen sigma against the human *fixation* map; only for fixation-like measures (byproduct
  clicks / icon positions, folder measures flagged ``fixation_like``). CC, the other fixation metric of
  the saliency benchmarks, is by definition the Pearson r of ``align_<m>_r`` (not written twice).
* ``align_<m>_class_gap`` – multi-label (COCO-AB) data only: mean over (image, class) units of
  ``r(model map of c, human map of c) - r(model map of c, human map of another class c' of the same
  image)`` at the chosen sigma (:func:`correlate.class_gap_per_unit`); > 0 means the class-conditional
  maps point at the class, not just at the image's objects.
* ``align_mask_correct`` / ``align_mask_mismatched`` – mean inverse rank ``N/(r+N)`` of the true class
  on images masked with the correct / a mismatched human map; ``align_mask_gap`` = their paired
  difference (see :mod:`luab_bench.alignment.masking`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luab_bench.alignment.align_config import AlignConfig, convention_fields, default_measure
from luab_bench.alignment.choices import CONVENTIONS, DEFAULT_LIMIT, DEFAULT_METHODS, TARGETS
from luab_bench.alignment.inference import make_predict, model_saliency, top_classes
from luab_bench.alignment.report_plots import plot_sigma_curves
from luab_bench.alignment.report_types import AlignmentReport, MethodScore
from luab_bench.alignment.scoring import align_model, align_set
from luab_bench.alignment.sets import evenly_spaced
from luab_bench.alignment.spec import AlignSpec
from luab_bench.errors import LuabError

__all__ = [
    "CONVENTIONS",
    "DEFAULT_LIMIT",
    "DEFAULT_METHODS",
    "TARGETS",
    "AlignConfig",
    "AlignResultOutcome",
    "AlignSpec",
    "AlignmentReport",
    "MethodScore",
    "align_model",
    "align_result",
    "align_set",
    "convention_fields",
    "default_measure",
    "evenly_spaced",
    "make_predict",
    "model_saliency",
    "plot_sigma_curves",
    "top_classes",
    "write_alignment",
]


def write_alignment(path: Path, report: AlignmentReport, *, key: Path | None = None) -> bool:
    """Merge ``report``'s ``align_*`` metrics and its ``alignment`` block into the result at ``path``.

    The result becomes schema 1.2 (the current version). Curves of methods not re-run are
    kept when the measure and data description are unchanged, otherwise the block is replaced. Then
    re-signed with ``key`` or left unsigned (its old signature no longer matches); returns True
    when signed.
    """
    from luab_bench.results.schema import SCHEMA_VERSION, load_result
    from luab_bench.results.signing import sign_result_file
    from luab_bench.results.store import write_result

    if not report.scores:
        raise LuabError(f"{path}: no saliency method could be run, nothing to write")
    result = load_result(path)
    block = report.alignment_block()
    old = result.alignment
    if old is not None and (old.measure, old.data) == (block.measure, block.data):
        new = {c.method for c in block.curves}
        kept = [c for c in old.curves if c.method not in new]
        if old.image_ids != block.image_ids:  # per-image r only pairs on the same images
            kept = [c.model_copy(update={"per_image_r": None}) for c in kept]
        block = block.model_copy(update={"curves": kept + block.curves})
    update = {
        "schema_version": SCHEMA_VERSION,
        "metrics": {**result.metrics, **report.metrics()},
        "alignment": block,
        "signature": None,
    }
    write_result(path, result.model_validate({**result.model_dump(), **update}))
    if key is not None:
        sign_result_file(path, key)
        return True
    return False


def merge_alignment(doc: dict[str, Any], report: AlignmentReport, echo: Callable[[str], None]) -> None:
    """Merge ``report``'s ``align_*`` metrics and ``alignment`` block into a fresh result document.

    The in-memory twin of :func:`write_alignment` for a result not yet written (``run`` and ``run
    --no-train`` align before their one signed write): the skipped methods are echoed, and the
    document becomes the current schema version when any method scored.
    """
    from luab_bench.results.schema import SCHEMA_VERSION

    for method, why in report.skipped.items():
        echo(f"alignment: {method} skipped: {why}")
    if report.scores:
        doc.update(
            schema_version=SCHEMA_VERSION,
            metrics={**doc["metrics"], **report.metrics()},
            alignment=report.alignment_block(),
        )


@dataclass
class AlignResultOutcome:
    """What :func:`align_result` did: the report (None when skipped), whether the file is signed, why
    it was skipped (None when it ran)."""

    report: AlignmentReport | None
    signed: bool = False
    skipped: str | None = None


def align_result(
    result_path: Path | None,
    checkpoint_dir: Path,
    spec: AlignSpec | None = None,
    *,
    data_dir: Path,
    device: str = "auto",
    key: Path | None = None,
    progress: Callable[[str], None] | None = None,
    net: Any = None,
    **fields: Any,
) -> AlignResultOutcome:
    """Align the checkpoint's model on its own embedded data and write the outcome into its result.

    ``spec`` says what to compute (:class:`~luab_bench.alignment.spec.AlignSpec`, built at the edge);
    callers that predate it may pass its fields as keywords instead (``seed=0``, ``methods=...``), not
    both. The checkpoint's ``meta["data"]`` names the variant (and its fingerprint is checked). Methods
    that do not apply to the model (guided backprop on a net with an activation the rule does not
    cover) are skipped with their reason in ``report.skipped`` when ``spec.skip_inapplicable``; when no
    method applies, or the checkpoint was trained on data without human maps here (real ImageNet/COCO),
    nothing is written and ``outcome.skipped`` says why. Otherwise ``align_*`` metrics and the
    ``alignment`` block are merged into ``result_path`` (see :func:`write_alignment`), re-signed with
    ``key`` or left unsigned; ``result_path=None`` only measures. ``spec.variant`` overrides the
    checkpoint's data variant.

    ``net``: the checkpoint's model already in memory (``run`` hands over the net it trained and
    evaluated, so it is not rebuilt): it must hold the weights the checkpoint saved
    (``save_checkpoint`` writes the live net's ``state_dict``, no EMA or other copy); it is put in
    eval mode on ``device`` and the meta is read from ``checkpoint_dir``. None: rebuilt from the
    checkpoint.
    """
    from luab_bench.alignment.saliency import method_names
    from luab_bench.alignment.sets import ALIGNABLE_SOURCES
    from luab_bench.device import resolve_device
    from luab_bench.train.checkpoint import load_checkpoint, read_checkpoint_meta

    if spec is not None and fields:
        raise LuabError(f"align_result: give an AlignSpec or its fields ({', '.join(fields)}), not both")
    spec = spec or AlignSpec.from_fields(**fields)
    names = tuple(method_names(",".join(spec.methods)))
    if key is not None and result_path is None:
        raise LuabError("a key signs a result file; give the result path too (--out RESULT.json)")
    if result_path is not None and not Path(result_path).is_file():
        raise LuabError(f"{result_path}: result file not found; create it with `luab-bench evaluate` first")
    dev = resolve_device(device)
    if net is None:
        net, meta = load_checkpoint(Path(checkpoint_dir), dev)
    else:
        meta = read_checkpoint_meta(Path(checkpoint_dir))
        net.to(dev)
        net.eval()
    data = meta.get("data") or {}
    source = data.get("source", "synthetic")
    if source not in ALIGNABLE_SOURCES:
        return AlignResultOutcome(
            None,
            skipped=f"trained on {source!r} data: human maps exist here only for the embedded "
            f"{' / '.join(ALIGNABLE_SOURCES)} data (pass --maps DIR to `luab-bench align` for your own)",
        )
    variant = spec.variant or data.get("variant") or source
    aset = spec.load_set(variant, Path(data_dir))
    fingerprint = data.get("fingerprint")
    if variant == data.get("variant") and fingerprint and fingerprint != aset.fingerprint:
        raise LuabError(
            f"{checkpoint_dir}: trained on data {fingerprint[:12]} but the generated {variant} "
            f"data is {aset.fingerprint[:12]}; regenerate with the same luab-bench version or retrain"
        )
    report = align_set(net, aset, spec.config(aset.label, names), device=dev, progress=progress)
    if not report.scores:
        why = "; ".join(f"{m}: {r}" for m, r in report.skipped.items())
        return AlignResultOutcome(report, skipped=f"no saliency method applies to this model ({why})")
    signed = write_alignment(Path(result_path), report, key=key) if result_path is not None else False
    return AlignResultOutcome(report, signed=signed)
