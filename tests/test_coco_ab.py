"""COCO-AB parser: Z_c = final add (LUAB §4.1) or icon replay, malformed records counted, streaming reader."""

from __future__ import annotations

import functools
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luab_bench.data.coco_ab import (
    CATEGORY_ID,
    MALFORMED_KINDS,
    ClassPoint,
    iter_json_list,
    parse_coco_ab,
    validate_coco_record,
)
from luab_bench.data.synthetic_coco import (
    SYNTHETIC_COCO_VARIANTS,
    fake_coco_ab_record,
    generate_coco,
    load_coco_split,
    write_fake_coco_ab,
)
from luab_bench.errors import DataError, LuabError

CAKE, SINK = CATEGORY_ID["cake"], CATEGORY_ID["sink"]


def act(kind, icon, to=None, frm=None, t=0):
    p = lambda xy: None if xy is None else {"x": xy[0], "y": xy[1]}  # noqa: E731
    return {"actionType": kind, "iconType": icon, "pointFrom": p(frm), "pointTo": p(to), "timeAt": t}


def rec(image_id=296169, actions=(), **extra):
    r = {
        "worker_id": "00AA3B5E80",
        "hit_id": "94c49a4ea144419c87bc7c201600aff9",
        "page_id": 7,
        "image_id": image_id,
        "imageWidth": 450,
        "imageHeight": 450,
        "originalImageWidth": 480,
        "originalImageHeight": 360,
        "actionHistories": list(actions),
        "categoryHistories": [
            {"categoryIndex": 1, "categoryName": "Animal", "timeAt": 5, "usingKeyboard": False}
        ],
        "mouseTracking": [],
        "timeSpent": 168291,
    }
    r.update(extra)
    return r


# --------------------------------------------------------------------------- the paper's Z_c (default)


def brute_force_last_add(actions):
    """Independent oracle of LUAB §4.1's Z_c: walk the list, keep the pointTo of each class's last add."""
    out = {}
    for a in actions:
        if a["actionType"] == "add":
            out[CATEGORY_ID[a["iconType"]]] = ClassPoint(a["pointTo"]["x"], a["pointTo"]["y"], 1)
    return out


def test_default_is_the_final_add_even_after_move_and_remove():
    r = rec(
        actions=[
            act("add", "cake", (0.1, 0.1), t=1),
            act("add", "cake", (0.5, 0.5), t=2),  # the final add of cake
            act("move", "cake", (0.2, 0.2), (0.5, 0.5), t=3),  # ignored
            act("add", "sink", (0.7, 0.7), t=4),
            act("remove", "sink", frm=(0.7, 0.7), t=5),  # ignored: sink keeps its final add
        ]
    )
    assert parse_coco_ab([r]).images[296169].points == {
        CAKE: ClassPoint(0.5, 0.5, 1),
        SINK: ClassPoint(0.7, 0.7, 1),
    }


def test_default_follows_list_order():
    # §3.3.2: actionHistories lists the actions in sequence; the final add is the last one listed
    r = rec(actions=[act("add", "cake", (0.9, 0.9), t=20), act("add", "cake", (0.1, 0.1), t=10)])
    assert parse_coco_ab([r]).images[296169].points[CAKE] == ClassPoint(0.1, 0.1, 1)


# --------------------------------------------------------------------------- replay semantics (option)

replay = functools.partial(parse_coco_ab, mode="replay")


def test_viewer_example_add_then_move_gives_the_moved_position():
    # the first row of the Hub viewer: add cake, then move it
    r = rec(
        actions=[
            act("add", "cake", (0.788, 0.837), t=155755),
            act("move", "cake", (0.701, 0.544), (0.788, 0.837), 158789),
        ]
    )
    cb = replay([r])
    assert cb.images[296169].points == {CAKE: ClassPoint(0.701, 0.544, 1)}
    paper = parse_coco_ab([r])  # default: the final add action (LUAB §4.1), as the official notebook
    assert paper.images[296169].points == {CAKE: ClassPoint(0.788, 0.837, 1)}
    assert paper.report.mode == "last_add" and cb.report.mode == "replay"


def test_actions_are_replayed_in_time_order_not_list_order():
    r = rec(actions=[act("move", "cake", (0.9, 0.9), (0.1, 0.1), t=20), act("add", "cake", (0.1, 0.1), t=10)])
    assert replay([r]).images[296169].points[CAKE] == ClassPoint(0.9, 0.9, 1)


def test_remove_deletes_the_icon_and_all_removed_is_a_reason():
    r = rec(actions=[act("add", "sink", (0.3, 0.3), t=1), act("remove", "sink", frm=(0.3, 0.3), t=2)])
    cb = replay([r, rec(2, [])])
    assert cb.images[296169].points == {} and cb.report.no_point == {"no_actions": 1, "all_removed": 1}
    assert cb.report.with_point == 0 and cb.report.images == 2


def test_several_icons_of_one_class_last_touched_wins_and_are_counted():
    r = rec(
        actions=[
            act("add", "cake", (0.1, 0.1), t=1),
            act("add", "cake", (0.5, 0.5), t=2),
            act("move", "cake", (0.2, 0.2), (0.1, 0.1), t=3),  # moves the first icon: it is now the latest
            act("add", "sink", (0.7, 0.7), t=4),
            act("remove", "cake", frm=(0.49, 0.5), t=5),  # nearest live cake icon: the one at (0.5, 0.5)
        ]
    )
    pts = replay([r]).images[296169].points
    assert pts == {CAKE: ClassPoint(0.2, 0.2, 1), SINK: ClassPoint(0.7, 0.7, 1)}


def test_orphan_move_is_counted_and_ignored():
    r = rec(actions=[act("move", "cake", (0.2, 0.2), (0.1, 0.1), t=1), act("add", "sink", (0.7, 0.7), t=2)])
    cb = replay([r])
    assert cb.report.orphan_actions == 1 and set(cb.images[296169].points) == {SINK}


def brute_force_replay(actions):
    """Independent oracle: simulate icons as a list of (cls, x, y, last_touch) and replay step by step."""
    order = sorted(range(len(actions)), key=lambda i: (actions[i]["timeAt"], i))
    icons: list[list] = []
    for step, i in enumerate(order):
        a = actions[i]
        cat = CATEGORY_ID[a["iconType"]]
        mine = [ic for ic in icons if ic[0] == cat]
        if a["actionType"] == "add":
            icons.append([cat, a["pointTo"]["x"], a["pointTo"]["y"], step])
            continue
        if not mine:
            continue
        at = a["pointFrom"] or (a["pointTo"] if a["actionType"] == "remove" else None)
        if at is None:  # no position at all: the icon touched last
            target = max(mine, key=lambda ic: ic[3])
        else:
            target = min(
                mine, key=lambda ic: ((ic[1] - at["x"]) ** 2 + (ic[2] - at["y"]) ** 2, icons.index(ic))
            )
        if a["actionType"] == "move":
            target[1:] = [a["pointTo"]["x"], a["pointTo"]["y"], step]
        else:
            icons.remove(target)
    out = {}
    for cat in {ic[0] for ic in icons}:
        mine = [ic for ic in icons if ic[0] == cat]
        last = max(mine, key=lambda ic: ic[3])
        out[cat] = ClassPoint(last[1], last[2], len(mine))
    return out


unit = st.floats(0, 1, allow_nan=False)
actions_st = st.lists(
    st.builds(
        lambda kind, icon, to, frm, t: act(kind, icon, to if kind != "remove" else None, frm, t),
        st.sampled_from(["add", "add", "move", "remove"]),
        st.sampled_from(["cake", "sink", "person"]),
        st.tuples(unit, unit),
        st.one_of(st.none(), st.tuples(unit, unit)),
        st.integers(0, 30),
    ),
    max_size=10,
)


@settings(max_examples=40, deadline=None)
@given(st.lists(actions_st, max_size=8))
def test_property_replay_matches_oracle_and_file_round_trip(histories):
    records = [rec(i, acts) for i, acts in enumerate(histories)]
    cb = replay(records)
    paper = parse_coco_ab(records)
    for i, acts in enumerate(histories):
        assert cb.images[i].points == brute_force_replay(acts)
        assert paper.images[i].points == brute_force_last_add(acts)
    assert cb.report.n_malformed == 0 and cb.report.records == len(records)
    with tempfile.TemporaryDirectory() as tmp:
        for indent in (None, 2):
            path = Path(tmp) / "coco_ab.json"
            path.write_text(json.dumps(records, indent=indent), encoding="utf-8")
            again = replay(path)
            assert again.points() == cb.points()
            assert again.report.no_point == cb.report.no_point


# --------------------------------------------------------------------------- malformed records


def _set(key, value):
    def f(r):
        r[key] = value
        return r

    return f


def _act(**kw):
    def f(r):
        r["actionHistories"][0].update(kw)
        return r

    return f


CASES = [
    ("missing_key", lambda r: r.pop("image_id") and r, "'image_id'"),
    ("missing_key", lambda r: r["actionHistories"][0].pop("timeAt") and r, "has no 'timeAt'"),
    ("wrong_type", lambda r: [r], "expected an object"),
    ("wrong_type", _set("image_id", "296169"), "'image_id' must be an integer"),
    ("wrong_type", _set("actionHistories", {}), "'actionHistories' must be a list"),
    ("wrong_type", _set("mouseTracking", "none"), "'mouseTracking' must be a list"),
    ("wrong_type", _act(pointTo={"x": "0.5", "y": 0.5}), "pointTo.x must be a number"),
    ("non_finite", _act(pointTo={"x": float("nan"), "y": 0.5}), "pointTo.x is nan"),
    ("non_finite", _act(timeAt=float("inf")), "timeAt is inf"),
    ("out_of_range", _act(pointTo={"x": 1.2, "y": 0.5}), "outside [0, 1]"),
    ("out_of_range", _set("originalImageWidth", -1), "must be >= 0"),
    ("unknown_class", _act(iconType="unicorn"), "'unicorn' is not a COCO class name"),
    ("unknown_action", _act(actionType="resize"), "'resize' is not add, move or remove"),
    ("empty_point", _act(pointTo=None), "(add) has no pointTo"),
]


@pytest.mark.parametrize(("kind", "mutate", "needle"), CASES)
def test_malformed_counted_and_strict_raises(tmp_path, kind, mutate, needle):
    bad = mutate(rec(7, [act("add", "cake", (0.5, 0.5), t=1)]))
    records = [rec(1, [act("add", "cake", (0.5, 0.5), t=1)]), bad]
    cb = parse_coco_ab(records)
    assert cb.report.malformed[kind] == 1 and set(cb.images) == {1}
    assert needle in cb.report.examples[kind][0]
    path = tmp_path / "coco_ab.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(DataError) as info:
        parse_coco_ab(path, strict=True)
    msg = str(info.value)
    assert f"{path}: record 1" in msg and kind in msg and needle in msg and "fix:" in msg


def test_zero_sizes_are_allowed_and_duplicates_first_wins():
    a = rec(5, [act("add", "cake", (0.1, 0.1), t=1)], originalImageWidth=0, originalImageHeight=0)
    b = rec(5, [act("add", "cake", (0.9, 0.9), t=1)])
    cb = parse_coco_ab([a, b])
    assert cb.images[5].points[CAKE] == ClassPoint(0.1, 0.1, 1)
    assert cb.report.malformed["duplicate_id"] == 1 and set(cb.report.malformed) == set(MALFORMED_KINDS)


def test_bad_mode_and_source_are_user_errors():
    with pytest.raises(LuabError, match="'replay' or 'last_add'"):
        parse_coco_ab([], mode="final")  # type: ignore[arg-type]
    with pytest.raises(LuabError, match="path or an iterable"):
        parse_coco_ab(rec())  # type: ignore[arg-type]


def test_validate_coco_record_checks_mouse_samples():
    assert validate_coco_record(rec(actions=[act("add", "cake", (0.5, 0.5), t=1)])).image_id == 296169
    with pytest.raises(DataError, match=r"r9: mouseTracking\.0\.x"):
        validate_coco_record(rec(mouseTracking=[{"x": 3, "y": 0.1, "timeAt": 1}]), "r9")


# --------------------------------------------------------------------------- streaming reader


@pytest.mark.parametrize("batch", [64, 1 << 20])
def test_streamed_reader_equals_json_loads(tmp_path, batch):
    rng = np.random.default_rng(0)
    records = [fake_coco_ab_record(rng, i, mouse_points=5) for i in range(50)]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    assert list(iter_json_list(path, batch_bytes=batch)) == records


def test_one_broken_record_costs_only_itself(tmp_path):
    rng = np.random.default_rng(1)
    texts = [json.dumps(fake_coco_ab_record(rng, i, 3)) for i in range(20)]
    texts[7] = texts[7].replace('"timeSpent":', '"timeSpent": ,')
    path = tmp_path / "c.json"
    path.write_text("[" + ",".join(texts) + "]", encoding="utf-8")
    cb = parse_coco_ab(path)
    assert cb.report.records == 20 and cb.report.malformed["unparsable_json"] == 1
    assert cb.report.images == 19 and "bytes" in cb.report.examples["unparsable_json"][0]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        (b"", "file is empty"),
        (b"{}", "not a JSON list"),
        (b'[{"image_id": 1', "truncated"),
    ],
)
def test_unreadable_files_raise_in_both_modes(tmp_path, strict, content, needle):
    path = tmp_path / "coco_ab_v1_0.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=needle):
        parse_coco_ab(path, strict=strict)


def test_empty_list_file_is_fine(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(" [ ] ", encoding="utf-8")
    assert parse_coco_ab(path).report.records == 0


# --------------------------------------------------------------------------- synthetic COCO-AB split


def test_synthetic_coco_split_goes_through_the_same_parser(tmp_path):
    cfg = SYNTHETIC_COCO_VARIANTS["synthetic-coco-tiny"]
    out = generate_coco(cfg, tmp_path)
    assert generate_coco(cfg, tmp_path) == out  # reused
    train = load_coco_split(out, "train")
    n, k, s = len(train["image_ids"]), cfg.num_classes, cfg.image_size
    assert train["images"].shape == (n, s, s, 3) and train["images"].dtype == np.uint8
    assert train["labels"].shape == (n, k) and train["masks"].shape == (n, k, s, s)
    assert (train["masks"].any(axis=(2, 3)) == train["labels"]).all()
    assert train["labels"].sum(axis=1).min() >= 1 and train["labels"].sum(axis=1).max() > 1
    obj = train["objects"]
    assert len(obj) == train["labels"].sum()
    cb = parse_coco_ab(out / "coco_ab.json", strict=True)
    assert cb.report.n_malformed == 0 and cb.report.class_points > 0
    manifest = json.loads((out / "manifest.json").read_text())
    cat_to_k = {c["category_id"]: c["index"] for c in manifest["classes"]}
    index = {iid: i for i, iid in enumerate(train["image_ids"])}
    on_true_class = sum(
        train["labels"][index[iid], cat_to_k[c]] for iid, img in cb.images.items() for c in img.points
    )
    assert on_true_class >= 0.8 * cb.report.class_points  # the annotator mostly places true classes


def test_fake_file_writer_is_deterministic(tmp_path):
    a = write_fake_coco_ab(tmp_path / "a.json", 20, seed=3)
    b = write_fake_coco_ab(tmp_path / "b.json", 20, seed=3)
    assert a.read_bytes() == b.read_bytes()
    cb = parse_coco_ab(a, strict=True)
    assert cb.report.records == 20 and all(
        math.isfinite(p.x) for img in cb.images.values() for p in img.points.values()
    )
