"""Download a submission's weights: https only, size-capped, resumable, cached, SHA-256 checked first.

``fetch_weights(url, sha256)`` returns a local ``.safetensors`` path whose bytes hash to ``sha256``;
nothing else in luab-bench sees the file before that check. Layout of the cache (default
``~/.cache/luab-bench/weights``, env ``LUAB_BENCH_WEIGHTS_CACHE``)::

    <cache>/<sha256>/<file name>          complete, verified file (reused without downloading)
    <cache>/<sha256>/<file name>.part     interrupted download, resumed with an HTTP Range request

A server that ignores the Range header (status 200) restarts the file from byte 0. The size cap
(default 2 GiB, ``max_bytes``) applies to the announced Content-Length and to the bytes actually
received. ``file://`` URLs exist only for offline tests and are refused unless
``LUAB_BENCH_ALLOW_FILE_URLS=1`` (or ``allow_file=True``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from luab_bench.errors import DataError, LuabError
from luab_bench.weights import check_safetensors_name, check_sha256

CACHE_ENV = "LUAB_BENCH_WEIGHTS_CACHE"
ALLOW_FILE_ENV = "LUAB_BENCH_ALLOW_FILE_URLS"
DEFAULT_MAX_BYTES = 2 << 30
CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$LUAB_BENCH_WEIGHTS_CACHE`` or ``~/.cache/luab-bench/weights``."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/luab-bench/weights").expanduser()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _check_url(url: str, allow_file: bool) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not (allow_file or os.environ.get(ALLOW_FILE_ENV) == "1"):
            raise LuabError(f"{url}: file:// URLs are for tests only (set {ALLOW_FILE_ENV}=1); use https://")
    elif parts.scheme != "https" or not parts.netloc:
        raise LuabError(f"{url}: weights are downloaded over https:// only")
    if parts.username or parts.password:
        raise LuabError(f"{parts.hostname}: a weights URL must not carry credentials (user:password@)")
    name = PurePosixPath(unquote(parts.path)).name
    check_safetensors_name(name, "weights URL")
    return parts.scheme, name


def _copy_capped(src, dst, start: int, max_bytes: int, url: str) -> None:
    got = start
    while True:
        block = src.read(CHUNK)
        if not block:
            return
        got += len(block)
        if got > max_bytes:
            raise DataError(f"{url}: larger than the {max_bytes} byte cap; refused (raise --max-bytes)")
        dst.write(block)


def fetch_weights(
    url: str,
    sha256: str,
    *,
    cache_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_file: bool = False,
    timeout: float = 60.0,
) -> Path:
    """The verified local copy of ``url`` (see module docstring); DataError on a hash or size problem."""
    sha256 = check_sha256(sha256, "weights.sha256")
    scheme, name = _check_url(url, allow_file)
    folder = (cache_dir or default_cache_dir()) / sha256
    final, part = folder / name, folder / f"{name}.part"
    if final.is_file():
        if _sha256_file(final) == sha256:
            return final
        final.unlink()  # a corrupted cache entry: fetch again
    folder.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.is_file() else 0
    if start > max_bytes:
        part.unlink()
        start = 0
    if scheme == "file":
        src_path = Path(unquote(urlsplit(url).path))
        if not src_path.is_file():
            raise LuabError(f"{url}: file not found")
        if src_path.stat().st_size > max_bytes:
            raise DataError(f"{url}: larger than the {max_bytes} byte cap; refused (raise --max-bytes)")
        with src_path.open("rb") as src, part.open("ab" if start else "wb") as dst:
            src.seek(start)
            _copy_capped(src, dst, start, max_bytes, url)
    else:
        _download_https(url, part, start, max_bytes, timeout)
    digest = _sha256_file(part)
    if digest != sha256:
        part.unlink()
        raise DataError(
            f"{url}: downloaded file has SHA-256 {digest[:12]}…, the submission says {sha256[:12]}…; "
            "refused before loading (fix weights.sha256 or the file)"
        )
    os.replace(part, final)
    return final


def _download_https(url: str, part: Path, start: int, max_bytes: int, timeout: float) -> None:
    import urllib.error
    import urllib.request

    headers = {"User-Agent": "luab-bench"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status = getattr(resp, "status", 200)
            if start and status != 206:
                start = 0  # the server ignored the Range request: start over
            length = resp.headers.get("Content-Length")
            if length is not None and start + int(length) > max_bytes:
                raise DataError(
                    f"{url}: announces {start + int(length)} bytes, over the {max_bytes} byte cap; refused"
                )
            with part.open("ab" if start else "wb") as dst:
                _copy_capped(resp, dst, start, max_bytes, url)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # range not satisfiable: the .part is already complete
            return
        raise LuabError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        done = part.stat().st_size if part.exists() else 0
        raise LuabError(f"{url}: download failed ({err}); run again to resume from {done} bytes") from None


def clear_partial(url: str, sha256: str, cache_dir: Path | None = None) -> None:
    """Remove the cached copy and partial download of ``url`` (tests, or to force a fresh download)."""
    folder = (cache_dir or default_cache_dir()) / check_sha256(sha256, "weights.sha256")
    shutil.rmtree(folder, ignore_errors=True)
