"""ImageNet-AB record parser: Z = final click of selected images, every other record counted."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luab_bench.data.byproducts import (
    MALFORMED_KINDS,
    NO_POINT_REASONS,
    ImageNetABRecord,
    parse_imagenet_ab,
    validate_record,
)
from luab_bench.errors import DataError, LuabError

T0 = 1_650_000_000_000  # epoch ms, like Date.now()


def click(x: float, y: float, dt: int) -> dict[str, Any]:
    return {"x": x, "y": y, "time": T0 + dt}


def rec(image_id: str = "n01440764/n01440764_105", selected: bool = True, clicks=None, **extra) -> dict:
    clicks = [click(0.25, 0.75, 10)] if clicks is None else clicks
    r = {
        "imageID": image_id,
        "originalImageHeight": 375,
        "originalImageWidth": 500,
        "selected": selected,
        "selectedRecord": clicks,
        "mouseTracking": [click(0.1, 0.2, 0), click(0.2, 0.3, 5)],
        "worker_id": "6BD0D119F0",
        "assignment_id": "3XYZ",
    }
    r.update(extra)
    return r


def write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def check_invariants(report) -> None:
    assert report.records == report.images + report.n_malformed
    assert report.images == report.with_point + report.n_no_point
    json.dumps(report.as_dict())  # provenance must be JSON-ready


# --------------------------------------------------------------------------- valid records


def test_selected_record_gives_its_click():
    bp = parse_imagenet_ab([rec()])
    assert bp.points == {"n01440764/n01440764_105": (0.25, 0.75)}
    assert bp.report.with_point == 1 and bp.report.images == 1 and bp.report.records == 1
    check_invariants(bp.report)


def test_unselected_records_get_no_point_counted_by_reason():
    records = [
        rec("a/a_1", selected=False, clicks=[]),
        rec("a/a_2", selected=False, clicks=[click(0.5, 0.5, 1)]),  # selected then deselected
        rec("a/a_3", selected=False, clicks=[click(0.5, 0.5, 1), click(0.6, 0.6, 2)]),
        rec("a/a_4"),
    ]
    bp = parse_imagenet_ab(records)
    assert set(bp.points) == {"a/a_4"}
    assert bp.report.no_point == {"not_selected": 1, "deselected": 2}
    assert bp.report.n_malformed == 0
    check_invariants(bp.report)


def test_select_deselect_select_uses_the_third_click():
    clicks = [click(0.1, 0.1, 100), click(0.2, 0.2, 200), click(0.9, 0.4, 300)]
    bp = parse_imagenet_ab([rec(clicks=clicks)])
    assert bp.points["n01440764/n01440764_105"] == (0.9, 0.4)


def test_out_of_order_times_pick_the_latest_and_ties_pick_the_last_in_list():
    out_of_order = [click(0.7, 0.7, 300), click(0.1, 0.1, 100), click(0.2, 0.2, 200)]
    ties = [click(0.1, 0.1, 100), click(0.3, 0.3, 500), click(0.6, 0.6, 500), click(0.2, 0.2, 50)]
    bp = parse_imagenet_ab([rec("a/a_1", clicks=out_of_order), rec("a/a_2", clicks=ties)])
    assert bp.points == {"a/a_1": (0.7, 0.7), "a/a_2": (0.6, 0.6)}
    first = parse_imagenet_ab([rec("a/a_1", clicks=out_of_order), rec("a/a_2", clicks=ties)], click="first")
    assert first.points == {"a/a_1": (0.1, 0.1), "a/a_2": (0.2, 0.2)}
    assert first.report.click == "first"


def test_integer_coordinates_and_extra_keys_are_accepted():
    bp = parse_imagenet_ab([rec(clicks=[click(0, 1, 5)], somethingNew=[1, 2])])
    assert bp.points["n01440764/n01440764_105"] == (0.0, 1.0)
    assert all(isinstance(v, float) for v in bp.points["n01440764/n01440764_105"])


def test_bad_click_argument_is_a_user_error():
    with pytest.raises(LuabError, match="'final' or 'first'"):
        parse_imagenet_ab([rec()], click="last")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- malformed records


def _drop(key):
    def f(r):
        del r[key]
        return r

    return f


def _set(key, value):
    def f(r):
        r[key] = value
        return r

    return f


def _set_click(key, value):
    def f(r):
        r["selectedRecord"][0][key] = value
        return r

    return f


def _drop_click(key):
    def f(r):
        del r["selectedRecord"][0][key]
        return r

    return f


MALFORMED_CASES = [
    ("missing_key", _drop("imageID"), "'imageID'"),
    ("missing_key", _drop("selected"), "'selected'"),
    ("missing_key", _drop("selectedRecord"), "'selectedRecord'"),
    ("missing_key", _drop_click("time"), "selectedRecord[0] has no 'time'"),
    ("wrong_type", lambda r: [r], "expected an object"),
    ("wrong_type", _set("selected", "True"), "'selected' must be a JSON boolean"),
    ("wrong_type", _set("selected", 1), "'selected' must be a JSON boolean"),
    ("wrong_type", _set("imageID", 17), "'imageID' must be a non-empty string"),
    ("wrong_type", _set("imageID", ""), "'imageID' must be a non-empty string"),
    ("wrong_type", _set("selectedRecord", {"x": 0.1}), "'selectedRecord' must be a list"),
    ("wrong_type", _set("selectedRecord", [[0.1, 0.2, 3]]), "selectedRecord[0] is a JSON list"),
    ("wrong_type", _set_click("x", "0.5"), "selectedRecord[0].x must be a number"),
    ("wrong_type", _set_click("time", True), "selectedRecord[0].time must be a number"),
    ("wrong_type", _set("originalImageHeight", 375.5), "'originalImageHeight' must be an integer"),
    ("wrong_type", _set("mouseTracking", "none"), "'mouseTracking' must be a list"),
    ("non_finite", _set_click("x", float("nan")), "selectedRecord[0].x is nan"),
    ("non_finite", _set_click("time", float("inf")), "selectedRecord[0].time is inf"),
    ("out_of_range", _set_click("x", 1.3), "outside [0, 1]"),
    ("out_of_range", _set_click("y", -0.01), "outside [0, 1]"),
    ("out_of_range", _set("originalImageWidth", 0), "must be positive"),
    ("empty_list", _set("selectedRecord", []), "'selectedRecord' is empty"),
]


@pytest.mark.parametrize(("kind", "mutate", "needle"), MALFORMED_CASES)
def test_malformed_record_is_counted_when_not_strict(kind, mutate, needle):
    bad = mutate(rec("n01440764/n01440764_7"))
    bp = parse_imagenet_ab([rec("n01440764/n01440764_1"), bad, rec("n01440764/n01440764_2")])
    assert set(bp.points) == {"n01440764/n01440764_1", "n01440764/n01440764_2"}
    assert bp.report.malformed[kind] == 1
    assert bp.report.n_malformed == 1
    (example,) = bp.report.examples[kind]
    assert "<records>: record 1" in example and needle in example
    check_invariants(bp.report)


@pytest.mark.parametrize(("kind", "mutate", "needle"), MALFORMED_CASES)
def test_malformed_record_raises_in_strict_mode_naming_file_record_and_fix(tmp_path, kind, mutate, needle):
    bad = mutate(rec("n01440764/n01440764_7"))
    path = tmp_path / "records.json"
    # json.dumps writes NaN/Infinity literals; the parser must still read them (and flag them).
    write_json(path, [rec("n01440764/n01440764_1"), bad])
    with pytest.raises(DataError) as info:
        parse_imagenet_ab(path, strict=True)
    msg = str(info.value)
    assert f"{path}: record 1" in msg and kind in msg and needle in msg and "fix:" in msg
    if isinstance(bad, dict) and isinstance(bad.get("imageID"), str) and bad["imageID"]:
        assert "n01440764/n01440764_7" in msg
    # the same file parses without error when not strict
    assert parse_imagenet_ab(path).report.malformed[kind] == 1


def test_duplicate_ids_first_valid_record_wins():
    records = [
        rec("a/a_1", clicks=[click(2.0, 0.5, 1)]),  # malformed: does not claim the id
        rec("a/a_1", clicks=[click(0.1, 0.2, 1)]),  # first valid: wins
        rec("a/a_1", clicks=[click(0.9, 0.9, 9)]),  # duplicate
        rec("a/a_2", selected=False, clicks=[]),  # valid, no Z: wins
        rec("a/a_2", clicks=[click(0.5, 0.5, 1)]),  # duplicate, even though it has a click
    ]
    bp = parse_imagenet_ab(records)
    assert bp.points == {"a/a_1": (0.1, 0.2)}
    assert bp.report.malformed["duplicate_id"] == 2 and bp.report.malformed["out_of_range"] == 1
    assert bp.report.images == 2 and bp.report.no_point["not_selected"] == 1
    assert "already given by <records>: record 1" in bp.report.examples["duplicate_id"][0]
    check_invariants(bp.report)
    strict_msg = r"<records>: record 1 \(imageID 'a/a_1'\): duplicate_id: .* by <records>: record 0; fix:"
    with pytest.raises(DataError, match=strict_msg):
        parse_imagenet_ab(records[1:3], strict=True)


def test_examples_are_capped_per_kind():
    records = [rec(f"a/a_{i}", selected="yes") for i in range(10)]
    bp = parse_imagenet_ab(records)
    assert bp.report.malformed["wrong_type"] == 10
    assert len(bp.report.examples["wrong_type"]) == 3


# --------------------------------------------------------------------------- files


def test_json_lines_with_a_broken_line_counts_it_with_its_line_number(tmp_path):
    path = tmp_path / "records.jsonl"
    good = [json.dumps(rec(f"a/a_{i}")) for i in range(3)]
    path.write_text(
        f"{good[0]}\n\n{good[1]}\n{{'imageID': broken\n{good[2]}\n{good[2][:40]}", encoding="utf-8"
    )
    bp = parse_imagenet_ab(path)
    assert set(bp.points) == {"a/a_0", "a/a_1", "a/a_2"}
    assert bp.report.malformed["unparsable_json"] == 2
    assert bp.report.records == 5  # the blank line is not a record
    first, second = bp.report.examples["unparsable_json"]
    assert f"{path}: line 4" in first and f"{path}: line 6" in second
    check_invariants(bp.report)
    with pytest.raises(DataError, match=rf"{path}: line 4: unparsable_json: line is not valid JSON"):
        parse_imagenet_ab(path, strict=True)


def test_json_lines_file_with_a_broken_first_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"imageID": \n' + json.dumps(rec("a/a_1")) + "\n", encoding="utf-8")
    bp = parse_imagenet_ab(path)
    assert set(bp.points) == {"a/a_1"} and bp.report.malformed["unparsable_json"] == 1


@pytest.mark.parametrize("strict", [False, True])
def test_truncated_json_list_raises_in_both_modes(tmp_path, strict):
    path = tmp_path / "imagenet_ab.json"
    text = json.dumps([rec(f"a/a_{i}") for i in range(5)])
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(DataError, match=r"imagenet_ab\.json: not a complete JSON list .*line 1 column \d+"):
        parse_imagenet_ab(path, strict=strict)


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no such file"), ("", "file is empty"), ("  \n", "file is empty"), ("<html>", "not JSON")],
)
def test_unreadable_files_raise_in_both_modes(tmp_path, strict, content, needle):
    path = tmp_path / "records.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=needle) as info:
        parse_imagenet_ab(path, strict=strict)
    assert str(path) in str(info.value)


def test_directory_without_record_files_raises(tmp_path):
    (tmp_path / "notes.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(DataError, match="no record files"):
        parse_imagenet_ab(tmp_path)


def test_directory_mixes_formats_in_sorted_order(tmp_path):
    sub = tmp_path / "shards"
    sub.mkdir()
    write_json(tmp_path / "b.json", [rec("a/a_1", clicks=[click(0.1, 0.1, 1)]), rec("a/a_2")])
    write_jsonl(tmp_path / "a.jsonl", [rec("a/a_1", clicks=[click(0.9, 0.9, 1)])])
    (sub / "c.json").write_text(json.dumps(rec("a/a_3"), indent=2), encoding="utf-8")  # one record
    (tmp_path / "README.md").write_text("ignored", encoding="utf-8")
    bp = parse_imagenet_ab(str(tmp_path))
    assert bp.points["a/a_1"] == (0.9, 0.9)  # a.jsonl sorts before b.json: it wins
    assert set(bp.points) == {"a/a_1", "a/a_2", "a/a_3"}
    assert bp.report.malformed["duplicate_id"] == 1
    assert [Path(s).name for s in bp.report.sources] == ["a.jsonl", "b.json", "c.json"]
    check_invariants(bp.report)


def test_file_and_iterable_give_the_same_result(tmp_path):
    records = [rec("a/a_1"), rec("a/a_2", selected=False, clicks=[]), rec("a/a_3", selected=3)]
    from_iter = parse_imagenet_ab(iter(records))
    from_list = parse_imagenet_ab(write_json(tmp_path / "r.json", records))
    from_lines = parse_imagenet_ab(write_jsonl(tmp_path / "r.jsonl", records))
    for other in (from_list, from_lines):
        assert other.points == from_iter.points
        assert other.report.no_point == from_iter.report.no_point
        assert other.report.malformed == from_iter.report.malformed


def test_non_iterable_source_is_a_user_error():
    with pytest.raises(LuabError, match="path or an iterable"):
        parse_imagenet_ab(42)  # type: ignore[arg-type]
    with pytest.raises(LuabError, match="path or an iterable"):
        parse_imagenet_ab(rec())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- lookup and report


def test_lookup_returns_float32_points_and_mask():
    records = [rec(f"a/a_{i}", clicks=[click(i / 10, 1 - i / 10, i)]) for i in range(5)]
    records.append(rec("a/a_9", selected=False, clicks=[]))
    bp = parse_imagenet_ab(records)
    ids = ["a/a_3", "missing", "a/a_9", "a/a_0", "a/a_3"]
    pts, has = bp.lookup(ids)
    assert pts.dtype == np.float32 and pts.shape == (5, 2)
    assert has.dtype == np.bool_ and has.tolist() == [True, False, False, True, True]
    expected = np.array([[0.3, 0.7], [0, 0], [0, 0], [0.0, 1.0], [0.3, 0.7]], dtype=np.float32)
    np.testing.assert_array_equal(pts, expected)
    pts2, has2 = bp.lookup(np.array(ids))  # numpy string arrays work too
    np.testing.assert_array_equal(pts2, pts)
    np.testing.assert_array_equal(has2, has)
    pts3, has3 = bp.lookup(i for i in ids)  # and plain iterables
    np.testing.assert_array_equal(pts3, pts)
    np.testing.assert_array_equal(has3, has)
    empty_pts, empty_has = bp.lookup([])
    assert empty_pts.shape == (0, 2) and empty_has.shape == (0,)
    assert len(bp) == 5 and "a/a_0" in bp and "a/a_9" not in bp


def test_lookup_on_an_empty_table():
    bp = parse_imagenet_ab([rec(selected=False, clicks=[])])
    pts, has = bp.lookup(["n01440764/n01440764_105"])
    assert pts.shape == (1, 2) and not has.any()


def test_report_summary_and_dict():
    records = [rec("a/a_1"), rec("a/a_2", selected=False, clicks=[]), rec("a/a_3", selected=None)]
    report = parse_imagenet_ab(records).report
    d = report.as_dict()
    assert d["records"] == 3 and d["images"] == 2 and d["with_point"] == 1
    assert set(d["no_point"]) == set(NO_POINT_REASONS) and set(d["malformed"]) == set(MALFORMED_KINDS)
    assert d["malformed"]["wrong_type"] == 1 and d["no_point"]["not_selected"] == 1
    text = "\n".join(report.summary_lines())
    assert "records: 3 read from <records>" in text
    assert "with Z (final click of a selected image): 1 (50.0%)" in text
    assert "no Z: 1 (not_selected 1)" in text
    assert "malformed, skipped: 1 (wrong_type 1)" in text
    assert "e.g. <records>: record 2 (imageID 'a/a_3'): wrong_type" in text


# --------------------------------------------------------------------------- typed model


def test_validate_record_accepts_the_full_schema():
    full = rec(
        selectedCount=1,
        hoveredCount=1,
        hoveredRecord=[{"action": "enter", "time": T0}, {"action": "leave", "time": T0 + 9}],
        imagePosition={"x": 10, "y": 20},
        imageWidth=160,
        imageHeight=120,
        estimateTime=1234,
    )
    model = validate_record(full)
    assert isinstance(model, ImageNetABRecord)
    assert model.selected is True and model.selectedRecord[0].x == 0.25
    assert model.hoveredRecord is not None and model.hoveredRecord[1].action == "leave"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r["mouseTracking"].append({"x": 1.5, "y": 0.1, "time": T0}), "mouseTracking.2.x"),
        (lambda r: r.update(hoveredRecord=[{"action": "hover", "time": T0}]), "hoveredRecord.0.action"),
        (lambda r: r.update(selected="True"), "selected"),
        (lambda r: r.pop("imageID"), "imageID"),
    ],
)
def test_validate_record_names_the_bad_field(mutate, needle):
    r = rec()
    mutate(r)
    with pytest.raises(DataError, match=rf"rec 7: {needle}"):
        validate_record(r, where="rec 7")


# --------------------------------------------------------------------------- property test

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
clicks_st = st.lists(
    st.builds(lambda x, y, t: {"x": x, "y": y, "time": T0 + t}, unit, unit, st.integers(0, 20)),
    max_size=6,
)


@st.composite
def record_lists(draw):
    n = draw(st.integers(0, 25))
    out = []
    for i in range(n):
        selected = draw(st.booleans())
        clicks = draw(clicks_st.filter(lambda c, s=selected: bool(c) or not s))
        out.append(
            {"imageID": f"n{i % 3:08d}/n{i % 3:08d}_{i}", "selected": selected, "selectedRecord": clicks}
        )
    return out


def oracle(records, final=True):
    """Independent Z: sort each record's clicks by (time, position) and take the last (or first)."""
    expected, reasons = {}, {"not_selected": 0, "deselected": 0}
    for r in records:
        c = r["selectedRecord"]
        if not r["selected"]:
            reasons["deselected" if c else "not_selected"] += 1
            continue
        if final:
            i = sorted(range(len(c)), key=lambda k: (c[k]["time"], k))[-1]
        else:
            i = sorted(range(len(c)), key=lambda k: (c[k]["time"], k))[0]
        expected[r["imageID"]] = (c[i]["x"], c[i]["y"])
    return expected, reasons


@settings(max_examples=60, deadline=None)
@given(record_lists(), st.sampled_from(["final", "first"]))
def test_property_z_matches_oracle_and_survives_json_round_trip(records, choice):
    expected, reasons = oracle(records, final=choice == "final")
    bp = parse_imagenet_ab(records, click=choice)
    assert bp.points == expected
    assert bp.report.no_point == reasons
    assert bp.report.n_malformed == 0 and bp.report.records == len(records)
    with tempfile.TemporaryDirectory() as tmp:
        as_list = write_json(Path(tmp) / "r.json", records) if records else None
        as_lines = write_jsonl(Path(tmp) / "r.jsonl", records) if records else None
        for path in (as_list, as_lines):
            if path is None:
                continue
            again = parse_imagenet_ab(path, click=choice)
            assert again.points == bp.points  # floats survive JSON exactly
            assert again.report.no_point == bp.report.no_point
    ids = [r["imageID"] for r in records] + ["absent/absent_0"]
    pts, has = bp.lookup(ids)
    for k, image_id in enumerate(ids):
        assert has[k] == (image_id in expected)
        if has[k]:
            assert pts[k].tolist() == [np.float32(v) for v in expected[image_id]]
        else:
            assert pts[k].tolist() == [0.0, 0.0]
    assert all(math.isfinite(v) for xy in bp.points.values() for v in xy)


def test_plain_json_fallback_gives_the_same_result(tmp_path, monkeypatch):

    records = [
        rec("a/a_1"),
        rec("a/a_2", selected=False, clicks=[]),
        rec("a/a_3", clicks=[click(0.5, 1.5, 1)]),
    ]
    path = write_jsonl(tmp_path / "r.jsonl", records)
    with_orjson = parse_imagenet_ab(path)
    from luab_bench import safe_json

    monkeypatch.setattr(safe_json, "_orjson", None)  # the shared loader both parsers use
    without = parse_imagenet_ab(path)
    assert without.points == with_orjson.points == {"a/a_1": (0.25, 0.75)}
    assert without.report.as_dict() == with_orjson.report.as_dict()


# --------------------------------------------------------------------------- XML tarball (the Hub file)

from luab_bench.data.imagenet_ab_xml import records_to_xml, write_imagenet_ab_tar  # noqa: E402


def _xml_images():
    return {
        "n01440764/n01440764_105": [
            rec("n01440764/n01440764_105", clicks=[click(0.2, 0.4, 1), click(0.6, 0.8, 9)]),
            rec("n01440764/n01440764_105", clicks=[click(0.4, 0.2, 5)]),
            rec("n01440764/n01440764_105", selected=False, clicks=[]),
        ],
        "n01440764/n01440764_7": [rec("n01440764/n01440764_7", selected=False, clicks=[click(0.5, 0.5, 1)])],
        "n02000000/n02000000_1": [rec("n02000000/n02000000_1", clicks=[click(0.9, 0.1, 3)])],
    }


def test_hub_tarball_is_streamed_into_records(tmp_path):
    path = write_imagenet_ab_tar(
        tmp_path / "imagenet_ab_v1_0.tar.gz",
        _xml_images(),
        boxes={"n01440764/n01440764_105": [("n01440764", 0.5, 0.5, 1.0, 1.0)]},
    )
    first = parse_imagenet_ab(path)  # aggregate="first": later annotations are duplicates
    assert first.points == {"n01440764/n01440764_105": (0.6, 0.8), "n02000000/n02000000_1": (0.9, 0.1)}
    assert first.report.malformed["duplicate_id"] == 2 and first.report.no_point["deselected"] == 1
    assert first.report.boxes["n01440764/n01440764_105"][0][1:] == (0.5, 0.5, 1.0, 1.0)
    check_invariants(first.report)
    # the official notebook: first click of every selected annotation, averaged
    official = parse_imagenet_ab(path, click="first", aggregate="mean")
    x, y = official.points["n01440764/n01440764_105"]
    assert (x, y) == pytest.approx(((0.2 + 0.4) / 2, (0.4 + 0.2) / 2))
    assert official.report.n_malformed == 0 and official.report.images == 3
    assert official.report.no_point == {"not_selected": 0, "deselected": 1}


def test_xml_folder_and_broken_xml_are_counted(tmp_path):
    folder = tmp_path / "train_xml" / "n01440764"
    folder.mkdir(parents=True)
    (folder / "n01440764_1.xml").write_bytes(records_to_xml("n01440764/n01440764_1", [rec("x/x_1")]))
    (folder / "n01440764_2.xml").write_bytes(b"<annotation><metadata><selected>True</sel")
    bp = parse_imagenet_ab(tmp_path / "train_xml")
    assert set(bp.points) == {"n01440764/n01440764_1"}  # no <imageID> element: the id comes from the path
    assert bp.report.malformed["unparsable_json"] == 1
    assert "n01440764_2.xml" in bp.report.examples["unparsable_json"][0]


def test_xml_bad_selected_text_is_wrong_type(tmp_path):
    data = records_to_xml("a/a_1", [rec("a/a_1", selected="yes")])
    path = tmp_path / "a_1.xml"
    path.write_bytes(data)
    with pytest.raises(DataError, match="wrong_type: 'selected' must be a JSON boolean"):
        parse_imagenet_ab(path, strict=True)


def test_truncated_tarball_raises_naming_it(tmp_path):
    path = write_imagenet_ab_tar(tmp_path / "ab.tar.gz", _xml_images())
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"ab\.tar\.gz: the tarball is truncated or corrupt"):
        parse_imagenet_ab(path)


def test_bad_aggregate_argument_is_a_user_error():
    with pytest.raises(LuabError, match="'first' or 'mean'"):
        parse_imagenet_ab([rec()], aggregate="median")  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(record_lists(), st.sampled_from(["final", "first"]))
def test_property_xml_round_trip_matches_json(records, choice):
    by_image: dict[str, list] = {}
    for r in records:
        by_image.setdefault(r["imageID"], []).append(r)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_imagenet_ab_tar(Path(tmp) / "ab.tar.gz", by_image)
        flat = [r for image_id in sorted(by_image) for r in by_image[image_id]]
        for aggregate in ("first", "mean"):
            want = parse_imagenet_ab(flat, click=choice, aggregate=aggregate)
            got = parse_imagenet_ab(path, click=choice, aggregate=aggregate)
            assert got.points == want.points
            assert got.report.no_point == want.report.no_point
            assert got.report.malformed == want.report.malformed


# --------------------------------------------------------------------------- empty-list spellings (issue 16)

from luab_bench.data.byproducts import LIST_FIELDS  # noqa: E402

#: JSON values that spell an empty list, as exports write them
JSON_EMPTY_SPELLINGS = [None, [], "", "None", "null", "[]", "  None "]
#: XML bodies of a list field that spell an empty list (the Hub's ``<x>None</x>``, an empty element)
XML_EMPTY_SPELLINGS = ["<{t}>None</{t}>", "<{t}/>", "<{t}></{t}>", "<{t}>[]</{t}>", "<{t}>null</{t}>"]


@pytest.mark.parametrize("spelling", JSON_EMPTY_SPELLINGS)
@pytest.mark.parametrize("field", LIST_FIELDS)
def test_json_empty_list_spellings_are_empty_lists(field, spelling):
    unselected = rec("a/a_1", selected=False, clicks=[])
    unselected[field] = spelling
    selected = rec("a/a_2", clicks=[click(0.3, 0.6, 1)])
    if field != "selectedRecord":
        selected[field] = spelling
    bp = parse_imagenet_ab([unselected, selected], strict=True)
    assert bp.report.no_point == {"not_selected": 1, "deselected": 0}
    assert bp.points == {"a/a_2": (0.3, 0.6)} and bp.report.n_malformed == 0
    assert getattr(validate_record(unselected), field) == []
    check_invariants(bp.report)


def _meta(body: str, selected: str = "False") -> str:
    return f"<metadata><selected>{selected}</selected>{body}<worker_id>W1</worker_id></metadata>"


@pytest.mark.parametrize("spelling", XML_EMPTY_SPELLINGS)
def test_xml_empty_list_spellings_count_as_not_selected(tmp_path, spelling):
    empty = "".join(spelling.format(t=t) for t in LIST_FIELDS)
    clicked = "<selectedRecord><x>0.25</x><y>0.5</y><time>3.5</time></selectedRecord>"
    clicked += spelling.format(t="mouseTracking") + spelling.format(t="hoveredRecord")
    xml = f"<annotation><folder>n01</folder>{_meta(empty)}{_meta(clicked, 'True')}</annotation>"
    folder = tmp_path / "train_xml" / "n01440764"
    folder.mkdir(parents=True)
    (folder / "n01440764_1.xml").write_text(xml)
    (folder / "n01440764_2.xml").write_text(f"<annotation>{_meta(empty)}</annotation>")
    bp = parse_imagenet_ab(tmp_path / "train_xml", strict=True, aggregate="mean")
    assert bp.points == {"n01440764/n01440764_1": (0.25, 0.5)}
    assert bp.report.no_point == {"not_selected": 1, "deselected": 0} and bp.report.n_malformed == 0
    first = parse_imagenet_ab(tmp_path / "train_xml")  # first annotation wins: not selected
    assert first.report.no_point["not_selected"] == 2 and first.report.malformed["duplicate_id"] == 1


def test_a_real_wrong_type_is_still_counted_and_the_fix_does_not_say_re_export():
    bad = rec("a/a_3", selectedRecord="nothing")
    bp = parse_imagenet_ab([bad, rec("a/a_4")])
    assert bp.report.malformed["wrong_type"] == 1
    with pytest.raises(DataError, match="without --strict") as err:
        parse_imagenet_ab([bad], strict=True)
    assert "re-export" not in str(err.value)
    with pytest.raises(DataError) as err:
        parse_imagenet_ab([_drop("imageID")(rec())], strict=True)
    assert "re-export" not in str(err.value)


def test_card_fields_are_typed():
    r = validate_record(rec(page_idx=3, image_idx=17, hit_id="H", imagenet_hit_id="IH", hit_submit_time="t"))
    assert r.page_idx == 3 and r.image_idx == 17 and r.imagenet_hit_id == "IH"


@settings(max_examples=30, deadline=None)
@given(record_lists(), st.data())
def test_property_empty_list_spellings_parse_like_empty_lists(records, draw):
    """Respelling every empty list field (JSON and, through the tarball, XML) changes nothing."""
    respelled = []
    for r in records:
        r = {**r, "mouseTracking": [], "hoveredRecord": []}
        respelled.append(
            {k: draw.draw(st.sampled_from(JSON_EMPTY_SPELLINGS)) if v == [] else v for k, v in r.items()}
        )
    want = parse_imagenet_ab([{**r, "mouseTracking": [], "hoveredRecord": []} for r in records], strict=True)
    got = parse_imagenet_ab(respelled, strict=True)
    assert got.points == want.points and got.report.no_point == want.report.no_point
    by_image: dict[str, list] = {}
    for r in respelled:  # the XML writer writes "None" as <x>None</x>, "" as <x></x>, "[]" as <x>[]</x>
        by_image.setdefault(r["imageID"], []).append(r)
    flat = [r for image_id in sorted(by_image) for r in by_image[image_id]]
    plain = [
        {k: [] if k in LIST_FIELDS and not isinstance(v, list) else v for k, v in r.items()} for r in flat
    ]
    with tempfile.TemporaryDirectory() as tmp:
        xml = parse_imagenet_ab(write_imagenet_ab_tar(Path(tmp) / "ab.tar.gz", by_image), strict=True)
    want = parse_imagenet_ab(plain, strict=True)
    assert xml.points == want.points and xml.report.no_point == want.report.no_point
