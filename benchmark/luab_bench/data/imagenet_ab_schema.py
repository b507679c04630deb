"""The ImageNet-AB record schema: typed models of every field and the empty-list spellings.

Record schema: what is confirmed, and from where
------------------------------------------------
* ``naver-ai/imagenet-annotation-tool`` (the annotation front end; ``AnnotatorPage.utils.ts``,
  ``projectAnnotationsForImageNet``) writes one object per (image, annotation) with exactly:
  ``imageID``, ``selected`` (bool), ``selectedCount``, ``selectedRecord`` (list of ``{x, y, time}``),
  ``hoveredCount``, ``hoveredRecord`` (list of ``{action: "enter"|"leave", time}``),
  ``imagePosition`` (``{x, y}``, page pixels), ``imageWidth``/``imageHeight`` (display pixels),
  ``originalImageWidth``/``originalImageHeight`` (natural pixels), ``estimateTime`` (ms spent
  hovering while not selected) and ``mouseTracking`` (list of ``{x, y, time}``).
  ``AnnotationComponent.handler.ts`` shows that x/y are ``offsetX / offsetWidth`` (relative to the
  displayed image, so in [0, 1]), ``time`` is ``Date.now()`` (epoch ms in the tool; the released
  ``selectedRecord`` times are in seconds, see below), a click toggles
  ``selected``, and a click is appended to ``selectedRecord`` **only when it selects** (a
  deselecting click appends nothing). Hence for a selected image the latest click is the click that
  made the final selection, which is the Z this module returns.
* The released data (``imagenet_ab_v1_0.tar.gz``, HF Hub ``coallaoh/ImageNet-AB``) is read by
  third-party scripts (``aldakata/NeglectedFreeLunch``: ``study_ab.py``, ``siamese_dataloader.py``) as
  per-image XML files ``train_xml/<wnid>/<wnid>_<n>.xml`` with one ``<metadata>`` element per
  annotation, holding the fields above plus ``worker_id`` and ``assignment_id``. The Hub card's
  example record (as reported in issue 16 from the card; not re-read here) also has ``hit_id``,
  ``hit_submit_time``, ``page_idx`` (not ``page_id``), ``image_idx`` and ``imagenet_hit_id``; their
  types are not documented there, so only ``page_idx`` and ``image_idx`` (integers) and the ids
  (strings) are typed. Other extra keys are kept, not checked.
  Times: ``selectedRecord`` times are in **seconds**, ``hoveredRecord`` / ``mouseTracking`` times in
  **milliseconds** (the card's example); only the order of clicks matters for Z, so the unit is not
  converted.
* Empty lists: the XML writes an empty list field as ``<x>None</x>`` or an empty element (seen on the
  Hub for ``hoveredRecord`` / ``mouseTracking``); JSON exports may hold ``null``, ``"None"``,
  ``"null"``, ``"[]"`` or ``""``. Every one of these spellings (:data:`EMPTY_LIST_SPELLINGS`) is an
  empty list for every list field, so an unselected image with an "empty" ``selectedRecord`` is counted
  ``not_selected``, not malformed.
* The tarball and XML folders are read by :mod:`luab_bench.data.imagenet_ab_xml` (streamed, nothing
  extracted); each ``<metadata>`` becomes one record of the schema above. One image can have
  several annotations there: ``aggregate`` chooses first-wins or the notebook's mean. The official
  notebook (``naver-ai/NeglectedFreeLunch``, ``imagenet_dataloader.ipynb``) averages the *first*
  ``<selectedRecord>`` of every selected ``<metadata>``: ``click="first", aggregate="mean"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from luab_bench.config import format_validation_error
from luab_bench.data.imagenet_ab_xml import EMPTY_LIST_SPELLINGS
from luab_bench.data.record_base import FiniteFloat, RecordModel, UnitFloat
from luab_bench.errors import DataError

#: Every list field of an ImageNet-AB record (JSON and XML).
LIST_FIELDS: tuple[str, ...] = ("selectedRecord", "mouseTracking", "hoveredRecord")


def empty_list_spelling(value: Any) -> bool:
    """True for JSON ``null`` and for a string that spells an empty list (:data:`EMPTY_LIST_SPELLINGS`)."""
    return value is None or (isinstance(value, str) and value.strip() in EMPTY_LIST_SPELLINGS)


def as_list(value: Any) -> Any:
    """``value`` with every empty-list spelling turned into ``[]`` (anything else unchanged)."""
    return [] if empty_list_spelling(value) else value


class TimedPoint(RecordModel):
    """A click or mouse sample: position relative to the displayed image; ``time`` in seconds for
    ``selectedRecord``, milliseconds for ``mouseTracking`` (the Hub card's example record)."""

    x: UnitFloat
    y: UnitFloat
    time: FiniteFloat


class HoverEvent(RecordModel):
    """The pointer entering or leaving the image."""

    action: Literal["enter", "leave"]
    time: FiniteFloat


class ImagePosition(RecordModel):
    """Top-left corner of the displayed image on the page, in pixels."""

    x: FiniteFloat
    y: FiniteFloat


class ImageNetABRecord(RecordModel):
    """One ImageNet-AB annotation of one image (see the module docstring for provenance)."""

    imageID: str = Field(min_length=1)
    selected: bool
    selectedRecord: list[TimedPoint]
    selectedCount: int | None = Field(default=None, ge=0)
    mouseTracking: list[TimedPoint] | None = None
    hoveredCount: int | None = Field(default=None, ge=0)
    hoveredRecord: list[HoverEvent] | None = None
    imagePosition: ImagePosition | None = None
    imageWidth: int | None = Field(default=None, ge=0)
    imageHeight: int | None = Field(default=None, ge=0)
    originalImageWidth: int | None = Field(default=None, gt=0)
    originalImageHeight: int | None = Field(default=None, gt=0)
    estimateTime: FiniteFloat | None = Field(default=None, ge=0)
    worker_id: str | None = None
    assignment_id: str | None = None
    # the Hub card's example record (issue 16) has hit_id, page_idx (not page_id), image_idx and
    # imagenet_hit_id (and hit_submit_time, kept untyped); LUAB Fig. 4 shows none of them
    hit_id: str | None = None
    imagenet_hit_id: str | None = None
    page_idx: int | None = None
    image_idx: int | None = None

    @field_validator(*LIST_FIELDS, mode="before")
    @classmethod
    def _empty_list_spellings(cls, value: Any) -> Any:
        return as_list(value)


def validate_record(record: Mapping[str, Any], where: str = "record") -> ImageNetABRecord:
    """Fully validate one record (every point of every list) or raise :class:`DataError`."""
    try:
        return ImageNetABRecord.model_validate(dict(record) if isinstance(record, Mapping) else record)
    except ValidationError as err:
        raise DataError(format_validation_error(where, err)) from None
