"""Download the byproduct files from the Hugging Face Hub: pinned, checksummed, resumable, offline-aware.

``huggingface_hub.hf_hub_download`` does the transfer: it writes to ``<blob>.incomplete`` and renames
only when complete (so an interrupted download is resumed by the next call and never seen as the
file), honours ``HF_HOME`` / ``HF_HUB_CACHE`` (or ``cache_dir``) and ``HF_HUB_OFFLINE`` (cached files
only). On top of it this module pins the revision to a commit sha and checks the file's size and
sha256 before returning its path; a truncated or wrong file raises :class:`DataError` naming it.

Checksums come from the Hub itself, never from the bytes received (no trust on first use): online,
:func:`hub_checksum` asks ``HfApi.get_paths_info(repo, [file], revision=<pin>)`` for the file's Git LFS
``sha256`` and ``size`` at the pinned commit, records them in ``hub.lock.json`` (``source: hub``) and
checks the file against them; offline, the recorded Hub answer is used, or a sha256 pinned in code. A
pinned sha256 that the Hub contradicts is an error (the pin is stale). Offline with neither, the file
cannot be verified and that is an error saying to run once with network.

Pins (main of each repo; see docs/data.md):

* ``imagenet-ab``: ``coallaoh/ImageNet-AB`` at ``bba7343cc5f2cafb51825bcab492fd8fe4037cfb`` (``main``
  per the Hub's commit page, issue 16; earlier pinned to the PR-branch commit ``2033cb4``). The tarball
  was uploaded in ``4e84c19`` and is the same LFS blob at both; its sha256 ``38e67940…68b1`` from the
  Hub's LFS details page is also pinned here, so an offline first use is still checked.
* ``coco-ab``: ``coallaoh/COCO-AB`` at ``be4770eac0d6138aec946b22e192da022396f5aa`` (``main``; the
  full sha was read from the Hub viewer, see ``data/coco_ab.py``). No sha256 is pinned: it is fetched
  from the Hub at that revision.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luab_bench.errors import DataError, LuabError
from luab_bench.hashing import file_sha256
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
    sha256: str | None = None  # a sha256 known offline; None: only the Hub's answer (hub_checksum)
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
        revision="bba7343cc5f2cafb51825bcab492fd8fe4037cfb",
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
class Checksum:
    """What a file must hash to, and who said so: ``hub`` (asked now), ``lock`` (the Hub's answer
    recorded earlier) or ``pinned`` (a sha256 in this module)."""

    sha256: str
    size: int | None
    source: str


@dataclass(frozen=True)
class Downloaded:
    """A verified local file and how its checksum was established."""

    path: Path
    sha256: str
    size: int
    checksum_source: str  # "hub" | "lock" | "pinned"


def _cause_chain(err: BaseException) -> list[BaseException]:
    out, seen = [], set()
    while err is not None and id(err) not in seen:
        out.append(err)
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return out


def unreachable_reason(err: BaseException) -> str:
    """Why the Hub could not be reached, from an exception chain: DNS, connection, timeout or other."""
    chain = _cause_chain(err)
    text = " ".join(f"{type(e).__name__}: {e}" for e in chain)
    lowered = text.lower()
    if any(
        k in lowered
        for k in ("name or service not known", "nodename nor servname", "getaddrinfo", "name resolution",
                  "temporary failure in name", "no address associated", "gaierror")
    ):  # fmt: skip
        return f"DNS lookup of the Hub failed ({chain[-1]}); check the network / DNS, or HF_ENDPOINT"
    if "timed out" in lowered or "timeout" in lowered:
        return f"the Hub did not answer in time ({chain[-1]}); retry, or check a proxy"
    if any(k in lowered for k in ("connection refused", "connecterror", "connectionerror", "unreachable")):
        return f"could not connect to the Hub ({chain[-1]}); check the network, proxy or HF_ENDPOINT"
    return f"the Hub could not be reached ({type(chain[-1]).__name__}: {chain[-1]})"


def _offline_error(err: BaseException) -> bool:
    """The failure is huggingface_hub's offline mode (HF_HUB_OFFLINE read at its import), not the network."""
    return any(type(e).__name__ == "OfflineModeIsEnabled" for e in _cause_chain(err))


def hub_checksum(spec: HubFile) -> Checksum:
    """The Hub's own LFS sha256 and size of ``spec.filename`` at ``spec.revision`` (one API call)."""
    from huggingface_hub import HfApi

    where = f"{spec.repo_id}/{spec.filename}@{spec.revision[:7]}"
    try:
        infos = HfApi().get_paths_info(
            spec.repo_id, [spec.filename], revision=spec.revision, repo_type=spec.repo_type
        )
    except _network_errors() as err:
        raise HubUnreachable(
            f"cannot ask the Hub for the sha256 of {where}: {unreachable_reason(err)}"
        ) from None
    match = [i for i in infos if getattr(i, "path", None) == spec.filename]
    lfs = getattr(match[0], "lfs", None) if match else None
    sha = getattr(lfs, "sha256", None)
    if not isinstance(sha, str) or len(sha) != 64:
        what = "has no such file" if not match else "does not list a Git LFS sha256 for it"
        raise DataError(f"the Hub {what} at {where}; the pin in luab_bench/data/hub.py needs updating")
    size = getattr(lfs, "size", None)
    return Checksum(sha, int(size) if isinstance(size, int) else None, "hub")


class HubUnreachable(LuabError):
    """The Hub's API could not be reached (DNS, connection, timeout); the message says which."""


def expected_checksum(spec: HubFile, *, lock_dir: Path, online: bool) -> Checksum:
    """The checksum to verify against.

    Online: the Hub's (:func:`hub_checksum`), recorded in the lock; a pin it contradicts is a
    DataError. Offline, or online but the Hub unreachable: the Hub's answer recorded in the lock, else
    the pin; with neither, a LuabError saying why (offline, or the network failure).
    """
    lock_path = Path(lock_dir) / LOCK_FILE
    lock = _read_lock(lock_path)
    entry = lock.get(spec.lock_key)
    where = f"{spec.repo_id}/{spec.filename}@{spec.revision[:7]}"
    why_not = "downloads are off (HF_HUB_OFFLINE)"
    if online:
        try:
            got = hub_checksum(spec)
        except HubUnreachable as err:
            why_not = str(err)
        else:
            if spec.sha256 is not None and got.sha256 != spec.sha256:
                raise DataError(
                    f"the Hub reports sha256 {got.sha256} for {where}, but luab_bench pins "
                    f"{spec.sha256}; the pin is stale: update luab-bench"
                )
            want = {"sha256": got.sha256, "size": got.size, "source": "hub"}
            if entry != want:
                lock[spec.lock_key] = want
                atomic_write_json(lock_path, lock)
            return got
    if isinstance(entry, dict) and entry.get("source") == "hub" and isinstance(entry.get("sha256"), str):
        return Checksum(entry["sha256"], entry.get("size"), "lock")
    if spec.sha256 is not None:
        return Checksum(spec.sha256, spec.size, "pinned")
    raise LuabError(
        f"{where}: its sha256 has not been fetched from the Hub yet ({lock_path} has no Hub entry) and "
        f"{why_not}, so the file cannot be verified; run `luab-bench data download {spec.name}` once "
        "with network"
    )


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
    ``hub.lock.json`` records the Hub's checksums. ``force``: re-download even if cached (use after a
    checksum failure). ``local_files_only``: default follows ``HF_HUB_OFFLINE``.
    """
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    spec = HUB_FILES.get(name)
    if local_files_only is None:
        local_files_only = offline()
    where = f"{spec.repo_id}/{spec.filename}@{spec.revision[:7]}"
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
    except LocalEntryNotFoundError as err:
        cache = cache_dir or "HF_HUB_CACHE"
        if local_files_only or _offline_error(err):
            raise LuabError(
                f"{where} is not in the HF cache ({cache}) and downloads are off (HF_HUB_OFFLINE); unset "
                "HF_HUB_OFFLINE or copy the file into the cache on a machine with network"
            ) from None
        raise LuabError(
            f"{where} is not in the HF cache ({cache}) and {unreachable_reason(err)}; re-run the same "
            "command when the Hub is reachable (it resumes)"
        ) from None
    except _network_errors() as err:
        raise LuabError(
            f"download of {where} failed ({type(err).__name__}: {err}); re-run the same command to resume it"
        ) from None
    expected = expected_checksum(spec, lock_dir=Path(lock_dir), online=not local_files_only)
    return verify(spec, Path(path), expected)


def verify(spec: HubFile, path: Path, expected: Checksum) -> Downloaded:
    """Check ``path`` against ``expected`` (size when known, then sha256)."""
    fix = f"delete it and re-run `luab-bench data download {spec.name} --force`"
    if not path.is_file():
        raise DataError(f"{path}: downloaded file is missing; {fix}")
    size = path.stat().st_size
    if expected.size is not None and size != expected.size:
        state = "truncated" if size < expected.size else "too long"
        raise DataError(
            f"{path}: {state}: {size:,} bytes, expected {expected.size:,} ({expected.source}); {fix}"
        )
    digest = file_sha256(path)
    if digest != expected.sha256:
        raise DataError(
            f"{path}: sha256 {digest} does not match the {expected.source} {expected.sha256} "
            f"({size:,} bytes: truncated or a different file); {fix}"
        )
    return Downloaded(path, digest, size, expected.source)
