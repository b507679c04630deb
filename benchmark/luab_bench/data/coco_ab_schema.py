"""The COCO-AB record schema: COCO class names / ids and typed models of every record field.

Record schema: what is confirmed, and from where
------------------------------------------------
* Hub dataset viewer (``coallaoh/COCO-AB``, commit ``be4770eac0d6138aec946b22e192da022396f5aa``):
  ``worker_id`` (10 chars), ``hit_id`` (32 hex), ``page_id`` (0-19), ``image_id`` (int, COCO id),
  ``imageWidth``/``imageHeight`` (display px), ``originalImageWidth``/``originalImageHeight`` (px; the
  viewer's minimum is 0, so zero sizes occur and are *not* malformed), ``actionHistories``
  (``[{actionType, iconType, pointFrom, pointTo: {x, y}, timeAt}]``, ``pointFrom`` null on ``add``),
  ``categoryHistories`` (``[{categoryIndex, categoryName, timeAt, usingKeyboard}]``),
  ``mouseTracking`` (a list; empty in every row the viewer showed) and ``timeSpent`` (int ms).
* ``iconType`` values: the official loader (``naver-ai/NeglectedFreeLunch``,
  ``coco_dataloader.ipynb``) maps ``COCO_CLASS_NAMES.index(iconType) + 1`` to the COCO
  ``category_id``, with the 91-name list below (spaces, e.g. ``"traffic light"``).
* LUAB Fig. 6 shows an ``add`` action (``actionType``, ``iconType``, ``pointTo`` {x, y}, ``timeAt``)
  and ``mouseTracking`` samples as ``{x, y, timeAt}``; §3.3.2 names the action types add / move /
  remove. Not shown (Fig. 6 has no ``remove``; the full list is Appendix Fig. B, not in the available
  text): the payload of ``remove`` actions (we accept ``pointFrom`` and/or ``pointTo``); mouse samples
  with ``time`` instead of ``timeAt`` are accepted too (checked only by :func:`validate_coco_record`).

:func:`validate_coco_record` validates one record fully (every action, category event and mouse
sample); ``coco_ab.parse_coco_ab`` has its own faster checks of the fields that Z_c and the stats read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError

from luab_bench.config import format_validation_error
from luab_bench.data.record_base import FiniteFloat, RecordModel, UnitFloat
from luab_bench.errors import DataError

# Index + 1 = COCO category_id (the official loader's list: 91 names, 80 used by instances_*.json).
_COCO_NAMES = (
    "person|bicycle|car|motorcycle|airplane|bus|train|truck|boat|traffic light|fire hydrant|"
    "street sign|stop sign|parking meter|bench|bird|cat|dog|horse|sheep|cow|elephant|bear|"
    "zebra|giraffe|hat|backpack|umbrella|shoe|eye glasses|handbag|tie|suitcase|frisbee|skis|"
    "snowboard|sports ball|kite|baseball bat|baseball glove|skateboard|surfboard|"
    "tennis racket|bottle|plate|wine glass|cup|fork|knife|spoon|bowl|banana|apple|sandwich|"
    "orange|broccoli|carrot|hot dog|pizza|donut|cake|chair|couch|potted plant|bed|mirror|"
    "dining table|window|desk|toilet|door|tv|laptop|mouse|remote|keyboard|cell phone|"
    "microwave|oven|toaster|sink|refrigerator|blender|book|clock|vase|scissors|teddy bear|"
    "hair drier|toothbrush|hair brush"
)
COCO_CLASS_NAMES: tuple[str, ...] = tuple(_COCO_NAMES.split("|"))
CATEGORY_ID: dict[str, int] = {name: i + 1 for i, name in enumerate(COCO_CLASS_NAMES)}


class RelPoint(RecordModel):
    """A position relative to the displayed image."""

    x: UnitFloat
    y: UnitFloat


class IconAction(RecordModel):
    """One drag of a class icon."""

    actionType: Literal["add", "move", "remove"]
    iconType: str
    pointFrom: RelPoint | None = None
    pointTo: RelPoint | None = None
    timeAt: FiniteFloat


class CategoryEvent(RecordModel):
    """Opening one of the super-category tabs of the icon palette."""

    categoryIndex: int
    categoryName: str
    timeAt: FiniteFloat
    usingKeyboard: bool


class MouseSample(RecordModel):
    """A mouse-track sample: ``{x, y, timeAt}`` as in LUAB Fig. 6 (``time`` accepted too)."""

    x: UnitFloat
    y: UnitFloat
    time: FiniteFloat | None = None
    timeAt: FiniteFloat | None = None


class CocoABRecord(RecordModel):
    """One COCO-AB annotation of one image (see the module docstring for provenance)."""

    image_id: int = Field(ge=0)
    actionHistories: list[IconAction]
    worker_id: str | None = None
    hit_id: str | None = None
    page_id: int | None = Field(default=None, ge=0)
    imageWidth: int | None = Field(default=None, ge=0)
    imageHeight: int | None = Field(default=None, ge=0)
    originalImageWidth: int | None = Field(default=None, ge=0)
    originalImageHeight: int | None = Field(default=None, ge=0)
    categoryHistories: list[CategoryEvent] | None = None
    mouseTracking: list[MouseSample] | None = None
    timeSpent: FiniteFloat | None = Field(default=None, ge=0)


def validate_coco_record(record: Mapping[str, Any], where: str = "record") -> CocoABRecord:
    """Fully validate one record (every action, category event and mouse sample) or raise DataError."""
    try:
        return CocoABRecord.model_validate(dict(record) if isinstance(record, Mapping) else record)
    except ValidationError as err:
        raise DataError(format_validation_error(where, err)) from None
