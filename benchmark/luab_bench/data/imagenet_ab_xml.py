"""Read the released ImageNet-AB XML files (the Hub tarball, streamed) as ImageNet-AB records.

What is confirmed, and from where
---------------------------------
* Hub file ``imagenet_ab_v1_0.tar.gz`` (``coallaoh/ImageNet-AB``); the Hub viewer lists its samples as
  ``train_xml/<wnid>/<wnid>_<n>`` with one ``xml`` payload, which starts as a Pascal-VOC annotation:
  ``<annotation><folder>n02490219</folder><filename>n02490219_6469</filename><source>…</source>
  <size><width>500</width><height>375</height><depth>3</depth></size><segmented>0</segmented>
  <object>…`` (decoded from the viewer's bytes). ``<object>`` is read the VOC way (``name``,
  ``bndbox/xmin…ymax`` in pixels); that its content is the ImageNet box is *inferred*, not seen.
* The official loader (``naver-ai/NeglectedFreeLunch``, ``imagenet_dataloader.ipynb``, ``load_points``)
  iterates ``root.findall("metadata")`` and reads ``selected`` (text ``"True"``) and
  ``selectedRecord/x``, ``/y``; ``aldakata/NeglectedFreeLunch`` ``study_ab.py`` additionally reads
  ``worker_id``, ``assignment_id``, ``estimateTime``, ``selectedRecord/time``, repeated
  ``hoveredRecord`` (``action``, ``time``) and repeated ``mouseTracking`` (``time``, ``x``, ``y``).
  So one ``<metadata>`` = one annotation, and list fields are *repeated* elements.
* Not shown by any source we have: the other JSON keys (``selectedCount``, ``imagePosition``…) inside
  ``<metadata>`` (LUAB Fig. 4 lists only a few keys; its full list, Appendix Fig. A, is not in the
  available text); they are converted by the same rules when present. ``imageID`` is taken from
  ``<metadata><imageID>`` when present, else from the member path (``<wnid>/<wnid>_<n>``).

Conversion: list fields become lists of objects; a list element with no children whose text spells an
empty list (``<mouseTracking>None</mouseTracking>``, ``<hoveredRecord/>``, ``[]``, ``null``; see
:data:`EMPTY_LIST_SPELLINGS`) adds nothing, so the field is ``[]``; a leaf's text becomes
``True``/``False`` for ``selected``, an int for count/size fields, a float for coordinates and
times, a string otherwise. Text that does not convert is kept as a string, so the record parser
reports it as ``wrong_type``.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from luab_bench.errors import DataError

LIST_FIELDS = frozenset({"selectedRecord", "mouseTracking", "hoveredRecord"})
#: Text that stands for an empty list: ``str(None)`` of the XML writer, JSON ``null`` / ``[]``, nothing.
EMPTY_LIST_SPELLINGS = frozenset({"", "None", "null", "[]"})
INT_FIELDS = frozenset(
    {
        "selectedCount",
        "hoveredCount",
        "imageWidth",
        "imageHeight",
        "originalImageWidth",
        "originalImageHeight",
    }
)
FLOAT_FIELDS = frozenset({"x", "y", "time", "estimateTime"})
STRING_FIELDS = frozenset({"imageID", "worker_id", "assignment_id", "hit_id", "imagenet_hit_id", "action"})
_ID_INT_FIELDS = frozenset({"page_idx", "image_idx", "page_id"})
TAR_SUFFIXES: tuple[str, ...] = (".tar.gz", ".tgz", ".tar")


def _leaf(tag: str, text: str | None) -> Any:
    text = (text or "").strip()
    if tag == "selected":
        return {"True": True, "False": False, "true": True, "false": False}.get(text, text)
    if tag in STRING_FIELDS:
        return text
    try:
        if tag in INT_FIELDS or tag in _ID_INT_FIELDS:
            return int(text)
        if tag in FLOAT_FIELDS:
            value = float(text)
            return int(value) if tag == "time" and value.is_integer() else value
    except ValueError:
        return text
    try:
        return float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:
        return text


def _element(el: ET.Element) -> Any:
    if len(el) == 0:
        return _leaf(el.tag, el.text)
    return {child.tag: _element(child) for child in el}


def metadata_to_record(meta: ET.Element, image_id: str) -> dict[str, Any]:
    """One ``<metadata>`` element -> one ImageNet-AB record dict (JSON schema)."""
    record: dict[str, Any] = {"imageID": image_id}
    for field in LIST_FIELDS:
        record[field] = []
    for child in meta:
        if child.tag in LIST_FIELDS:
            if len(child) == 0 and (child.text or "").strip() in EMPTY_LIST_SPELLINGS:
                continue  # <x>None</x> / <x/>: an empty list, not an element
            record[child.tag].append(_element(child))
        else:
            record[child.tag] = _element(child)
    if not isinstance(record.get("imageID"), str) or not record["imageID"]:
        record["imageID"] = image_id
    return record


def voc_boxes(root: ET.Element) -> list[tuple[str, float, float, float, float]]:
    """VOC ``<object>`` boxes as ``(name, x0, y0, x1, y1)`` relative to ``<size>`` (skips bad ones)."""
    size = root.find("size")
    try:
        w = float(size.findtext("width", "0")) if size is not None else 0.0
        h = float(size.findtext("height", "0")) if size is not None else 0.0
    except ValueError:
        return []
    if w <= 0 or h <= 0:
        return []
    out = []
    for obj in root.findall("object"):
        box = obj.find("bndbox")
        if box is None:
            continue
        try:
            x0, y0, x1, y1 = (float(box.findtext(k, "nan")) for k in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError:
            continue
        if x1 > x0 and y1 > y0:
            out.append((obj.findtext("name", ""), x0 / w, y0 / h, x1 / w, y1 / h))
    return out


def image_id_from_member(name: str) -> str:
    """``train_xml/n014/n014_105.xml`` -> ``n014/n014_105``."""
    parts = Path(name).with_suffix("").parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else parts[-1]


class XmlProblem:
    """An XML file that does not parse; the record parser counts it as ``unparsable_json``."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def parse_xml_bytes(data: bytes, image_id: str) -> tuple[list[dict[str, Any]], list[tuple]]:
    """Records and VOC boxes of one XML file; raises ``ET.ParseError`` if the XML is broken."""
    root = ET.fromstring(data)
    records = [metadata_to_record(meta, image_id) for meta in root.findall("metadata")]
    return records, voc_boxes(root)


def iter_xml_source(path: Path, boxes: dict[str, list] | None = None) -> Iterator[tuple[str, Any]]:
    """Yield ``(location, record or XmlProblem)`` from a tarball (streamed) or a folder of XML files.

    A tarball is read member by member (``tarfile`` stream mode): nothing is extracted to disk. A
    truncated tarball raises :class:`DataError` naming it. ``boxes``, if given, is filled with the
    VOC boxes of each image.
    """
    if path.is_dir() or path.suffix.lower() == ".xml":
        files = sorted(path.rglob("*.xml")) if path.is_dir() else [path]
        base = path if path.is_dir() else path.parent.parent
        for file in files:
            image_id = image_id_from_member(str(file.relative_to(base)))
            yield from _records_of(str(file), image_id, file.read_bytes(), boxes)
        return
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile() or not member.name.endswith(".xml"):
                    continue
                fh = tar.extractfile(member)
                data = fh.read() if fh is not None else b""
                image_id = image_id_from_member(member.name)
                yield from _records_of(f"{path}:{member.name}", image_id, data, boxes)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(
            f"{path}: the tarball is truncated or corrupt ({err}); re-download it "
            "(`luab-bench data download imagenet-ab --force`)"
        ) from None


def _records_of(
    where: str, image_id: str, data: bytes, boxes: dict[str, list] | None
) -> Iterator[tuple[str, Any]]:
    try:
        records, found = parse_xml_bytes(data, image_id)
    except ET.ParseError as err:
        yield where, XmlProblem(f"XML does not parse ({err})")
        return
    if boxes is not None and found:
        boxes[image_id] = found
    for record in records:
        yield f"{where} metadata", record


def is_xml_source(path: Path) -> bool:
    """A tarball or a single ``.xml`` file (a folder is XML when it holds no JSON record files)."""
    name = path.name.lower()
    return path.is_file() and (name.endswith(TAR_SUFFIXES) or name.endswith(".xml"))


# --------------------------------------------------------------------------- fixture writer


def _sub(parent: ET.Element, tag: str, value: Any) -> None:
    el = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _sub(el, k, v)
    else:
        el.text = str(value)  # True -> "True", as the released files and the official loader have it


def records_to_xml(
    image_id: str, records: list[dict[str, Any]], boxes: list[tuple] = (), size: tuple[int, int] = (500, 375)
) -> bytes:
    """One image's XML in the released layout (VOC header, one ``<metadata>`` per record)."""
    wnid, stem = image_id.split("/", 1) if "/" in image_id else ("", image_id)
    root = ET.Element("annotation")
    _sub(root, "folder", wnid)
    _sub(root, "filename", stem)
    _sub(root, "size", {"width": size[0], "height": size[1], "depth": 3})
    for name, x0, y0, x1, y1 in boxes:
        obj = ET.SubElement(root, "object")
        _sub(obj, "name", name)
        _sub(
            obj,
            "bndbox",
            {"xmin": x0 * size[0], "ymin": y0 * size[1], "xmax": x1 * size[0], "ymax": y1 * size[1]},
        )
    for record in records:
        meta = ET.SubElement(root, "metadata")
        for key, value in record.items():
            if key == "imageID":
                continue
            if key in LIST_FIELDS and isinstance(value, list):
                for item in value:
                    _sub(meta, key, item)
            elif value is not None:
                _sub(meta, key, value)
    return ET.tostring(root)


def write_imagenet_ab_tar(
    path: str | Path, images: dict[str, list[dict[str, Any]]], boxes: dict[str, list[tuple]] | None = None
) -> Path:
    """Write a ``imagenet_ab_v1_0.tar.gz``-shaped tarball (``train_xml/<wnid>/<id>.xml``), atomically."""
    import io

    from luab_bench.io import atomic_open

    path = Path(path)
    with atomic_open(path, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
        for image_id in sorted(images):
            data = records_to_xml(image_id, images[image_id], (boxes or {}).get(image_id, []))
            info = tarfile.TarInfo(f"train_xml/{image_id}.xml")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
