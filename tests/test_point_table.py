"""Point table: Arrow IPC, memory-mapped, aligned to a dataset's order, cached by source stamp."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luab_bench.data.byproducts import parse_imagenet_ab
from luab_bench.data.coco_ab import CATEGORY_ID, parse_coco_ab
from luab_bench.data.point_table import PointTable, ingest_coco_ab, ingest_imagenet_ab, write_point_table
from luab_bench.errors import DataError

CAKE, SINK, PERSON = CATEGORY_ID["cake"], CATEGORY_ID["sink"], CATEGORY_ID["person"]


def coco_rec(image_id, icons):
    return {
        "image_id": image_id,
        "actionHistories": [
            {"actionType": "add", "iconType": n, "pointFrom": None, "pointTo": {"x": x, "y": y}, "timeAt": t}
            for t, (n, x, y) in enumerate(icons)
        ],
    }


def test_coco_ingest_align_and_dense_lookup(tmp_path):
    records = [
        coco_rec(9, [("cake", 0.1, 0.2), ("sink", 0.3, 0.4)]),
        coco_rec(11, []),
        coco_rec(30, [("person", 0.5, 0.6)]),
    ]
    src = tmp_path / "coco_ab.json"
    src.write_text(json.dumps(records), encoding="utf-8")
    table = ingest_coco_ab(src, tmp_path / "t")
    assert len(table) == 2 and table.meta["rows"] == 3 and table.meta["report"]["records"] == 3
    aligned = table.align([30, 11, 9, 12345])
    assert aligned.count.tolist() == [1, 0, 2, 0] and aligned.has_point.tolist() == [True, False, True, False]
    cols = {PERSON: 0, CAKE: 1}  # sink is not a training class here: dropped
    pts, has = aligned.dense(np.arange(4), cols)
    assert has.tolist() == [[True, False], [False, False], [False, True], [False, False]]
    np.testing.assert_allclose(pts[0, 0], [0.5, 0.6], rtol=1e-6)
    np.testing.assert_allclose(pts[2, 1], [0.1, 0.2], rtol=1e-6)
    assert pts[1].sum() == 0


def test_imagenet_ingest_single_lookup_matches_parser(tmp_path):
    recs = [
        {
            "imageID": f"n0/n0_{i}",
            "selected": i % 3 != 0,
            "selectedRecord": [{"x": i / 10, "y": 1 - i / 10, "time": i}],
        }
        for i in range(10)
    ]
    src = tmp_path / "r.json"
    src.write_text(json.dumps(recs), encoding="utf-8")
    table = ingest_imagenet_ab(src, tmp_path / "t")
    ids = [f"n0/n0_{i}" for i in range(12)][::-1]
    pts, has = table.align(ids).single(np.arange(len(ids)))
    want_pts, want_has = parse_imagenet_ab(src).lookup(ids)
    np.testing.assert_array_equal(has, want_has)
    np.testing.assert_array_equal(pts, want_pts)


def test_cache_is_reused_until_the_source_or_options_change(tmp_path):
    src = tmp_path / "c.json"
    src.write_text(json.dumps([coco_rec(1, [("cake", 0.5, 0.5)])]), encoding="utf-8")
    out = tmp_path / "t"
    ingest_coco_ab(src, out)
    stamp = (out / "points.arrow").stat().st_mtime_ns
    ingest_coco_ab(src, out)
    assert (out / "points.arrow").stat().st_mtime_ns == stamp  # reused
    src.write_text(
        json.dumps([coco_rec(1, [("cake", 0.5, 0.5)]), coco_rec(2, [("sink", 0.1, 0.1)])]), encoding="utf-8"
    )
    assert len(ingest_coco_ab(src, out)) == 2  # source changed: rebuilt
    assert ingest_coco_ab(src, out, mode="last_add").meta["options"] == {"mode": "last_add"}


def test_incomplete_table_is_an_error_naming_the_fix(tmp_path):
    with pytest.raises(DataError, match="run `luab-bench data ingest`"):
        PointTable(tmp_path)
    src = tmp_path / "c.json"
    src.write_text(json.dumps([coco_rec(1, [("cake", 0.5, 0.5)])]), encoding="utf-8")
    ingest_coco_ab(src, tmp_path / "t")
    (tmp_path / "t" / "points.arrow").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable point table"):
        PointTable(tmp_path / "t")


def test_alignment_round_trips_through_npy(tmp_path):
    table = write_point_table(
        tmp_path / "t",
        dataset="coco-ab",
        keys=[5, 7],
        counts=np.array([2, 1]),
        cls=np.array([1, 2, 3]),
        xy=np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]),
        icons=np.array([1, 1, 2]),
        meta={},
    )
    aligned = table.align([7, 6, 5])
    table.save_alignment(aligned, tmp_path / "align.npy")
    again = table.load_alignment(tmp_path / "align.npy")
    np.testing.assert_array_equal(again.start, aligned.start)
    np.testing.assert_array_equal(again.count, aligned.count)
    assert table.icons[again.start[0]] == 2


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.integers(0, 50),
        st.lists(
            st.tuples(st.sampled_from(["cake", "sink", "person"]), st.floats(0, 1), st.floats(0, 1)),
            max_size=4,
        ),
        max_size=15,
    ),
    st.lists(st.integers(0, 60), max_size=20),
)
def test_property_dense_lookup_equals_parser(tmp_path_factory, images, query):
    tmp = tmp_path_factory.mktemp("pt")
    records = [coco_rec(i, icons) for i, icons in images.items()]
    src = tmp / "c.json"
    src.write_text(json.dumps(records), encoding="utf-8")
    parsed = parse_coco_ab(src)
    table = ingest_coco_ab(src, tmp / "t", force=True)
    cols = {CAKE: 0, SINK: 1, PERSON: 2}
    pts, has = table.align(query).dense(np.arange(len(query)), cols)
    for row, image_id in enumerate(query):
        got = parsed.images.get(image_id)
        for cat, col in cols.items():
            p = got.points.get(cat) if got else None
            assert has[row, col] == (p is not None)
            if p is not None:
                assert pts[row, col].tolist() == [np.float32(p.x), np.float32(p.y)]
