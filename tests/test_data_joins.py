"""Joins (local images vs records) and data stats, checked against brute-force counts; CLI commands."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from luab_bench.data import stats as st
from luab_bench.data.coco import folder_image_ids, parse_instances
from luab_bench.data.coco_ab import CATEGORY_ID, parse_coco_ab
from luab_bench.data.imagenet import id_from_filename, imagefolder_samples
from luab_bench.data.synthetic_coco import (
    SYNTHETIC_COCO_VARIANTS,
    class_table,
    generate_coco,
    load_coco_split,
)


def test_imagefolder_order_and_join_counts(tmp_path):
    for wnid, n in (("n02", 2), ("n01", 3)):
        (tmp_path / wnid).mkdir()
        for i in range(n):
            (tmp_path / wnid / f"{wnid}_{i}.JPEG").write_bytes(b"")
    (tmp_path / "n01" / "notes.txt").write_text("x")
    ids, labels, classes = imagefolder_samples(tmp_path)
    assert classes == ["n01", "n02"] and labels == [0, 0, 0, 1, 1]
    assert ids[:2] == ["n01/n01_0", "n01/n01_1"]
    assert id_from_filename("train/n01_10026.JPEG") == "n01/n01_10026"
    report = st.join(ids, {"n01/n01_0": 1, "n02/n02_1": 1, "n09/n09_9": 1})
    assert (report.images, report.records, report.matched) == (5, 3, 2)
    assert report.images_without_record == 3 and report.records_without_image == 1
    assert report.examples["records without an image"] == ["n09/n09_9"]


def test_click_in_box_brute_force():
    rng = np.random.default_rng(0)
    points = {f"a/{i}": tuple(rng.random(2).tolist()) for i in range(200)}
    boxes = {
        f"a/{i}": [tuple(sorted(rng.random(2)).__iter__()) + tuple(sorted(rng.random(2)))]
        for i in range(0, 200, 2)
    }
    boxes = {k: [(b[0][0], b[0][2], b[0][1], b[0][3])] for k, b in boxes.items()}  # x0, y0, x1, y1
    r = st.click_in_box(points, boxes)
    hits = sum(
        1
        for k, (x, y) in points.items()
        if k in boxes and boxes[k][0][0] <= x <= boxes[k][0][2] and boxes[k][0][1] <= y <= boxes[k][0][3]
    )
    assert (r.hits, r.n) == (hits, 100)


def _instances():
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 100, "height": 50},
            {"id": 2, "file_name": "b.jpg", "width": 10, "height": 10},
        ],
        "categories": [
            {"id": CATEGORY_ID["cake"], "name": "cake"},
            {"id": CATEGORY_ID["sink"], "name": "sink"},
        ],
        "annotations": [
            {"image_id": 1, "category_id": CATEGORY_ID["cake"], "bbox": [0, 0, 50, 25]},
            {"image_id": 1, "category_id": CATEGORY_ID["sink"], "bbox": [50, 25, 50, 25]},
            {"image_id": 2, "category_id": CATEGORY_ID["cake"], "bbox": [0, 0, 10, 10]},
        ],
    }


def _add(name, x, y, t):
    return {
        "actionType": "add",
        "iconType": name,
        "pointFrom": None,
        "pointTo": {"x": x, "y": y},
        "timeAt": t,
    }


def test_coco_stats_hand_built():
    inst = parse_instances(_instances())
    parsed = parse_coco_ab(
        [
            {"image_id": 1, "actionHistories": [_add("cake", 0.25, 0.25, 1), _add("person", 0.9, 0.9, 2)]},
            {"image_id": 2, "actionHistories": [_add("cake", 0.5, 0.5, 1)]},
            {"image_id": 3, "actionHistories": [_add("sink", 0.5, 0.5, 1)]},  # no original labels
        ]
    )
    s = st.coco_stats(parsed, inst.labels)
    assert (s["recall_original"].hits, s["recall_original"].n) == (
        2,
        3,
    )  # cake@1, cake@2 of {cake,sink}@1 + cake@2
    assert (s["icon_precision"].hits, s["icon_precision"].n) == (2, 3)  # person@1 is not an original class
    assert (s["icon_in_box"].hits, s["icon_in_box"].n) == (2, 2)
    assert s["reannotated"] == 3
    assert json.loads(json.dumps(st.stats_dict(s)))["icon_precision"]["value"] == 2 / 3


def test_coco_folder_join(tmp_path):
    inst = parse_instances(_instances())
    (tmp_path / "a.jpg").write_bytes(b"")
    ids = folder_image_ids(tmp_path, inst)
    assert ids == [1]
    parsed = parse_coco_ab([{"image_id": 1, "actionHistories": []}, {"image_id": 7, "actionHistories": []}])
    r = st.join(ids, parsed.images)
    assert (r.matched, r.images_without_record, r.records_without_image) == (1, 0, 1)


def test_synthetic_coco_stats_match_brute_force(tmp_path):
    cfg = SYNTHETIC_COCO_VARIANTS["synthetic-coco-tiny"]
    out = generate_coco(cfg, tmp_path)
    tr = load_coco_split(out, "train")
    table = class_table(cfg.num_classes)
    k_to_cat = {c["index"]: c["category_id"] for c in table}
    cats = {
        iid: {k_to_cat[k] for k in np.flatnonzero(tr["labels"][i])} for i, iid in enumerate(tr["image_ids"])
    }
    boxes: dict = {}
    for i, k, *b in tr["objects"].tolist():
        boxes.setdefault(tr["image_ids"][int(i)], {}).setdefault(k_to_cat[int(k)], []).append(tuple(b))
    parsed = parse_coco_ab(out / "coco_ab.json")
    s = st.coco_stats(parsed, st.CocoLabels(cats, boxes))
    pairs = [(iid, c) for iid in parsed.images for c in cats[iid]]
    assert s["recall_original"].n == len(pairs)
    assert s["recall_original"].hits == sum(c in parsed.images[iid].points for iid, c in pairs)
    assert s["icon_in_box"].value > 0.6  # the simulated annotator drops most icons on the object


def test_cli_ingest_info_stats(tmp_path):
    from luab_bench.commands.data import data

    recs = tmp_path / "r.json"
    recs.write_text(
        json.dumps(
            [{"imageID": "n0/n0_1", "selected": True, "selectedRecord": [{"x": 0.5, "y": 0.5, "time": 1}]}]
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    res = runner.invoke(data, ["ingest", "imagenet-ab", str(recs), "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "1 images, 1 points" in res.output
    res = runner.invoke(data, ["info", str(tmp_path / "points" / "imagenet-ab")])
    assert res.exit_code == 0 and "dataset: imagenet-ab" in res.output
    (tmp_path / "imgs" / "n0").mkdir(parents=True)
    (tmp_path / "imgs" / "n0" / "n0_2.JPEG").write_bytes(b"")
    res = runner.invoke(
        data, ["stats", "imagenet-ab", str(recs), "--images", str(tmp_path / "imgs"), "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["stats"]["reselected"] == {"hits": 1, "n": 1, "value": 1.0}
    assert out["stats"]["reselected_share"] == {"hits": 0, "n": 1, "value": 0.0}  # n0_1 is not on disk
    assert out["stats"]["paper"]["reselected"]["text"] == "1,110,786 images re-selected"
    res = runner.invoke(data, ["stats", "imagenet-ab", str(recs)])
    assert "[paper: 1,272,225 images interacted with (LUAB §3.2.2)]" in res.output
    assert out["join"]["records_without_image"] == 1 and out["join"]["images_without_record"] == 1
    for cmd in ("download", "ingest", "info", "stats", "generate", "parse"):
        assert runner.invoke(data, [cmd, "--help"]).exit_code == 0
    res = runner.invoke(
        data, ["generate", "--variant", "synthetic-coco-tiny", "--data-dir", str(tmp_path / "d")]
    )
    assert res.exit_code == 0 and "synthetic-coco-tiny" in res.output


def test_icon_in_mask_and_per_image_recall_against_hand_counts():
    inst = _instances()
    # image 1 (100 x 50): cake = the left half (polygon), sink = an RLE square in the bottom right
    inst["annotations"][0]["segmentation"] = [[0, 0, 49, 0, 49, 49, 0, 49]]
    sink = np.zeros((50, 100), bool)
    sink[30:50, 70:100] = True
    runs, flat, cur, n = [], sink.T.ravel(), False, 0
    for v in flat:  # column-major run lengths starting with 0s (COCO's uncompressed RLE)
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    inst["annotations"][1]["segmentation"] = {"size": [50, 100], "counts": runs}
    labels = parse_instances(inst).labels
    parsed = parse_coco_ab(
        [
            {
                "image_id": 1,
                "actionHistories": [
                    _add("cake", 0.25, 0.5, 1),  # pixel (25, 25): in the cake mask
                    _add("sink", 0.6, 0.9, 2),  # pixel (60, 45): inside the sink box, outside its mask
                    _add("person", 0.9, 0.9, 3),  # not an original class: a wrong placement
                ],
            },
            {"image_id": 2, "actionHistories": []},  # cake@2 not retrieved; no segmentation given
        ]
    )
    s = st.coco_stats(parsed, labels)
    assert (s["icon_in_mask"].hits, s["icon_in_mask"].n) == (1, 3)
    assert (s["recall_original"].hits, s["recall_original"].n) == (2, 3)
    assert s["recall_original_per_image"].value == (2 / 2 + 0 / 1) / 2
    lines = st.stats_lines(s, "coco-ab")
    assert any(
        ln.startswith("icon_in_mask: 33.33%") and "[paper: 92.3%" in ln and "§4.1" in ln for ln in lines
    )
    d = st.stats_dict(s, "coco-ab")
    assert d["paper"]["recall_original"]["where"] == "LUAB §3.3.2" and "icon_precision" not in d["paper"]


def test_folder_shares_use_the_papers_denominators():
    f = st.folder_shares("imagenet-ab", ["a", "b", "c", "d"], ["a", "b", "c", "x"], ["a", "x"])
    assert f["train_images"] == 4
    assert (f["interacted_share"].hits, f["interacted_share"].n) == (3, 4)
    assert (f["reselected_share"].hits, f["reselected_share"].n) == (1, 4)
    lines = st.stats_lines(f, "imagenet-ab")
    assert "train_images: 4  [paper: 1,281,167 ImageNet-1K train images (LUAB §3.2.1)]" in lines
    g = st.folder_shares("coco-ab", [1, 2], [2, 3], [2])
    assert (g["reannotated_share"].hits, g["reannotated_share"].n) == (1, 2) and "[paper: 99.98%" in (
        st.stats_lines(g, "coco-ab")[1]
    )
