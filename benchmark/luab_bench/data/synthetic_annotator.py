"""A simulated ImageNet-AB annotator: byproduct records (clicks, mouse track, timings) for train.

See :func:`simulate_annotator` for the record schema and where each field was confirmed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from luab_bench.data.synthetic_config import SyntheticConfig
from luab_bench.seeds import seeded_generator


def simulate_annotator(
    cfg: SyntheticConfig, labels: np.ndarray, boxes: np.ndarray, masks: np.ndarray, ids: list[str]
) -> list[dict[str, Any]]:
    """ImageNet-AB-schema records of a simulated annotator for the train split.

    Schema (one record per interacted image; non-interacted images get no record), confirmed from
    the annotation front-end naver-ai/imagenet-annotation-tool (``projectAnnotationsForImageNet``,
    ``AnnotationComponent.handler.ts``) and the XML ``<metadata>`` fields read by the LUAB loaders in
    aldakata/NeglectedFreeLunch: ``imageID``, ``selected``, ``selectedCount``, ``selectedRecord``
    [{x, y, time}], ``hoveredCount``, ``hoveredRecord`` [{action: enter|leave, time}],
    ``imagePosition`` {x, y}, ``imageWidth``/``imageHeight`` (displayed size, px),
    ``originalImageWidth``/``originalImageHeight``, ``estimateTime`` (ms hovered while unselected),
    ``mouseTracking`` [{x, y, time}], ``worker_id``, ``assignment_id`` (LUAB Fig. 4 shows ``imageID``,
    the original size, ``selected``, ``selectedRecord`` and ``mouseTracking`` with x, y, time; its full
    list is Appendix Fig. A, not in the available text). Not written, as no source shows them per
    record: HIT id and page number (the front-end sends them at HIT/page level).

    Click semantics follow the front-end: a click toggles ``selected``; only *select* clicks are
    appended to ``selectedRecord`` (deselects are not recorded), so ``selectedCount ==
    len(selectedRecord)`` and the final click Z of a selected image is its last (latest) entry.
    Mouse moves are tracked (60 Hz throttle) only while the image is unselected. Coordinates are
    relative in [0, 1], quantised to displayed pixels; times are epoch milliseconds.
    The final select click lands on the object with probability ``p_click_in_box``, otherwise near
    the box (``p_miss_near``) or anywhere outside it.
    """
    rng = seeded_generator(cfg.seed, 3)
    n = len(labels)
    interacted = rng.random(n) < cfg.p_interacted
    selected = rng.random(n) < cfg.p_selected
    in_box = rng.random(n) < cfg.p_click_in_box
    near = rng.random(n) < cfg.p_miss_near
    # number of extra (deselect, select) pairs; unselected images: 0 -> hover only, else select+deselect
    extra_pairs = rng.geometric(1 - cfg.p_extra_toggle, n) - 1
    unselected_clicked = rng.random(n) < 0.5
    disp = 150  # displayed thumbnail size in px (the front-end scales images to a grid)
    per_page, pages_per_hit = 48, 10
    t0 = 1_654_041_600_000  # 2022-06-01T00:00:00Z in ms
    records: list[dict[str, Any]] = []
    worker = assignment = ""
    t_now = t0
    slot = 0
    for i in range(n):
        if slot % (per_page * pages_per_hit) == 0:  # a new HIT: new worker and assignment
            worker = _hex_id(rng, 10)
            assignment = _hex_id(rng, 30, alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            t_now += int(rng.integers(60_000, 3_600_000))
        page_slot = slot % per_page
        slot += 1
        if not interacted[i]:
            continue
        t_now += int(rng.integers(200, 2_500))
        rec = _annotate_one(
            cfg, rng, masks[i], boxes[i], bool(selected[i]), bool(in_box[i]), bool(near[i]),
            int(extra_pairs[i]), bool(unselected_clicked[i]), t_now, disp,
        )  # fmt: skip
        t_now = rec["hoveredRecord"][-1]["time"]
        s = cfg.image_size
        rec.update(
            imageID=ids[i],
            imagePosition=_grid_position(page_slot, disp),
            imageWidth=disp,
            imageHeight=disp,
            originalImageWidth=s,
            originalImageHeight=s,
            worker_id=worker,
            assignment_id=assignment,
        )
        records.append(rec)
    return records


def _grid_position(page_slot: int, disp: int, columns: int = 6) -> dict[str, int]:
    """Page position (px) of a thumbnail in the annotation grid."""
    return {"x": 40 + (page_slot % columns) * (disp + 10), "y": 220 + (page_slot // columns) * (disp + 10)}


def _hex_id(rng: np.random.Generator, n: int, alphabet: str = "0123456789ABCDEF") -> str:
    return "".join(alphabet[j] for j in rng.integers(0, len(alphabet), n))


def _quantise(p: np.ndarray, disp: int) -> np.ndarray:
    """Relative coords of the displayed pixel a point falls in (what the front-end reports)."""
    return np.clip(np.floor(np.clip(p, 0, 1 - 1e-9) * disp), 0, disp - 1) / disp


def _point_on_object(rng: np.random.Generator, mask: np.ndarray, box: np.ndarray, disp: int) -> np.ndarray:
    """A quantised point on a random object pixel; rounds up where flooring would leave the box."""
    ys, xs = np.nonzero(mask)
    j = int(rng.integers(0, len(xs)))
    h, w = mask.shape
    p = np.array([(xs[j] + rng.random()) / w, (ys[j] + rng.random()) / h])
    q = _quantise(p, disp)
    return np.where(q < box[:2], np.ceil(p * disp) / disp, q)


def _point_off_box(rng: np.random.Generator, box: np.ndarray, near: bool, disp: int) -> np.ndarray:
    """A point outside the box: within a margin around it (near) or anywhere else in the image."""
    x0, y0, x1, y1 = box.tolist()
    margin = 0.15
    lo = np.array([max(0.0, x0 - margin), max(0.0, y0 - margin)]) if near else np.zeros(2)
    hi = np.array([min(1.0, x1 + margin), min(1.0, y1 + margin)]) if near else np.ones(2)
    for attempt in range(64):
        p = _quantise(rng.uniform(lo, hi), disp)
        if not (x0 <= p[0] <= x1 and y0 <= p[1] <= y1):
            return p
        if attempt == 31:  # the margin is all box (object near the border): try anywhere
            lo, hi = np.zeros(2), np.ones(2)
    return np.array([0.0, 0.0])  # the box covers the whole image: a corner (degenerate case)


def _track(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, t: int, disp: int) -> list[dict]:
    """Mouse samples moving from ``a`` to ``b`` at ~60 Hz with jitter; starts at time ``t``."""
    steps = int(rng.integers(4, 28))
    frac = np.linspace(0, 1, steps)
    ease = frac * frac * (3 - 2 * frac)
    pts = a[None, :] + (b - a)[None, :] * ease[:, None] + rng.normal(0, 0.015, (steps, 2))
    pts[-1] = b
    pts = _quantise(pts, disp)
    dts = rng.integers(16, 40, steps)
    times = t + np.cumsum(dts)
    return [{"x": float(x), "y": float(y), "time": int(tt)} for (x, y), tt in zip(pts, times, strict=True)]


def _entry_point(rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(0, 4))
    u = float(rng.random())
    return np.array([[u, 0.0], [u, 0.999], [0.0, u], [0.999, u]][side])


def _annotate_one(
    cfg: SyntheticConfig,
    rng: np.random.Generator,
    mask: np.ndarray,
    box: np.ndarray,
    selected: bool,
    in_box: bool,
    near: bool,
    extra_pairs: int,
    unselected_clicked: bool,
    t_enter: int,
    disp: int,
) -> dict[str, Any]:
    """One record's clicks, mouse track and timings (see :func:`simulate_annotator`)."""
    # clicks toggle the selection: odd for a finally selected image, even (maybe 0) otherwise
    n_toggles = 1 + 2 * extra_pairs if selected else (2 * (extra_pairs + 1) if unselected_clicked else 0)
    # positions of every toggle; the last select of a selected image follows the in-box model
    toggles = []
    for j in range(n_toggles):
        is_final = selected and j == n_toggles - 1
        if is_final:
            on_object = _point_on_object(rng, mask, box, disp) if in_box else None
            p = on_object if on_object is not None else _point_off_box(rng, box, near, disp)
        elif rng.random() < 0.6:
            p = _point_on_object(rng, mask, box, disp)
        else:
            p = _point_off_box(rng, box, True, disp)
        toggles.append(p)
    tracking: list[dict] = []
    selected_record: list[dict] = []
    t = t_enter
    pos = _entry_point(rng)
    estimate = 0
    is_sel = False
    if not toggles:  # hovered only: wander towards a random point and leave
        seg = _track(rng, pos, rng.uniform(0, 1, 2), t, disp)
        tracking += seg
        estimate += seg[-1]["time"] - t
        t = seg[-1]["time"]
    for p in toggles:
        if not is_sel:  # moving while unselected is tracked
            seg = _track(rng, pos, p, t, disp)
            tracking += seg
            estimate += seg[-1]["time"] - t
            t = seg[-1]["time"] + int(rng.integers(30, 400))
            selected_record.append({"x": float(p[0]), "y": float(p[1]), "time": int(t)})
        else:  # moving while selected is not tracked; the deselect click is not recorded
            t += int(rng.integers(300, 2_000))
        is_sel = not is_sel
        pos = p
    t_leave = t + int(rng.integers(50, 600))
    return {
        "selected": is_sel,
        "selectedCount": len(selected_record),
        "selectedRecord": selected_record,
        "hoveredCount": 1,
        "hoveredRecord": [
            {"action": "enter", "time": int(t_enter)},
            {"action": "leave", "time": int(t_leave)},
        ],
        "estimateTime": int(estimate),
        "mouseTracking": tracking,
    }
