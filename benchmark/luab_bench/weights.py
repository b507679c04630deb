"""Weight files: safetensors only, SHA-256 checked before parsing, loaded with strict key matching.

Pickle checkpoints (``.pth``, ``.pt``, ``.bin``, ``.ckpt``, ...) are refused: unpickling runs code. A
file is read once; its SHA-256 and size are taken from those bytes, compared with the expected hash
(when given) and only then parsed by ``safetensors``. :func:`load_strict` puts a state dict into a
model and reports any key or shape difference as one line (counts and the first names), the way
timm's ``load_checkpoint(strict=True)`` would fail, but readable.

:func:`hub_safetensors` resolves a Hugging Face Hub file through ``huggingface_hub`` (its cache, its
``HF_HUB_OFFLINE``); when the file is neither cached nor reachable the error names the cache folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luab_bench.errors import DataError, LuabError

if TYPE_CHECKING:
    import torch

#: Checkpoint suffixes that are Python pickles (torch.save / joblib): loading one can run code.
PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl", ".pickle", ".tar", ".pth.tar", ".npz")
SAFE_SUFFIX = ".safetensors"
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclasses.dataclass(frozen=True)
class WeightFile:
    """A read weight file: where it came from, its SHA-256 and size, and its tensors."""

    path: Path
    sha256: str
    size: int
    state: dict[str, torch.Tensor]

    def info(self, source: str) -> dict[str, Any]:
        """The provenance record (file name, sha256, size in bytes, where it came from)."""
        return {"file": self.path.name, "sha256": self.sha256, "size": self.size, "source": source}


def check_safetensors_name(path: str | Path, what: str = "--weights") -> None:
    """Refuse pickle suffixes (with the conversion recipe) and anything not ``.safetensors``."""
    name = Path(path).name.lower()
    if name.endswith(PICKLE_SUFFIXES):
        raise LuabError(
            f"{what} {path}: a pickle checkpoint, which can run code when loaded, is refused; convert it "
            "with safetensors.torch.save_file(model.state_dict(), 'model.safetensors')"
        )
    if not name.endswith(SAFE_SUFFIX):
        raise LuabError(f"{what} {path}: must be a {SAFE_SUFFIX} file (safetensors only)")


def check_sha256(text: str, what: str = "--sha256") -> str:
    """A 64-hex-digit SHA-256, lower-cased (else a LuabError saying how to compute one)."""
    if not HEX64.match(text or ""):
        raise LuabError(f"{what} {text!r}: not a SHA-256 (64 hex digits); compute it with `sha256sum FILE`")
    return text.lower()


def read_weight_file(path: str | Path, *, sha256: str | None = None, what: str = "--weights") -> WeightFile:
    """Read a ``.safetensors`` file, check ``sha256`` (when given) on its bytes, then parse it."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    check_safetensors_name(path, what)
    if not path.is_file():
        raise LuabError(f"{what} {path}: file not found")
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if sha256 is not None and digest != check_sha256(sha256):
        raise DataError(
            f"{path}: SHA-256 {digest[:12]}… does not match the expected {sha256[:12]}…; the file is "
            "corrupt or not the one named (re-download it, or fix --sha256)"
        )
    try:
        state = load(blob)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise DataError(f"{path}: not a readable safetensors file ({err})") from None
    return WeightFile(path, digest, len(blob), state)


def strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Keys starting with ``prefix`` without it (e.g. a LuabNet's ``backbone.``)."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_strict(module: torch.nn.Module, state: dict[str, Any], *, source: str, model: str) -> None:
    """``module.load_state_dict(state, strict=True)`` with a one-line error on any key/shape mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        raise DataError(
            f"{source}: tensors do not match model {model!r} (strict key matching): {'; '.join(parts)}; "
            "save the weights with model.state_dict() of this very architecture"
        )
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            hint = " (a classifier of another size: set --num-classes)" if v.ndim in (1, 2) else ""
            raise DataError(
                f"{source}: tensor {k!r} has shape {tuple(v.shape)} but model {model!r} expects "
                f"{tuple(own[k].shape)}{hint}"
            )
    module.load_state_dict(state, strict=True)


def hub_cache_dir() -> str:
    """The Hugging Face Hub cache folder in use (HF_HUB_CACHE / HF_HOME honoured)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hub_safetensors(
    repo_id: str, *, filename: str = "model.safetensors", revision: str | None = None
) -> Path:
    """Local path of ``filename`` in Hub repo ``repo_id`` (cached, or downloaded when online).

    One-line :class:`LuabError` when it is not cached and the Hub is offline/unreachable (naming the
    cache folder), or when the repo has no such file (pickle-only repos are refused).
    """
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    check_safetensors_name(filename, f"Hub file {repo_id}/")
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision))
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE=1" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached"
        raise LuabError(
            f"weights {repo_id}/{filename} are not in the Hugging Face cache ({hub_cache_dir()}) and "
            f"{why}; download them where the Hub is reachable (same cache), or pass "
            "--weights FILE.safetensors"
        ) from None
    except EntryNotFoundError:
        raise LuabError(
            f"Hub repo {repo_id} has no {filename}; only safetensors weights are loaded (pickle files "
            "are refused): convert them, or pass --weights FILE.safetensors"
        ) from None
    except Exception as err:  # network / HTTP errors from huggingface_hub: one line, never a traceback
        raise LuabError(
            f"weights {repo_id}/{filename}: download failed ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]}); cache folder {hub_cache_dir()}"
        ) from None
