"""Training-data sources (train/sources/): joins, file-backed batches, and `luab-bench train` on each.

Fixtures are tiny copies of the released layouts written in tmp_path: an ImageFolder tree of JPEGs of
different sizes, an HF imagenet-1k-style parquet shard, a COCO-2014 folder + instances json + COCO-AB
json, each joined with byproduct records.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from luab_bench.errors import ConfigError, DataError, LuabError
from luab_bench.protocols.base import AugmentationConfig
from luab_bench.train.data import FileTrainData, TrainData, iter_batches
from luab_bench.train.sources import SourceRequest, prepare_source

WNIDS = ("n01440764", "n01443537")
# (height, width) per image: all different, portrait and landscape
SIZES = [(48, 64), (60, 40), (50, 50), (72, 56), (40, 80), (64, 48)]
RED = (230, 20, 20)


def _image(h: int, w: int, cx: float, cy: float) -> Image.Image:
    """Dark grey image with a solid red square (side 40% of the short side) centred at (cx, cy)."""
    arr = np.full((h, w, 3), 40, dtype=np.uint8)
    half = max(int(0.2 * min(h, w)), 3)
    x, y = int(cx * w), int(cy * h)
    arr[max(y - half, 0) : y + half, max(x - half, 0) : x + half] = RED
    return Image.fromarray(arr)


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _centres(i: int) -> tuple[float, float]:
    return 0.3 + 0.08 * (i % 5), 0.35 + 0.06 * (i % 4)


def _ab_record(image_id: str, x: float, y: float) -> dict:
    return {"imageID": image_id, "selected": True, "selectedRecord": [{"x": x, "y": y, "time": 1.0}]}


VAL_SIZES = [(40, 60), (56, 44), (50, 70), (64, 64)]


def _make_imagefolder(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """``imagenet/train``: 2 classes x 3 JPEGs; records for 5 of the 6 images plus one for an image
    that is not here. ``imagenet/val``: 2 JPEGs per training class + 1 of a class not trained on."""
    val = tmp_path / "imagenet" / "val"
    for i, (h, w) in enumerate(VAL_SIZES):
        wnid = WNIDS[i // 2]
        (val / wnid).mkdir(parents=True, exist_ok=True)
        (val / wnid / f"ILSVRC2012_val_{i + 1:08d}.JPEG").write_bytes(_jpeg(_image(h, w, *_centres(i))))
    (val / "n09999999").mkdir()
    (val / "n09999999" / "ILSVRC2012_val_00000099.JPEG").write_bytes(_jpeg(_image(30, 30, 0.5, 0.5)))
    root = tmp_path / "imagenet" / "train"
    ids, records = [], []
    for i, (h, w) in enumerate(SIZES):
        wnid = WNIDS[i // 3]
        stem = f"{wnid}_{100 + i}"
        (root / wnid).mkdir(parents=True, exist_ok=True)
        cx, cy = _centres(i)
        (root / wnid / f"{stem}.JPEG").write_bytes(_jpeg(_image(h, w, cx, cy)))
        ids.append(f"{wnid}/{stem}")
        if i != 4:
            records.append(_ab_record(f"{wnid}/{stem}", cx, cy))
    records.append(_ab_record("n09999999/n09999999_1", 0.5, 0.5))
    ab = tmp_path / "imagenet_ab.json"
    ab.write_text(json.dumps(records))
    return root, ab, ids


@pytest.fixture()
def imagefolder(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    return _make_imagefolder(tmp_path)


def _request(tmp_path: Path, **kw) -> SourceRequest:
    return SourceRequest(data_dir=tmp_path / "cache", progress=False, **kw)


AUG = AugmentationConfig(rrc_scale=(0.4, 1.0), rrc_ratio=(0.75, 4 / 3), hflip=0.5)


def _batches(data, *, seed=0, epoch=0, start_batch=0, shard=(0, 1), batch_size=6, aug=AUG):
    return list(
        iter_batches(
            data,
            batch_size=batch_size,
            seed=seed,
            epoch=epoch,
            out_size=32,
            augmentation=aug,
            mean=(0.0, 0.0, 0.0),
            std=(1.0, 1.0, 1.0),
            start_batch=start_batch,
            shard=shard,
        )
    )


def test_imagefolder_join_counts_labels_and_sizes(tmp_path, imagefolder):
    root, ab, _ = imagefolder
    prep = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab))
    assert prep.variant == "imagefolder" and prep.num_classes == 2 and not prep.multilabel
    data = prep.data
    assert isinstance(data, FileTrainData) and len(data) == 6
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.images.sizes.tolist() == [list(s) for s in SIZES]
    assert data.has_point[:, 0].tolist() == [True, True, True, True, False, True]
    np.testing.assert_allclose(data.points[0, 0], _centres(0), atol=1e-6)
    join = prep.meta["join"]
    assert (join["images"], join["images_without_record"], join["records_without_image"]) == (6, 1, 1)
    assert prep.meta["byproducts"]["records"] == 6 and len(prep.meta["fingerprint"]) == 64
    # sizes are cached: a second prepare reads the cache file, same answer
    again = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab))
    assert again.data.images.sizes.tolist() == data.images.sizes.tolist()
    assert list((tmp_path / "cache" / "train-sources").glob("sizes-*.npy"))


def test_data_root_layout_and_missing_inputs(tmp_path, imagefolder):
    root, ab, _ = imagefolder
    prep = prepare_source("imagenet-ab", _request(tmp_path, data_root=tmp_path, byproducts=ab))
    assert len(prep.data) == 6
    with pytest.raises(ConfigError, match="--train-data"):
        prepare_source("imagenet-ab", _request(tmp_path / "elsewhere"))
    with pytest.raises(ConfigError, match="--byproducts"):
        prepare_source("imagenet-ab", _request(tmp_path / "fresh", train_data=root))
    with pytest.raises(ConfigError, match="unknown option"):
        prepare_source("imagenet-ab", _request(tmp_path, train_data=root, options={"clik": "first"}))
    with pytest.raises(LuabError, match="did you mean"):
        prepare_source("imagenet_ab", _request(tmp_path))


def test_file_batches_shapes_and_point_stays_on_marked_pixel(tmp_path, imagefolder):
    root, ab, _ = imagefolder
    data = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab)).data
    checked = 0
    for epoch in range(6):
        (batch,) = _batches(data, epoch=epoch)
        assert batch.images.shape == (6, 3, 32, 32) and batch.labels.shape == (6,)
        assert batch.points.shape == (6, 1, 2) and batch.has_point.shape == (6, 1)
        for b in range(6):
            if not batch.has_point[b, 0]:
                continue
            x, y = batch.points[b, 0].tolist()
            px, py = min(int(x * 32), 31), min(int(y * 32), 31)
            r, g, _ = batch.images[b, :, py, px].tolist()
            assert r > 0.7 and g < 0.3, (epoch, b, x, y)
            checked += 1
    assert checked >= 20  # most targets stay in view over 6 epochs of crops and flips


def test_file_batches_deterministic_resume_and_shards(tmp_path, imagefolder):
    root, ab, _ = imagefolder
    data = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab)).data
    full = _batches(data, seed=5, batch_size=2)
    again = _batches(data, seed=5, batch_size=2)
    assert len(full) == 3
    for a, b in zip(full, again, strict=True):
        assert all((u == v).all() for u, v in zip(a, b, strict=True))
    other = _batches(data, seed=6, batch_size=2)
    assert any(not (a.images == b.images).all() for a, b in zip(full, other, strict=True))
    resumed = _batches(data, seed=5, batch_size=2, start_batch=2)
    assert len(resumed) == 1 and (resumed[0].images == full[2].images).all()
    assert (resumed[0].points == full[2].points).all()
    wide = _batches(data, seed=5, batch_size=6)[0]
    halves = [_batches(data, seed=5, batch_size=6, shard=(r, 2))[0] for r in (0, 1)]
    for field in range(5):
        import torch

        assert torch.equal(torch.cat([h[field] for h in halves]), wide[field])


def test_workers_give_the_same_batches(tmp_path, imagefolder):
    import dataclasses

    root, ab, _ = imagefolder
    data = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab)).data
    two = dataclasses.replace(data, num_workers=2)
    for a, b in zip(_batches(data, batch_size=3), _batches(two, batch_size=3), strict=True):
        assert all((u == v).all() for u, v in zip(a, b, strict=True))
    # the worker pool persists across epochs; each epoch still gets its own crops, and a resumed
    # epoch (start_batch) and an abandoned one leave the next epoch's batches unchanged
    ((loader, _),) = two._loaders.values()
    assert loader.persistent_workers and loader.prefetch_factor == 4
    first = next(iter_batches(two, batch_size=3, seed=0, epoch=1, out_size=32, augmentation=AUG,
                              mean=(0.0,) * 3, std=(1.0,) * 3))  # fmt: skip
    for epoch in (1, 2):
        for start in (0, 1):
            ref = _batches(data, batch_size=3, epoch=epoch, start_batch=start)
            got = _batches(two, batch_size=3, epoch=epoch, start_batch=start)
            assert len(got) == len(ref) == 2 - start
            for a, b in zip(ref, got, strict=True):
                assert all((u == v).all() for u, v in zip(a, b, strict=True))
    assert (first.images == _batches(data, batch_size=3, epoch=1)[0].images).all()
    assert not (_batches(two, batch_size=3, epoch=1)[0].images == _batches(two, batch_size=3)[0].images).all()
    assert [v[0] for v in two._loaders.values()] == [loader]  # one pool, reused
    two.close_workers()
    assert not two._loaders and len(_batches(two, batch_size=3)) == 2  # a new pool on demand


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_corrupt_jpeg_is_a_data_error_naming_the_file(tmp_path, imagefolder, workers):
    import dataclasses

    root, ab, _ = imagefolder
    bad = root / WNIDS[1] / f"{WNIDS[1]}_105.JPEG"
    blob = bad.read_bytes()
    bad.write_bytes(blob[: len(blob) * 3 // 4])  # header intact, data truncated
    data = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab)).data
    data = dataclasses.replace(data, num_workers=workers)
    with pytest.raises(DataError, match=str(bad).replace("\\", "\\\\")) as err:
        _batches(data)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=bad.name):  # and again in the next epoch (same worker pool)
        _batches(data, epoch=1)
    bad.write_bytes(b"not an image")  # header unreadable: the size scan names it
    with pytest.raises(DataError, match=f"{bad.name}.*cannot read image header"):
        prepare_source("imagenet-ab", _request(tmp_path / "c2", train_data=root, byproducts=ab))


def _parquet(tmp_path: Path) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, labels, records = [], [], []
    for i, (h, w) in enumerate(SIZES):
        name = f"{WNIDS[i % 2]}_{200 + i}.JPEG"
        cx, cy = _centres(i)
        rows.append({"bytes": _jpeg(_image(h, w, cx, cy)), "path": name})
        labels.append(7 if i % 2 else 3)
        if i != 0:
            records.append(_ab_record(f"{WNIDS[i % 2]}/{name[:-5]}", cx, cy))
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    meta = {"info": {"features": {"label": {"names": [f"c{k}" for k in range(10)], "_type": "ClassLabel"}}}}
    table = pa.table({"image": pa.array(rows, type=image_type), "label": pa.array(labels, pa.int64())})
    table = table.replace_schema_metadata({"huggingface": json.dumps(meta)})
    shard = tmp_path / "imagenet-1k" / "data" / "train-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    pq.write_table(table, shard, row_group_size=4)
    ab = tmp_path / "ab.json"
    ab.write_text(json.dumps(records))
    return tmp_path / "imagenet-1k", ab


def test_parquet_source_reads_hf_layout(tmp_path):
    root, ab = _parquet(tmp_path)
    prep = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab))
    assert prep.variant == "parquet" and prep.num_classes == 10  # from the ClassLabel metadata
    data = prep.data
    assert data.labels.tolist() == [3, 7, 3, 7, 3, 7]
    assert data.images.sizes.tolist() == [list(s) for s in SIZES]
    assert data.has_point[:, 0].tolist() == [False, True, True, True, True, True]
    assert prep.meta["join"]["images_without_record"] == 1
    for i in (0, 5):  # rows in two different row groups decode to the image written there
        arr = data.images.read(i)
        assert arr.shape == (*SIZES[i], 3)
        cx, cy = _centres(i)
        assert tuple(arr[int(cy * SIZES[i][0]), int(cx * SIZES[i][1])] > 150) == (True, False, False)
    (batch,) = _batches(data)
    assert batch.images.shape == (6, 3, 32, 32)


def _coco(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "coco"
    (root / "train2014").mkdir(parents=True)
    (root / "annotations").mkdir()
    images, anns = [], []
    cats = [{"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"}, {"id": 3, "name": "car"}]
    labels = {1: [1, 3], 2: [2], 3: [], 4: [1]}  # image 3: no annotations; image 4: no file
    for image_id, (h, w) in zip((1, 2, 3, 4), SIZES, strict=False):
        name = f"COCO_train2014_{image_id:012d}.jpg"
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        if image_id != 4:
            (root / "train2014" / name).write_bytes(_jpeg(_image(h, w, 0.5, 0.5)))
        for cat in labels[image_id]:
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "bbox": [1, 1, 5, 5]})
    (root / "annotations" / "instances_train2014.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats})
    )

    def rec(image_id, actions):
        return {
            "worker_id": "6BD0D119F0",
            "hit_id": "7b1f14f23d8b4a59a37e9d28943c10a3",
            "page_id": 0,
            "image_id": image_id,
            "imageWidth": 450,
            "imageHeight": 450,
            "originalImageWidth": 640,
            "originalImageHeight": 480,
            "actionHistories": actions,
            "categoryHistories": [],
            "mouseTracking": [],
            "timeSpent": 1000,
        }

    def add(name, x, y, t):
        to = {"x": x, "y": y}
        return {"actionType": "add", "iconType": name, "pointFrom": None, "pointTo": to, "timeAt": t}

    move = {
        "actionType": "move",
        "iconType": "person",
        "pointFrom": {"x": 0.2, "y": 0.3},
        "pointTo": {"x": 0.6, "y": 0.7},
        "timeAt": 3,
    }
    records = [
        rec(1, [add("person", 0.2, 0.3, 1), add("car", 0.8, 0.1, 2), move]),
        rec(2, [add("bicycle", 0.4, 0.4, 1), add("dog", 0.1, 0.1, 2)]),  # dog: not a column here
        rec(99, [add("person", 0.5, 0.5, 1)]),  # no such image
    ]
    ab = tmp_path / "coco_ab.json"
    ab.write_text(json.dumps(records))
    return root, ab


def test_coco_ab_source_multihot_and_class_points(tmp_path):
    root, ab = _coco(tmp_path)
    prep = prepare_source("coco-ab", _request(tmp_path, data_root=root, byproducts=ab))
    assert prep.multilabel and prep.num_classes == 3
    assert prep.default_protocols == ("coco_baseline", "coco_rand", "coco_luab")
    data = prep.data
    assert data.labels.astype(int).tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert data.images.sizes.tolist() == [list(s) for s in SIZES[:3]]
    assert data.has_point.tolist() == [[True, False, True], [False, True, False], [False, False, False]]
    np.testing.assert_allclose(data.points[0, 0], (0.2, 0.3), atol=1e-6)  # final add (LUAB §4.1)
    np.testing.assert_allclose(data.points[0, 2], (0.8, 0.1), atol=1e-6)
    join = prep.meta["join"]
    assert join["images"] == 3 and join["images_without_record"] == 1
    assert join["records_without_image"] == 1 and join["class_points"] == 3
    assert join["images_without_annotations"] == 1 and join["instances_images_without_file"] == 1
    assert prep.meta["classes"] == ["person", "bicycle", "car"]
    assert prep.meta["options"]["mode"] == "last_add" and prep.meta["config"]["mode"] == "last_add"
    replayed = prepare_source(
        "coco-ab", _request(tmp_path / "c2", data_root=root, byproducts=ab, options={"mode": "replay"})
    )
    np.testing.assert_allclose(replayed.data.points[0, 0], (0.6, 0.7), atol=1e-6)  # replay: the move wins
    with pytest.raises(ConfigError, match="last_add"):
        bad = _request(tmp_path / "c3", data_root=root, byproducts=ab, options={"mode": "x"})
        prepare_source("coco-ab", bad)
    (batch,) = _batches(data, batch_size=3)
    assert batch.labels.shape == (3, 3) and batch.points.shape == (3, 3, 2)


def test_synthetic_coco_source_matches_the_parser(tmp_path):
    from luab_bench.data.coco_ab import parse_coco_ab
    from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS, generate_coco, load_coco_split

    prep = prepare_source("synthetic-coco", _request(tmp_path, variant="synthetic-coco-tiny"))
    directory = generate_coco(SYNTHETIC_COCO_VARIANTS["synthetic-coco-tiny"], tmp_path / "cache")
    split = load_coco_split(directory, "train")
    manifest = json.loads((directory / "manifest.json").read_text())
    assert isinstance(prep.data, TrainData) and prep.multilabel
    assert prep.fingerprint == manifest["fingerprint"] and prep.evaluation_dir == directory
    expect = np.zeros_like(prep.data.has_point)
    col = {c["category_id"]: c["index"] for c in manifest["classes"]}
    for (image_id, cat), (x, y) in parse_coco_ab(directory / "coco_ab.json").points().items():
        row = split["image_ids"].index(image_id)
        expect[row, col[cat]] = True
        np.testing.assert_allclose(prep.data.points[row, col[cat]], (x, y), atol=1e-6)
    assert (prep.data.has_point == expect).all() and expect.sum() > 0
    assert (prep.data.labels == split["labels"]).all()
    assert prep.meta["options"] == {"mode": "last_add"}  # recorded, so `reproduce` passes it again
    replayed = prepare_source(
        "synthetic-coco", _request(tmp_path, variant="synthetic-coco-tiny", options={"mode": "replay"})
    )
    parsed = parse_coco_ab(directory / "coco_ab.json", mode="replay")
    assert int(replayed.data.has_point.sum()) == sum(len(i.points) for i in parsed.images.values())
    assert replayed.meta["options"] == {"mode": "replay"}


def test_protocol_defaults_and_mismatch(tmp_path):
    from luab_bench import pipeline

    assert pipeline.expand_protocols("all", "synthetic-coco") == ["coco_baseline", "coco_rand", "coco_luab"]
    assert pipeline.expand_protocols("all", "synthetic") == ["baseline", "rand", "luab"]
    assert pipeline.expand_protocols("all") == ["baseline", "rand", "luab"]
    with pytest.raises(LuabError, match="coco_luab"):
        pipeline.train_one(
            model="resnet10t",
            protocol="luab",
            suite="synthetic-coco",
            variant="synthetic-coco-tiny",
            data_dir=tmp_path,
            out=tmp_path / "ck",
            device="cpu",
            progress=False,
        )


TINY_RECIPE = """
name: tiny
version: "1.0"
epochs: 1
batch_size: 4
optimizer: sgd
lr: 0.01
weight_decay: 0.0
schedule: cosine
augmentation: {rrc_scale: [0.5, 1.0], rrc_ratio: [0.75, 1.3333333], hflip: 0.5}
eval_batch_size: 8
image_size: 32
"""


def _train(tmp_path: Path, name: str, *args: str) -> dict:
    from luab_bench.cli import cli

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY_RECIPE)
    out = tmp_path / f"ck-{name}"
    res = CliRunner().invoke(
        cli,
        ["train", "--model", "resnet10t", "--recipe", str(recipe), "--device", "cpu", "--no-progress",
         "--data-dir", str(tmp_path / "cache"), "--out", str(out), *args],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return json.loads((out / "checkpoint.json").read_text())


def test_cli_train_one_epoch_on_each_file_source(tmp_path, imagefolder):
    import torch

    torch.set_num_threads(1)
    root, ab, _ = imagefolder
    meta = _train(
        tmp_path, "folder", "--suite", "imagenet", "--protocol", "luab",
        "--train-data", str(root), "--byproducts", str(ab), "--workers", "0",
    )  # fmt: skip
    assert meta["data"]["source"] == "imagenet-ab" and meta["data"]["join"]["images_without_record"] == 1
    assert meta["model"]["num_classes"] == 2 and meta["training"]["steps"] == 2  # 6 images, batches 4 + 2
    proot, pab = _parquet(tmp_path / "pq")
    meta = _train(
        tmp_path, "parquet", "--suite", "imagenet", "--protocol", "rand",
        "--train-data", str(proot), "--byproducts", str(pab), "--source-option", "cache_row_groups=1",
    )  # fmt: skip
    assert meta["data"]["variant"] == "parquet" and meta["model"]["num_classes"] == 10
    croot, cab = _coco(tmp_path / "co")
    meta = _train(
        tmp_path, "coco", "--suite", "coco", "--protocol", "coco_luab",
        "--data-root", str(croot), "--byproducts", str(cab),
    )  # fmt: skip
    assert meta["data"]["source"] == "coco-ab" and meta["model"]["num_point_heads"] == 3


def test_cli_train_synthetic_coco(tmp_path):
    import torch

    torch.set_num_threads(1)
    meta = _train(
        tmp_path, "sc", "--suite", "synthetic-coco", "--variant", "synthetic-coco-tiny",
        "--protocol", "coco_luab",
    )  # fmt: skip
    assert meta["data"]["source"] == "synthetic-coco" and meta["data"]["join"]["class_points"] > 0
    assert meta["training"]["curves"]["point_in_view"]


def test_cli_run_synthetic_coco_end_to_end(tmp_path):
    import torch

    from luab_bench.cli import cli

    torch.set_num_threads(1)
    res = CliRunner().invoke(
        cli,
        ["run", "--model", "resnet10t", "--suite", "synthetic-coco", "--variant", "synthetic-coco-tiny",
         "--protocol", "coco_baseline,coco_luab", "--epochs", "1", "--device", "cpu", "--no-progress",
         "--data-dir", str(tmp_path / "d"), "--runs-dir", str(tmp_path / "runs"),
         "--results-dir", str(tmp_path / "res"), "--site-dir", str(tmp_path / "site")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    docs = [json.loads(p.read_text()) for p in sorted((tmp_path / "res").glob("*.json"))]
    assert sorted(d["protocol"]["name"] for d in docs) == ["coco_baseline", "coco_luab"]
    assert all("synthetic_coco_map" in d["metrics"] for d in docs)
    assert any("synthetic_coco_point_loc_acc" in d["metrics"] for d in docs)
    assert (tmp_path / "site" / "index.html").is_file()
    # evaluated on the generated data the model was trained on, identified by its manifest fingerprint
    manifest = json.loads(next((tmp_path / "d").glob("synthetic-coco-tiny*/manifest.json")).read_text())
    assert {d["suite"]["data_fingerprint"] for d in docs} == {manifest["fingerprint"]}
    assert {d["suite"]["variant"] for d in docs} == {"synthetic-coco-tiny"}
    # a bare `evaluate` of such a checkpoint needs no --data-root; the single-label suite refuses it
    ckpt = next((tmp_path / "runs").glob("*coco_luab*"))
    out = tmp_path / "again.json"
    args = ["evaluate", "--checkpoint", str(ckpt), "--data-dir", str(tmp_path / "d"), "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, "--no-progress", "--out", str(out)])
    assert res.exit_code == 0, res.output
    luab = next(d for d in docs if d["protocol"]["name"] == "coco_luab")
    evaluated = {k: v for k, v in luab["metrics"].items() if not k.startswith("align_")}
    assert json.loads(out.read_text())["metrics"] == evaluated  # deterministic re-evaluation
    # run aligned it (Grad-CAM's last conv layer is 1 x 1 at 32 px: skipped with that reason)
    assert luab["alignment"]["curves"] and "align_gbp_r" in luab["metrics"]
    res = CliRunner().invoke(cli, [*args, "--no-progress", "--suite", "synthetic", "--out", str(out)])
    assert res.exit_code != 0 and "evaluates the generated 'synthetic' data" in res.output


# ---------------------------------------------------------------- held-out curves per source
def test_imagenet_val_held_out_maps_classes_and_skips_when_absent(tmp_path, imagefolder):
    from luab_bench.train.heldout import HeldOutFiles, HeldOutSet

    root, ab, _ = imagefolder
    said: list[str] = []
    prep = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab, echo=said.append))
    held = prep.held_out
    assert isinstance(held, HeldOutFiles) and held.crop_pct == 0.875
    assert held.labels.tolist() == [0, 0, 1, 1]  # val wnids -> training class indices
    assert any("1 images of" in m and "classes not trained on" in m for m in said)
    assert held.reader.sizes.tolist() == [list(s) for s in VAL_SIZES]  # headers of the subset only
    loaded = held.load(24)
    assert isinstance(loaded, HeldOutSet) and loaded.images.shape == (4, 24, 24, 3)
    # option held_out: a seeded subset, the same for the same seed
    two = prepare_source(
        "imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab, seed=5, options={"held_out": 2})
    ).held_out
    again = prepare_source(
        "imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab, seed=5, options={"held_out": 2})
    ).held_out
    assert len(two.reader) == 2 and two.reader.paths == again.reader.paths
    assert (
        prepare_source(
            "imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab, options={"held_out": 0})
        ).held_out
        is None
    )
    with pytest.raises(ConfigError, match="held_out"):
        prepare_source(
            "imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab, options={"held_out": -1})
        )
    import shutil

    shutil.rmtree(root.parent / "val")
    said.clear()
    prep = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab, echo=said.append))
    assert prep.held_out is None
    assert any(m.startswith("Held-out curves: skipped (no ImageNet validation images at") for m in said)


def test_parquet_validation_shards_give_held_out(tmp_path):
    import shutil

    root, ab = _parquet(tmp_path)
    shard = next(root.rglob("train-*.parquet"))
    shutil.copy(shard, shard.parent / "validation-00000-of-00001.parquet")
    prep = prepare_source("imagenet-ab", _request(tmp_path, train_data=root, byproducts=ab))
    assert len(prep.data) == 6  # validation shards are not trained on
    held = prep.held_out
    assert held.labels.tolist() == [3, 7, 3, 7, 3, 7]
    assert held.load(16).images.shape == (6, 16, 16, 3)


def test_coco_val_held_out_has_labels_and_class_boxes(tmp_path):
    import shutil

    root, ab = _coco(tmp_path)
    said: list[str] = []
    assert (
        prepare_source(
            "coco-ab", _request(tmp_path, data_root=root, byproducts=ab, echo=said.append)
        ).held_out
        is None
    )
    assert any("no COCO validation data" in m for m in said)
    shutil.copytree(root / "train2014", root / "val2014")
    shutil.copy(
        root / "annotations" / "instances_train2014.json", root / "annotations" / "instances_val2014.json"
    )
    held = prepare_source("coco-ab", _request(tmp_path, data_root=root, byproducts=ab)).held_out
    assert held.crop_pct is None and held.labels.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    loaded = held.load(20)
    # bbox [1, 1, 5, 5] of image 1 (64 wide, 48 high): relative xyxy, one row per (image, class) box
    assert loaded.objects[:, :2].tolist() == [[0, 0], [0, 2], [1, 1]]
    assert loaded.objects[0, 2:].tolist() == pytest.approx([1 / 64, 1 / 48, 6 / 64, 6 / 48])


def test_synthetic_coco_source_held_out_is_multilabel_with_objects(tmp_path):
    prep = prepare_source("synthetic-coco", _request(tmp_path, variant="synthetic-coco-tiny"))
    held = prep.held_out
    assert held.multilabel and len(held) == 20 and held.objects is not None
    assert held.labels.shape == (20, prep.num_classes)
