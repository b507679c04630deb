"""Hub download: pinned revision, sha256 (pinned or trust-on-first-use lock), offline mode; no network."""

from __future__ import annotations

import hashlib
import json

import huggingface_hub
import pytest

from luab_bench.data import hub
from luab_bench.data.hub import HUB_FILES, LOCK_FILE, download
from luab_bench.errors import DataError, LuabError

CONTENT = b'[{"image_id": 9, "actionHistories": []}]'


def fake_downloader(tmp_path, content=CONTENT, calls=None):
    def fake(**kw):
        if calls is not None:
            calls.append(kw)
        path = tmp_path / "cache" / kw["filename"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return str(path)

    return fake


def test_download_passes_the_pin_and_records_the_checksum_on_first_use(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, calls=calls))
    got = download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    spec = HUB_FILES.get("coco-ab")
    assert calls[0]["revision"] == spec.revision and len(spec.revision) == 40
    assert calls[0]["repo_type"] == "dataset" and calls[0]["repo_id"] == "coallaoh/COCO-AB"
    assert got.sha256 == hashlib.sha256(CONTENT).hexdigest() and got.checksum_source == "recorded now"
    lock = json.loads((tmp_path / LOCK_FILE).read_text())
    assert lock[spec.lock_key] == {"sha256": got.sha256, "size": len(CONTENT)}
    assert download("coco-ab", lock_dir=tmp_path, local_files_only=False).checksum_source == "lock"


def test_changed_file_after_lock_is_detected_and_named(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path))
    download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, CONTENT[:-5]))
    with pytest.raises(DataError, match=r"coco_ab_v1_0\.json: truncated: 35 bytes, expected 40; .*--force"):
        download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    same_size = CONTENT.replace(b"9", b"8")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, same_size))
    with pytest.raises(DataError, match="does not match the lock"):
        download("coco-ab", lock_dir=tmp_path, local_files_only=False)


def test_pinned_sha256_mismatch_is_an_error_and_nothing_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(
        huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, b"<html>rate limited</html>")
    )
    with pytest.raises(
        DataError, match=r"imagenet_ab_v1_0\.tar\.gz: sha256 .* does not match the pinned 38e67940"
    ):
        download("imagenet-ab", lock_dir=tmp_path, local_files_only=False)
    assert not (tmp_path / LOCK_FILE).exists()


def test_pinned_sha256_match_passes(tmp_path):
    import dataclasses

    path = tmp_path / "imagenet_ab_v1_0.tar.gz"
    path.write_bytes(b"payload")
    spec = dataclasses.replace(HUB_FILES.get("imagenet-ab"), sha256=hashlib.sha256(b"payload").hexdigest())
    assert hub.verify(spec, path, lock_dir=tmp_path).checksum_source == "pinned"


def test_interrupted_download_is_a_user_error_and_force_is_passed(tmp_path, monkeypatch):
    def broken(**kw):
        raise OSError("Connection reset by peer")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", broken)
    with pytest.raises(LuabError, match=r"failed .*Connection reset.*re-run the same command to resume"):
        download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    calls: list = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, calls=calls))
    download("coco-ab", lock_dir=tmp_path, force=True, local_files_only=False)
    assert calls[0]["force_download"] is True


def _fake_hf_cache(cache, spec, content):
    """The real huggingface_hub cache layout for one file at a commit."""
    repo = cache / f"datasets--{spec.repo_id.replace('/', '--')}"
    blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(content)
    snap = repo / "snapshots" / spec.revision / spec.filename
    snap.parent.mkdir(parents=True)
    snap.symlink_to(blob)
    return snap


def test_offline_mode_uses_the_real_hf_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.offline()
    spec = HUB_FILES.get("coco-ab")
    with pytest.raises(LuabError, match=r"not in the HF cache .*HF_HUB_OFFLINE"):
        download("coco-ab", cache_dir=tmp_path / "hf", lock_dir=tmp_path)
    snap = _fake_hf_cache(tmp_path / "hf", spec, CONTENT)
    (snap.parent / (spec.filename + ".incomplete")).write_bytes(b"partial")  # never used
    got = download("coco-ab", cache_dir=tmp_path / "hf", lock_dir=tmp_path)
    assert got.path.read_bytes() == CONTENT and got.sha256 == hashlib.sha256(CONTENT).hexdigest()


def test_hf_hub_cache_env_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = HUB_FILES.get("coco-ab")
    _fake_hf_cache(tmp_path / "envcache", spec, CONTENT)
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "envcache"))  # what HF_HUB_CACHE sets at import
    assert download("coco-ab", lock_dir=tmp_path).path.read_bytes() == CONTENT


def test_unknown_name_has_did_you_mean(tmp_path):
    with pytest.raises(LuabError, match="did you mean 'coco-ab'"):
        download("coco_ab", lock_dir=tmp_path)
