"""Checkpoints: ``model.safetensors`` (weights) + ``checkpoint.json`` (everything needed to rebuild).

``checkpoint.json`` holds the model (name, num_classes, num_point_heads, input mean/std), the caller's
meta (protocol config, recipe, seed, data fingerprint, training report, ...) and the SHA-256 of the
weights file. Both files are written atomically, weights first, so a ``checkpoint.json`` always
describes a complete weights file; loading checks the hash and the exact set of tensor names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luab_bench.errors import DataError, LuabError
from luab_bench.io import atomic_write_bytes, atomic_write_json

if TYPE_CHECKING:
    import torch

    from luab_bench.models import LuabNet

WEIGHTS_FILE = "model.safetensors"
META_FILE = "checkpoint.json"
FORMAT = "luab-bench-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(directory: str | Path, model: LuabNet, meta: dict[str, Any]) -> Path:
    """Write ``model`` and ``meta`` to ``directory`` (created if needed); return the directory."""
    from safetensors.torch import save

    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    blob = save(state, metadata={"format": "pt"})
    model_info = {
        **dict(meta.get("model") or {}),
        "name": model.model_name,
        "num_classes": model.num_classes,
        "num_point_heads": model.num_point_heads,
        "input_mean": list(model.input_mean),
        "input_std": list(model.input_std),
    }
    doc = {
        **meta,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model_info,
        "weights": {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(blob).hexdigest()},
    }
    json.dumps(doc, allow_nan=False)  # fail before touching the disk if meta is not JSON-able
    atomic_write_bytes(directory / WEIGHTS_FILE, blob)
    atomic_write_json(directory / META_FILE, doc)
    return directory


def read_checkpoint_meta(directory: str | Path) -> dict[str, Any]:
    """The parsed ``checkpoint.json`` of ``directory`` (DataError when missing or malformed)."""
    directory = Path(directory)
    path = directory / META_FILE
    if not directory.is_dir():
        raise DataError(f"{directory}: checkpoint directory not found; train one with `luab-bench train`")
    if not path.is_file():
        raise DataError(f"{path}: missing; the checkpoint is incomplete (re-run `luab-bench train`)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err}); re-run `luab-bench train`") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: not a luab-bench checkpoint (no format {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path}: checkpoint format version {meta.get('format_version')!r}, this luab-bench reads "
            f"{FORMAT_VERSION}; use a matching luab-bench version or retrain"
        )
    model = meta.get("model")
    if not isinstance(model, dict) or not all(k in model for k in ("name", "num_classes", "num_point_heads")):
        raise DataError(f"{path}: model: needs name, num_classes and num_point_heads")
    return meta


def load_checkpoint(
    directory: str | Path, device: str | torch.device = "cpu"
) -> tuple[LuabNet, dict[str, Any]]:
    """Rebuild the model of ``directory`` on ``device`` in eval mode; return it and its meta."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from luab_bench.models import create_model

    directory = Path(directory)
    meta = read_checkpoint_meta(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise DataError(f"{weights}: missing; the checkpoint is incomplete (re-run `luab-bench train`)")
    blob = weights.read_bytes()
    expected = (meta.get("weights") or {}).get("sha256")
    if expected != hashlib.sha256(blob).hexdigest():
        raise DataError(
            f"{weights}: SHA-256 does not match {META_FILE} (corrupt or replaced); re-run `luab-bench train`"
        )
    try:
        state = load(blob)
    except (SafetensorError, ValueError) as err:
        raise DataError(f"{weights}: cannot read safetensors ({err})") from None
    info = meta["model"]
    try:
        net = create_model(
            info["name"], int(info["num_classes"]), num_point_heads=int(info["num_point_heads"])
        )
    except LuabError as err:
        raise DataError(f"{directory / META_FILE}: cannot rebuild the model: {err}") from None
    missing, unexpected = _key_diff(net.state_dict().keys(), state.keys())
    if missing or unexpected:
        raise DataError(
            f"{weights}: tensors do not match model {info['name']!r} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); was it written by another version?"
        )
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise DataError(f"{weights}: tensor shapes do not match model {info['name']!r} ({err})") from None
    net.to(device)
    net.eval()
    return net, meta


def _key_diff(model_keys: Any, file_keys: Any) -> tuple[list[str], list[str]]:
    m, f = set(model_keys), set(file_keys)
    return sorted(m - f), sorted(f - m)
