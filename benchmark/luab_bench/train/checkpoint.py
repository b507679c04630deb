"""Checkpoints: ``model.safetensors`` (weights) + ``checkpoint.json`` (everything needed to rebuild).

``checkpoint.json`` holds the model (name, num_classes, num_point_heads, input mean/std), the caller's
meta (protocol config, recipe, seed, data fingerprint, training report, ...) and the SHA-256 of the
weights file. Both files are written atomically, weights first, so a ``checkpoint.json`` always
describes a complete weights file; loading checks the hash and the exact set of tensor names.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from luab_bench import safe_json
from luab_bench.errors import DataError, LuabError
from luab_bench.io import atomic_write_bytes, atomic_write_json
from luab_bench.limits import MAX_CLASSES, MAX_SEED

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


_Name = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_Triple = Field(min_length=3, max_length=3)


class _ModelMeta(BaseModel):
    """The ``model`` block of ``checkpoint.json`` (what :func:`load_checkpoint` rebuilds from)."""

    model_config = ConfigDict(extra="allow")

    name: _Name
    num_classes: Annotated[int, Field(strict=True, ge=1, le=MAX_CLASSES)]
    num_point_heads: Annotated[int, Field(strict=True, ge=0, le=MAX_CLASSES)]
    input_mean: Annotated[list[_Finite], Field(min_length=3, max_length=3)] | None = None
    input_std: (
        Annotated[list[Annotated[float, Field(gt=0, allow_inf_nan=False)]], Field(min_length=3, max_length=3)]
        | None
    ) = None


class _ProtocolMeta(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: _Name
    version: Annotated[str, Field(strict=True, max_length=100)] | Annotated[int, Field(strict=True)]
    family: _Name


class _DataMeta(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: _Name
    variant: Annotated[str, Field(strict=True, max_length=200)] | None = None
    fingerprint: Annotated[str, Field(strict=True, max_length=200)] | None = None


class _EvalMeta(BaseModel):
    """The keys of ``checkpoint.json`` that ``evaluate`` reads (beyond ``model``)."""

    model_config = ConfigDict(extra="allow")

    suite: _Name
    seed: Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
    protocol: _ProtocolMeta
    recipe: dict[str, Any]
    data: _DataMeta


def _check_meta(schema: type[BaseModel], doc: Any, path: Path, fix: str) -> None:
    try:
        schema.model_validate(doc)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise DataError(f"{path}: {loc}: {first['msg']}{more}; {fix}") from None


def read_checkpoint_meta(directory: str | Path) -> dict[str, Any]:
    """The parsed ``checkpoint.json`` of ``directory`` (DataError when missing or malformed).

    Read with the shared safe loader (regular file, size and depth caps, strict UTF-8); the ``model``
    block is type- and range-checked (``num_classes`` "abc", NaN or 1e13 is refused here, not by a
    crash while the model is built).
    """
    directory = Path(directory)
    path = directory / META_FILE
    if not directory.is_dir():
        raise DataError(f"{directory}: checkpoint directory not found; train one with `luab-bench train`")
    if not path.exists():
        raise DataError(f"{path}: missing; the checkpoint is incomplete (re-run `luab-bench train`)")
    try:
        meta = safe_json.read_json_file(path)
    except OSError as err:
        raise DataError(
            f"{path}: cannot read ({err.__class__.__name__}); re-run `luab-bench train`"
        ) from None
    except safe_json.InputProblem as err:
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
    _check_meta(_ModelMeta, model, path, "the checkpoint is corrupt; re-run `luab-bench train`")
    return meta


def check_evaluation_meta(meta: dict[str, Any], directory: str | Path) -> None:
    """Refuse a ``checkpoint.json`` without the keys ``evaluate`` reads (suite, seed, protocol,
    recipe, data), or with wrong types / out-of-range values in them, as one :class:`DataError`."""
    _check_meta(
        _EvalMeta,
        meta,
        Path(directory) / META_FILE,
        "the checkpoint is incomplete; re-run `luab-bench train`",
    )


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
    _check_normalization(directory / META_FILE, info, net)
    net.to(device)
    net.eval()
    return net, meta


def _check_normalization(path: Path, info: dict[str, Any], net: LuabNet) -> None:
    """The checkpoint's stored input mean/std must equal the rebuilt model's (same preprocessing)."""
    for key, now in (("input_mean", net.input_mean), ("input_std", net.input_std)):
        stored = info.get(key)
        if stored is None:
            continue
        try:
            same = len(stored) == len(now) and all(
                abs(float(a) - float(b)) <= 1e-6 for a, b in zip(stored, now, strict=True)
            )
        except (TypeError, ValueError):
            same = False
        if not same:
            raise DataError(
                f"{path}: model.{key} {stored!r} differs from the rebuilt model's {list(now)} (another timm "
                "version or pretrained_cfg?); evaluating would use other preprocessing than training did"
            )


def _key_diff(model_keys: Any, file_keys: Any) -> tuple[list[str], list[str]]:
    m, f = set(model_keys), set(file_keys)
    return sorted(m - f), sorted(f - m)


# ----------------------------------------------------------------------------- resumable training state
STATE_META_FILE = "train_state.json"
STATE_FORMAT = "luab-bench-train-state"
STATE_FORMAT_VERSION = 1


def save_train_state(
    directory: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: dict[str, Any],
    rng_states: list[torch.Tensor],
) -> Path:
    """Write a resumable training state to ``directory``; crash-safe at every instant.

    The tensors (model weights under ``model/``, optimizer tensors under ``optim/<param>/<name>``,
    per-rank torch RNG states under ``rng/<rank>``) go to ``train_state-<step>.safetensors``; then
    ``train_state.json`` (its SHA-256, the optimizer's param groups and non-tensor state, and
    ``progress``: epoch, batch, step, partial epoch sums, curves, run key, ...) is replaced
    atomically to point at it; then older state files are removed. A kill at any moment leaves a
    ``train_state.json`` describing a complete tensor file.
    """
    from safetensors.torch import save

    directory = Path(directory)
    step = int(progress["step"])
    tensors: dict[str, torch.Tensor] = {
        f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    opt = optimizer.state_dict()
    optim_scalars: dict[str, dict[str, Any]] = {}
    for pid, st in opt["state"].items():
        for name, value in st.items():
            if hasattr(value, "detach"):
                tensors[f"optim/{pid}/{name}"] = value.detach().cpu().contiguous()
            else:
                optim_scalars.setdefault(str(pid), {})[name] = value
    for r, state in enumerate(rng_states):
        tensors[f"rng/{r}"] = state.detach().cpu().contiguous()
    blob = save(tensors, metadata={"format": "pt"})
    name = f"train_state-{step:09d}.safetensors"
    doc = {
        "format": STATE_FORMAT,
        "format_version": STATE_FORMAT_VERSION,
        "tensors": {"file": name, "sha256": hashlib.sha256(blob).hexdigest()},
        "optimizer": {"param_groups": opt["param_groups"], "scalars": optim_scalars},
        "num_rng_states": len(rng_states),
        "progress": progress,
    }
    json.dumps(doc, allow_nan=False)
    atomic_write_bytes(directory / name, blob)
    atomic_write_json(directory / STATE_META_FILE, doc)
    for old in directory.glob("train_state-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return directory / STATE_META_FILE


def has_train_state(directory: str | Path) -> bool:
    """True when ``directory`` holds a ``train_state.json``."""
    return (Path(directory) / STATE_META_FILE).is_file()


def load_train_state(directory: str | Path) -> dict[str, Any]:
    """Read a state written by :func:`save_train_state`: ``{"model", "optimizer", "rng", "progress"}``.

    ``model`` is a state dict, ``optimizer`` a ``torch.optim`` state dict, ``rng`` the list of per-rank
    RNG states. Raises :class:`DataError` naming the file when anything is missing or corrupt.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    directory = Path(directory)
    path = directory / STATE_META_FILE
    start_over = f"delete {path} to start over"
    try:
        doc = safe_json.read_json_file(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no training state to resume; run without --resume") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.__class__.__name__}); {start_over}") from None
    except safe_json.InputProblem as err:
        raise DataError(f"{path}: not valid JSON ({err}); delete it to start over") from None
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise DataError(f"{path}: not a luab-bench training state (no format {STATE_FORMAT!r})")
    if doc.get("format_version") != STATE_FORMAT_VERSION:
        raise DataError(
            f"{path}: training-state version {doc.get('format_version')!r}, this luab-bench reads "
            f"{STATE_FORMAT_VERSION}; resume with the luab-bench version that wrote it or start over"
        )
    _check_meta(_TrainStateMeta, doc, path, start_over)
    # the tensor file is named by the state itself: only a name save_train_state writes, in this
    # very directory, is followed (never "../../etc/hostname" or an absolute path)
    name = doc["tensors"]["file"]
    blob_path = directory / name
    if not _STATE_FILE.fullmatch(name) or blob_path.is_symlink():
        raise DataError(
            f"{path}: tensors.file {name[:80]!r} is not a train_state-<step>.safetensors file in the "
            f"run directory; {start_over}"
        )
    if not blob_path.is_file():
        raise DataError(f"{blob_path}: missing; the training state is incomplete ({start_over})")
    blob = blob_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != doc["tensors"]["sha256"].lower():
        raise DataError(f"{blob_path}: SHA-256 does not match {STATE_META_FILE}; delete both to start over")
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError) as err:
        raise DataError(f"{blob_path}: cannot read safetensors ({err}); {start_over}") from None
    model_state = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    opt_state: dict[int, dict[str, Any]] = {}
    try:
        for k, v in tensors.items():
            if k.startswith("optim/"):
                _, pid, tname = k.split("/", 2)
                opt_state.setdefault(int(pid), {})[tname] = v
        for pid, scalars in doc["optimizer"]["scalars"].items():
            opt_state.setdefault(int(pid), {}).update(scalars)
        rng = [tensors[f"rng/{r}"] for r in range(int(doc["num_rng_states"]))]
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise DataError(
            f"{path}: optimizer / RNG state does not match its tensor file ({err.__class__.__name__}: "
            f"{str(err)[:80]}); {start_over}"
        ) from None
    return {
        "model": model_state,
        "optimizer": {"state": opt_state, "param_groups": doc["optimizer"]["param_groups"]},
        "rng": rng,
        "progress": doc["progress"],
    }


_STATE_FILE = re.compile(r"train_state-[0-9]{1,20}\.safetensors")


class _TensorsMeta(BaseModel):
    file: Annotated[str, Field(strict=True, max_length=200)]
    sha256: Annotated[str, Field(strict=True, pattern=r"^[0-9a-fA-F]{64}$")]


class _OptimizerMeta(BaseModel):
    param_groups: list[dict[str, Any]]
    scalars: dict[str, dict[str, Any]]


class _TrainStateMeta(BaseModel):
    """The keys of ``train_state.json`` that resuming reads, typed (a bad one is a DataError)."""

    model_config = ConfigDict(extra="allow")

    tensors: _TensorsMeta
    optimizer: _OptimizerMeta
    num_rng_states: Annotated[int, Field(strict=True, ge=0, le=4096)]
    progress: dict[str, Any]
