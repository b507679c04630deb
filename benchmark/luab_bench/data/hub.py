"""Download the byproduct files from the Hugging Face Hub: pinned, checksummed, resumable, offline-aware.

``huggingface_hub.hf_hub_download`` does the transfer: it writes to ``<blob>.incomplete`` and renames
only when complete (so an interrupted download is resumed by the next call and never seen as the
file), honours ``HF_HOME`` / ``HF_HUB_CACHE`` (or ``cache_dir``) and ``HF_HUB_OFFLINE`` (cached files
only). On top of it this module pins the revision to a commit sha and checks the file's size and
sha256 before returning its path; a truncated or wrong file raises :class:`DataError` naming it.

Pins (read from the Hub pages via the project's search tool; see docs/data.md):

* ``imagenet-ab``: ``coallaoh/ImageNet-AB`` at commit ``2033cb4d127816878471b140cda77d1d4429c137``
  ("Fixed a metadata value", the README-only commit whose merge ``bba7343`` is ``main``; the tarball
  was uploaded in ``4e84c19`` and is unchanged since). sha256 of ``imagenet_ab_v1_0.tar.gz`` from the
  Hub's Git LFS details: ``38e67940…68b1`` ("555 MB"; the exact byte size was not shown, so size is
  checked through the sha256 only).
* ``coco-ab``: ``coallaoh/COCO-AB`` at commit ``be4770eac0d6138aec946b22e192da022396f5aa`` (``main``).
  The LFS sha256 of ``coco_ab_v1_0.json`` was not found: it is computed on first download and recorded
  in a lock file (trust on first use), then every later use is checked against the lock.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luab_bench.errors import DataError, LuabError
from luab_bench.io import atomic_write_json
from luab_bench.registry import Registry

LOCK_FILE = "hub.lock.json"


@dataclass(frozen=True)
class HubFile:
    """One pinned file of a Hub dataset repo."""

    name: str
    repo_id: str
    filename: str
    revision: str  # full commit sha
    sha256: str | None = None  # None: trust on first use, recorded in the lock file
    size: int | None = None
    repo_type: str = "dataset"

    @property
    def lock_key(self) -> str:
        return f"{self.repo_id}@{self.revision}:{self.filename}"


HUB_FILES: Registry[HubFile] = Registry("Hub dataset file")


def _register(f: HubFile) -> None:
    HUB_FILES.register(f.name)(f)


_register(
    HubFile(
        name="imagenet-ab",
        repo_id="coallaoh/ImageNet-AB",
        filename="imagenet_ab_v1_0.tar.gz",
        revision="2033cb4d127816878471b140cda77d1d4429c137",
        sha256="38e67940a68adb5a3d436a25a0656d8c99023731077395b60097d01cd97868b1",
    )
)
_register(
    HubFile(
        name="coco-ab",
        repo_id="coallaoh/COCO-AB",
        filename="coco_ab_v1_0.json",
        revision="be4770eac0d6138aec946b22e192da022396f5aa",
    )
)


def file_sha256(path: str | Path, chunk: int = 8 << 20) -> str:
    """sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a failed transfer raises: OSError (HfHubHTTPError, requests) and the httpx family."""
    errors: list[type[BaseException]] = [OSError, ValueError]
    for module in ("httpx2", "httpx", "requests"):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        base = getattr(mod, "HTTPError", None) or getattr(mod, "RequestException", None)
        if isinstance(base, type) and issubclass(base, BaseException):
            errors.append(base)
    return tuple(errors)


def offline() -> bool:
    """``HF_HUB_OFFLINE`` is set to a true value."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _read_lock(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise DataError(
            f"{path}: lock file is not valid JSON; delete it to re-record the checksums"
        ) from None
    if not isinstance(lock, dict):
        raise DataError(f"{path}: lock file must be a JSON object; delete it to re-record the checksums")
    return lock


@dataclass(frozen=True)
class Downloaded:
    """A verified local file and how its checksum was established."""

    path: Path
    sha256: str
    size: int
    checksum_source: str  # "pinned" | "lock" | "recorded now"


def download(
    name: str,
    *,
    cache_dir: str | Path | None = None,
    lock_dir: str | Path,
    force: bool = False,
    local_files_only: bool | None = None,
) -> Downloaded:
    """Fetch (or find in the HF cache) the pinned file ``name`` and verify it; return its path.

    ``cache_dir``: None = the HF default (``HF_HUB_CACHE`` / ``HF_HOME``). ``lock_dir``: where
    ``hub.lock.json`` records first-use checksums. ``force``: re-download even if cached (use after a
    checksum failure). ``local_files_only``: default follows ``HF_HUB_OFFLINE``.
    """
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    spec = HUB_FILES.get(name)
    if local_files_only is None:
        local_files_only = offline()
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id=spec.repo_id,
            filename=spec.filename,
            repo_type=spec.repo_type,
            revision=spec.revision,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            force_download=force,
            local_files_only=local_files_only,
        )
    except LocalEntryNotFoundError:
        raise LuabError(
            f"{spec.repo_id}/{spec.filename}@{spec.revision[:7]} is not in the HF cache "
            f"({cache_dir or 'HF_HUB_CACHE'}) and downloads are off (HF_HUB_OFFLINE); unset HF_HUB_OFFLINE "
            "or copy the file into the cache on a machine with network"
        ) from None
    except _network_errors() as err:
        raise LuabError(
            f"download of {spec.repo_id}/{spec.filename}@{spec.revision[:7]} failed ({type(err).__name__}: "
            f"{err}); re-run the same command to resume it"
        ) from None
    return verify(spec, Path(path), lock_dir=Path(lock_dir))


def verify(spec: HubFile, path: Path, *, lock_dir: Path) -> Downloaded:
    """Check ``path`` against the pinned (or recorded) size and sha256; record it on first use."""
    fix = f"delete it and re-run `luab-bench data download {spec.name} --force`"
    if not path.is_file():
        raise DataError(f"{path}: downloaded file is missing; {fix}")
    size = path.stat().st_size
    lock_path = lock_dir / LOCK_FILE
    lock = _read_lock(lock_path)
    entry = lock.get(spec.lock_key)
    expected_size = spec.size if spec.size is not None else (entry or {}).get("size")
    if expected_size is not None and size != expected_size:
        state = "truncated" if size < expected_size else "too long"
        raise DataError(f"{path}: {state}: {size:,} bytes, expected {expected_size:,}; {fix}")
    digest = file_sha256(path)
    if spec.sha256 is not None:
        expected, source = spec.sha256, "pinned"
    elif entry is not None:
        expected, source = entry["sha256"], "lock"
    else:
        expected, source = None, "recorded now"
    if expected is not None and digest != expected:
        raise DataError(
            f"{path}: sha256 {digest} does not match the {source} {expected} "
            f"({size:,} bytes: truncated or a different file); {fix}"
        )
    if expected is None or entry is None:
        lock[spec.lock_key] = {"sha256": digest, "size": size}
        atomic_write_json(lock_path, lock)
    return Downloaded(path, digest, size, source)
