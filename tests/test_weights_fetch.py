"""Weights download for re-scoring: https only, size cap, SHA-256 first, resume, cache (offline)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from luab_bench.errors import DataError, LuabError
from luab_bench.weights_fetch import ALLOW_FILE_ENV, fetch_weights

BLOB = bytes(range(256)) * 4096  # 1 MiB of known bytes
SHA = hashlib.sha256(BLOB).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    p = tmp_path / "src" / "model.safetensors"
    p.parent.mkdir()
    p.write_bytes(BLOB)
    return p


def test_file_urls_need_the_test_flag(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_FILE_ENV, raising=False)
    with pytest.raises(LuabError, match="file:// URLs are for tests only"):
        fetch_weights(source.as_uri(), SHA, cache_dir=tmp_path / "c")
    monkeypatch.setenv(ALLOW_FILE_ENV, "1")
    got = fetch_weights(source.as_uri(), SHA, cache_dir=tmp_path / "c")
    assert got.read_bytes() == BLOB and got.parent.name == SHA


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://example.org/m.safetensors", "https:// only"),
        ("ftp://example.org/m.safetensors", "https:// only"),
        ("https://u:secret@example.org/m.safetensors", "credentials"),
        ("https://example.org/m.pth", "pickle"),
        ("https://example.org/m.onnx", "safetensors only"),
    ],
)
def test_bad_urls(url: str, needle: str, tmp_path: Path) -> None:
    with pytest.raises(LuabError, match=needle):
        fetch_weights(url, SHA, cache_dir=tmp_path)


def test_hash_mismatch_refused_and_nothing_cached(source: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="refused before loading"):
        fetch_weights(source.as_uri(), "0" * 64, cache_dir=tmp_path / "c", allow_file=True)
    assert not any((tmp_path / "c").rglob("*.safetensors*"))


def test_size_cap(source: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="byte cap"):
        fetch_weights(source.as_uri(), SHA, cache_dir=tmp_path / "c", allow_file=True, max_bytes=1000)


def test_resume_and_cache(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    part = cache / SHA / "model.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BLOB[:300_000])  # an interrupted download
    got = fetch_weights(source.as_uri(), SHA, cache_dir=cache, allow_file=True)
    assert got.read_bytes() == BLOB and not part.exists()
    source.unlink()  # the cached, verified copy is used without the source
    assert fetch_weights(source.as_uri(), SHA, cache_dir=cache, allow_file=True) == got


class _Resp(io.BytesIO):
    def __init__(self, data: bytes, status: int, length: int | None) -> None:
        super().__init__(data)
        self.status = status
        self.headers = {} if length is None else {"Content-Length": str(length)}

    def __enter__(self) -> _Resp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.mark.parametrize("server_honours_range", [True, False])
def test_https_resume_with_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_honours_range: bool
) -> None:
    """An https download resumes with a Range request; a server answering 200 restarts from 0."""
    import urllib.request

    seen: list[dict[str, str]] = []

    def fake_urlopen(req: urllib.request.Request, timeout: float) -> _Resp:
        headers = dict(req.header_items())
        seen.append(headers)
        start = int(headers.get("Range", "bytes=0-")[6:-1] or 0)
        if start and server_honours_range:
            return _Resp(BLOB[start:], 206, len(BLOB) - start)
        return _Resp(BLOB, 200, len(BLOB))

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    cache = tmp_path / "c"
    part = cache / SHA / "model.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BLOB[:12345])
    got = fetch_weights("https://example.org/w/model.safetensors", SHA, cache_dir=cache)
    assert got.read_bytes() == BLOB
    assert seen[0]["Range"] == "bytes=12345-"


def test_https_announced_size_over_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda req, timeout: _Resp(b"", 200, 10**12))
    with pytest.raises(DataError, match="over the"):
        fetch_weights("https://example.org/model.safetensors", SHA, cache_dir=tmp_path, max_bytes=10**6)
