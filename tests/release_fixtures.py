"""One builder of tiny, generated copies of every real release layout luab-bench reads (issue 16).

:func:`build_releases` lays out under one data root, exactly as the releases extract:

* the Hub byproduct files: ``hub/imagenet_ab_v1_0.tar.gz`` (``train_xml/<wnid>/<wnid>_<n>.xml``, one
  ``<metadata>`` per annotation, empty lists written as ``<x>None</x>`` and as empty elements, as on
  the Hub), the same records as JSON (``hub/imagenet_ab.json``, empty lists as ``null`` / ``"None"`` /
  ``"[]"`` / ``""``), and ``hub/coco_ab_v1_0.json`` (COCO-AB records);
* ImageNet val (``imagenet/val/<wnid>/ILSVRC2012_val_XXXXXXXX.JPEG``, 1000 class folders) and
  ``real.json``; ImageNetV2 (``imagenetv2-matched-frequency-format-val/<k>/``); ImageNet-A / -R / -O
  (200 wnid folders each); ImageNet-Sketch (``sketch/``, 1000 folders); ImageNet-C
  (``imagenet-c/<corruption>/<1..5>/<wnid>/``, 15 x 5 x 1000 folders: one real severity folder, the
  other 74 are symlinks to it, so building costs 1000 folders instead of 75,000; every loader sees
  the released tree); ObjectNet 1.0 with its ``mappings/`` files; the Backgrounds Challenge / IN-9
  (``bg_challenge/`` with ``original``, ``only_fg``, ``mixed_same``, ``mixed_rand``, ``only_bg_t``,
  ``fg_mask`` and ``in_to_in9.json``); SI-Score in both layouts (the bucket's
  ``si-score/object_size/`` with ``foreground_classes.csv``; the https zips'
  ``si-score/location20_area02_min0pc/`` and ``rotation/``, no table);
* COCO-2014 (``coco2014/val2014/`` + ``annotations/instances_val2014.json``) and a clovaai/wsolevaluation
  checkout (``wsolevaluation/metadata/ILSVRC/test/*.txt`` + ``dataset/ILSVRC/val/``).

``only`` restricts the ImageNet test sets to some task names (cheaper trees for focused tests);
``broken`` breaks some on purpose: ``sketch`` (999 class folders, a partial extraction), ``c`` (one
severity folder missing, an incomplete download), ``v2`` (a stray non-numeric folder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from luab_bench.metrics.ood import IMAGENET_C_CORRUPTIONS, IMAGENET_C_SEVERITIES
from luab_bench.suites import imagenet_data as data

SYN = data.imagenet_synsets()
SIZE = 32  # every image is SIZE x SIZE (the Backgrounds Challenge composites need equal sizes)
IMAGENET_TASK_DATA = ("in1k_val", "real", "v2", "a", "r", "sketch", "c", "o", "objectnet", "backgrounds")
IMAGENET_TASK_DATA += ("bg_challenge", "si_size", "si_loc", "si_rot")


def img(path: Path, value: int = 0, size: tuple[int, int] = (SIZE, SIZE)) -> Path:
    """A flat-colour RGB image (channel values ``value``, ``value*3``, ``value*7`` mod 256)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.array([value % 256, (3 * value) % 256, (7 * value) % 256], np.uint8)
    Image.fromarray(np.broadcast_to(rgb, (*size, 3)).copy()).save(path)
    return path


def _wnid_tree(root: Path, wnids: list[str] | tuple[str, ...], images: dict[int, int]) -> None:
    """One folder per wnid; ``images[k]`` images in the k-th folder (named like val files)."""
    n = 0
    for k, w in enumerate(wnids):
        (root / w).mkdir(parents=True, exist_ok=True)
        for _ in range(images.get(k, 0)):
            n += 1
            img(root / w / f"ILSVRC2012_val_{n:08d}.JPEG", 11 * n + k)


def imagenet_val(root: Path) -> Path:
    """1000 class folders, 2 images in each of classes 0..3 (inside the IN-O/IN-A subset below)."""
    _wnid_tree(root, SYN, {k: 2 for k in range(4)})
    return root


def real_json(path: Path, n: int = 8) -> Path:
    path.write_text(json.dumps([[k // 2] if k % 3 else [] for k in range(n)]))
    return path


def imagenet_v2(root: Path, broken: bool = False) -> Path:
    for k in (0, 1, 2, 500, 999):
        img(root / str(k) / f"{k}a.jpeg", k)
    if broken:
        (root / "imagenetv2-matched-frequency-format-val").mkdir()  # a nested re-extraction
    return root


def subset200(root: Path, which: str) -> Path:
    """ImageNet-A / -R / -O: 200 wnid folders (A/R: timm's lists; O: the first 200 classes)."""
    if which in ("a", "r"):
        from importlib.resources import files

        import timm.data._info as info

        wnids = files(info).joinpath(f"imagenet_{which}_synsets.txt").read_text().split()
    else:
        wnids = list(SYN[:200])
    _wnid_tree(root, wnids, {0: 1, 1: 1, 2: 1})
    return root


def sketch(root: Path, broken: bool = False) -> Path:
    _wnid_tree(root, SYN[: 999 if broken else 1000], {0: 1, 7: 1})
    return root


def imagenet_c(root: Path, broken: bool = False) -> Path:
    """15 corruptions x 5 severities x 1000 wnid folders (74 cells are symlinks to the first)."""
    first = root / IMAGENET_C_CORRUPTIONS[0] / "1"
    _wnid_tree(first, SYN, {0: 1, 3: 1})
    for c in IMAGENET_C_CORRUPTIONS:
        for s in IMAGENET_C_SEVERITIES:
            cell = root / c / str(s)
            if cell != first and not (broken and c == IMAGENET_C_CORRUPTIONS[-1] and s == 5):
                cell.parent.mkdir(parents=True, exist_ok=True)
                cell.symlink_to(first.resolve(), target_is_directory=True)
    return root


def objectnet(root: Path) -> Path:
    """ObjectNet 1.0: images/<folder>/ and the four mappings/ files (shifted id permutation)."""
    maps = root / "mappings"
    maps.mkdir(parents=True)
    (maps / "folder_to_objectnet_label.json").write_text(
        json.dumps({"alarm_clock": "Alarm clock", "mug": "Mug"})
    )
    (maps / "objectnet_to_imagenet_1k.json").write_text(
        json.dumps({"Alarm clock": "analog clock; digital clock", "Mug": "cup"})
    )
    names = [f"name{i}" for i in range(1000)]
    names[409], names[530], names[968] = "analog clock", "digital clock", "cup"
    # the released files relate line numbers (2012 ids) to pytorch indices; use a shifted permutation
    (maps / "pytorch_to_imagenet_2012_id.json").write_text(
        json.dumps({str(i): (i + 1) % 1000 for i in range(1000)})
    )
    lines = [""] * 1000
    for i in range(1000):
        lines[(i + 1) % 1000] = names[i]
    (maps / "imagenet_to_label_2012_v2").write_text("\n".join(lines) + "\n")
    img(root / "images" / "alarm_clock" / "1.png", 10)
    img(root / "images" / "mug" / "2.png", 20)
    return root


IN9 = [f"{k:02d}_{name}" for k, name in enumerate(("dog", "bird", "wheeled vehicle", "reptile",
       "carnivore", "insect", "musical instrument", "primate", "fish"))]  # fmt: skip


def backgrounds(root: Path) -> Path:
    """IN-9 variants (one image per class) + the challenge inputs (fg_mask, only_bg_t, in_to_in9)."""
    mapping = {str(i): (i % 9 if i < 90 else -1) for i in range(1000)}
    root.mkdir(parents=True, exist_ok=True)
    (root / "in_to_in9.json").write_text(json.dumps(mapping))
    for k, name in enumerate(IN9):
        for v, variant in enumerate(("original", "only_fg", "mixed_same", "mixed_rand", "only_bg_t")):
            img(root / variant / "val" / name / f"n0_{k}.JPEG", 17 * k + v)
        (root / "fg_mask" / "val" / name).mkdir(parents=True)
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[8:24, 8:24] = True
    for k in (0, 1):
        np.save(root / "fg_mask" / "val" / IN9[k] / f"n0_{k}.npy", mask)
    return root


def si_score(root: Path, folder: str, classes: list[str], *, table: bool) -> Path:
    """One SI-Score subset folder; ``table``: the bucket layout (with foreground_classes.csv)."""
    root = root / folder
    root.mkdir(parents=True)
    if table:
        rows = "".join(f"{data.SI_SCORE_IMAGENET_INDEX[c]},{c}\n" for c in classes)
        (root / "foreground_classes.csv").write_text("int,label\n" + rows)
    for j, c in enumerate(classes):
        img(root / c / f"{j}.jpg", data.SI_SCORE_IMAGENET_INDEX[c])
    return root


#: COCO ids with a name but no instances in the 2014 annotations (91 names, 80 categories used)
NOT_IN_2014 = frozenset({"street sign", "hat", "shoe", "eye glasses", "plate", "mirror", "window", "desk",
                         "door", "blender", "hair brush"})  # fmt: skip


def coco2014(root: Path, n: int = 6) -> Path:
    """val2014/COCO_val2014_*.jpg + annotations/instances_val2014.json with all 80 categories."""
    from luab_bench.data.coco_ab import CATEGORY_ID

    (root / "val2014").mkdir(parents=True)
    (root / "annotations").mkdir()
    cats = [{"id": cid, "name": name} for name, cid in CATEGORY_ID.items() if name not in NOT_IN_2014]
    images, anns = [], []
    for i in range(n):
        name = f"COCO_val2014_{i + 1:012d}.jpg"
        img(root / "val2014" / name, 40 * i, size=(20, 30))
        images.append({"id": i + 1, "file_name": name, "height": 20, "width": 30})
        for j, cat in enumerate((cats[i % 3], cats[5 + i % 2])):
            anns.append(
                {"id": 100 + 2 * i + j, "image_id": i + 1, "category_id": cat["id"], "iscrowd": 0,
                 "bbox": [2, 2, 10, 8], "segmentation": [[2, 2, 12, 2, 12, 10, 2, 10]]}
            )  # fmt: skip
    (root / "annotations" / "instances_val2014.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats})
    )
    return root


def wsolevaluation(root: Path, boxes: tuple[tuple[int, int, int, int], ...] | None = None) -> Path:
    """metadata/ILSVRC/test/{image_ids,class_labels,localization}.txt + dataset/ILSVRC/val/*.png."""
    boxes = boxes or ((20, 30, 70, 90), (5, 5, 40, 100), (60, 10, 100, 50))
    meta = root / "metadata" / "ILSVRC" / "test"
    meta.mkdir(parents=True)
    ids, labels, loc = [], [], []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        name = f"val/ILSVRC2012_val_{i + 1:08d}.png"
        arr = np.zeros((112, 112, 3), np.uint8)
        arr[y0 : y1 + 1, x0 : x1 + 1, 0] = 255
        (root / "dataset" / "ILSVRC" / "val").mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / "dataset" / "ILSVRC" / name)
        ids.append(name)
        labels.append(f"{name},{i}")
        loc.append(f"{name},{x0},{y0},{x1},{y1}")
    (meta / "image_ids.txt").write_text("\n".join(ids) + "\n")
    (meta / "class_labels.txt").write_text("\n".join(labels) + "\n")
    (meta / "localization.txt").write_text("\n".join(loc) + "\n")
    return root


#: XML spellings of an empty list field, as the Hub tarball has them
XML_EMPTY = ("<{t}>None</{t}>", "<{t}/>")
#: JSON spellings of an empty list field, as exports write them
JSON_EMPTY = (None, "None", "[]", "", [])


def _xml_meta(selected: bool, clicks: list[tuple[float, float, float]], empty: str) -> str:
    body = f"<selected>{selected}</selected>"
    if clicks:
        body += "".join(
            f"<selectedRecord><x>{x}</x><y>{y}</y><time>{t}</time></selectedRecord>" for x, y, t in clicks
        )
    else:
        body += empty.format(t="selectedRecord")
    body += empty.format(t="hoveredRecord") + empty.format(t="mouseTracking")
    return f"<metadata>{body}<worker_id>W{len(clicks)}</worker_id><assignment_id>A</assignment_id></metadata>"


def hub_files(root: Path) -> dict[str, Any]:
    """The two Hub files (+ the ImageNet-AB records as JSON); returns paths and the expected counts.

    Images ``<wnid>/<wnid>_<k>`` for the first 3 classes, k = 1..4: k = 1, 2 selected with clicks,
    k = 3, 4 not selected with every list field empty (one spelling each, cycling).
    """
    import io
    import tarfile

    from luab_bench.data.synthetic_coco import write_fake_coco_ab

    root.mkdir(parents=True, exist_ok=True)
    records, selected = [], {}
    tar_path = root / "imagenet_ab_v1_0.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for c, wnid in enumerate(SYN[:3]):
            for k in range(1, 5):
                image_id = f"{wnid}/{wnid}_{k}"
                chosen = k <= 2
                clicks = [(0.25 + 0.1 * c, 0.5, 3.0), (0.3, 0.75 - 0.1 * k, 9.5)] if chosen else []
                empty = XML_EMPTY[(c + k) % len(XML_EMPTY)]
                xml = f"<annotation><folder>{wnid}</folder><filename>{wnid}_{k}</filename>"
                xml += "<size><width>500</width><height>375</height><depth>3</depth></size>"
                xml += _xml_meta(chosen, clicks, empty) + "</annotation>"
                blob = xml.encode()
                info = tarfile.TarInfo(f"train_xml/{image_id}.xml")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
                spelling = JSON_EMPTY[(c + k) % len(JSON_EMPTY)]
                r = {"imageID": image_id, "selected": chosen, "worker_id": "W", "page_idx": k, "image_idx": c}
                r["selectedRecord"] = [{"x": x, "y": y, "time": t} for x, y, t in clicks] or spelling
                r["hoveredRecord"] = spelling
                r["mouseTracking"] = spelling
                records.append(r)
                if chosen:
                    selected[image_id] = tuple(round(v, 9) for v in clicks[-1][:2])
    (root / "imagenet_ab.json").write_text(json.dumps(records))
    coco_path = write_fake_coco_ab(root / "coco_ab_v1_0.json", 5)
    return {"imagenet_ab_tar": tar_path, "imagenet_ab_json": root / "imagenet_ab.json",
            "coco_ab": coco_path, "selected": selected, "not_selected": 6}  # fmt: skip


def build_releases(root: Path, *, only: tuple[str, ...] | None = None, broken: tuple[str, ...] = ()) -> dict:
    """Lay out every release under ``root`` (see the module docstring); returns the paths."""
    root.mkdir(parents=True, exist_ok=True)
    want = set(only or IMAGENET_TASK_DATA)
    out: dict[str, Any] = {"root": root}
    if {"in1k_val", "real", "o"} & want:
        out["in1k_val"] = imagenet_val(root / "imagenet" / "val")
    if "real" in want:
        out["real"] = real_json(root / "real.json")
    if "v2" in want:
        out["v2"] = imagenet_v2(root / "imagenetv2-matched-frequency-format-val", broken="v2" in broken)
    for t, folder in (("a", "imagenet-a"), ("r", "imagenet-r"), ("o", "imagenet-o")):
        if t in want:
            out[t] = subset200(root / folder, t)
    if "sketch" in want:
        out["sketch"] = sketch(root / "sketch", broken="sketch" in broken)
    if "c" in want:
        out["c"] = imagenet_c(root / "imagenet-c", broken="c" in broken)
    if "objectnet" in want:
        out["objectnet"] = objectnet(root / "objectnet-1.0")
    if {"backgrounds", "bg_challenge"} & want:
        out["backgrounds"] = backgrounds(root / "bg_challenge")
    if "si_size" in want:
        out["si_size"] = si_score(root / "si-score", "object_size", ["koala", "ostrich"], table=True)
    if "si_loc" in want:
        out["si_loc"] = si_score(
            root / "si-score", "location20_area02_min0pc", ["magpie", "zebra"], table=False
        )
    if "si_rot" in want:
        out["si_rot"] = si_score(root, "rotation", ["taxi", "wok", "orange"], table=False)
    if only is None:
        out["coco"] = coco2014(root / "coco2014")
        out["wsol"] = wsolevaluation(root / "wsolevaluation")
        out["hub"] = hub_files(root / "hub")
    return out
