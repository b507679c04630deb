"""Hub download: pinned revision, the Hub's own sha256 at it (get_paths_info, monkeypatched), the lock,
offline mode, and DNS failure told apart from HF_HUB_OFFLINE; no network."""

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


def fake_paths_info(content=CONTENT, calls=None, sha=None):
    """``HfApi.get_paths_info`` answering with the LFS sha256/size of ``content`` (what the Hub returns)."""
    from huggingface_hub.hf_api import RepoFile

    def fake(self, repo_id, paths, *, revision=None, repo_type=None, **kw):
        if calls is not None:
            calls.append(
                {"repo_id": repo_id, "paths": list(paths), "revision": revision, "repo_type": repo_type}
            )
        digest = sha or hashlib.sha256(content).hexdigest()
        lfs = {"size": len(content), "oid": digest, "pointerSize": 134}  # the API's JSON for an LFS file
        return [RepoFile(type="file", path=paths[0], size=len(content), oid="0" * 40, lfs=lfs)]

    return fake


@pytest.fixture
def hub_api(monkeypatch):
    """The Hub's metadata API, answering for CONTENT; returns the list of calls."""
    calls: list = []
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", fake_paths_info(calls=calls))
    return calls


def test_download_pins_main_and_checks_the_hubs_own_sha256(tmp_path, monkeypatch, hub_api):
    calls: list = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, calls=calls))
    got = download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    spec = HUB_FILES.get("coco-ab")
    assert calls[0]["revision"] == spec.revision == "be4770eac0d6138aec946b22e192da022396f5aa"
    assert calls[0]["repo_type"] == "dataset" and calls[0]["repo_id"] == "coallaoh/COCO-AB"
    assert hub_api == [
        {"repo_id": "coallaoh/COCO-AB", "paths": ["coco_ab_v1_0.json"], "revision": spec.revision,
         "repo_type": "dataset"}
    ]  # fmt: skip
    assert got.sha256 == hashlib.sha256(CONTENT).hexdigest() and got.checksum_source == "hub"
    lock = json.loads((tmp_path / LOCK_FILE).read_text())
    assert lock[spec.lock_key] == {"sha256": got.sha256, "size": len(CONTENT), "source": "hub"}
    # offline afterwards: the Hub's recorded answer is used, no API call
    assert download("coco-ab", lock_dir=tmp_path, local_files_only=True).checksum_source == "lock"
    assert len(hub_api) == 1
    assert HUB_FILES.get("imagenet-ab").revision == "bba7343cc5f2cafb51825bcab492fd8fe4037cfb"


def test_a_file_the_hub_disowns_is_rejected_even_on_first_use(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", fake_paths_info(CONTENT))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, CONTENT[:-5]))
    with pytest.raises(
        DataError, match=r"coco_ab_v1_0\.json: truncated: 35 bytes, expected 40 \(hub\); .*--force"
    ):
        download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    same_size = CONTENT.replace(b"9", b"8")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, same_size))
    with pytest.raises(DataError, match="does not match the hub"):
        download("coco-ab", lock_dir=tmp_path, local_files_only=False)


def test_offline_without_a_hub_answer_cannot_verify(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path))
    spec = HUB_FILES.get("coco-ab")
    # a legacy trust-on-first-use entry (no source) is not trusted
    (tmp_path / LOCK_FILE).write_text(json.dumps({spec.lock_key: {"sha256": "0" * 64, "size": 40}}))
    with pytest.raises(
        LuabError, match=r"not been fetched from the Hub yet .*HF_HUB_OFFLINE.*once with network"
    ):
        download("coco-ab", lock_dir=tmp_path, local_files_only=True)


def test_unreachable_hub_falls_back_to_the_pin_and_says_why_otherwise(tmp_path, monkeypatch):
    import socket

    def dns_down(self, *a, **kw):
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as e:
            raise OSError("Max retries exceeded with url: /api/datasets/coallaoh") from e

    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", dns_down)
    payload = b"payload"
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, payload))
    import dataclasses

    pinned = dataclasses.replace(HUB_FILES.get("imagenet-ab"), sha256=hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(HUB_FILES._items, "imagenet-ab", pinned)
    assert download("imagenet-ab", lock_dir=tmp_path, local_files_only=False).checksum_source == "pinned"
    with pytest.raises(LuabError, match="DNS lookup of the Hub failed") as err:
        download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    assert "HF_HUB_OFFLINE" not in str(err.value)


def test_stale_pin_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", fake_paths_info(sha="f" * 64))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_downloader(tmp_path))
    with pytest.raises(DataError, match="the pin is stale"):
        download("imagenet-ab", lock_dir=tmp_path, local_files_only=False)
    assert not (tmp_path / LOCK_FILE).exists()


def test_pinned_sha256_mismatch_is_an_error_and_nothing_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(
        huggingface_hub, "hf_hub_download", fake_downloader(tmp_path, b"<html>rate limited</html>")
    )
    with pytest.raises(
        DataError, match=r"imagenet_ab_v1_0\.tar\.gz: sha256 .* does not match the pinned 38e67940"
    ):
        download("imagenet-ab", lock_dir=tmp_path, local_files_only=True)
    assert not (tmp_path / LOCK_FILE).exists()


def test_pinned_sha256_match_passes(tmp_path):
    path = tmp_path / "imagenet_ab_v1_0.tar.gz"
    path.write_bytes(b"payload")
    expected = hub.Checksum(hashlib.sha256(b"payload").hexdigest(), None, "pinned")
    assert hub.verify(HUB_FILES.get("imagenet-ab"), path, expected).checksum_source == "pinned"


def test_dns_failure_is_not_reported_as_offline(tmp_path, monkeypatch):
    import socket

    from huggingface_hub.errors import LocalEntryNotFoundError

    def dns_down(**kw):
        try:
            raise socket.gaierror(-3, "Temporary failure in name resolution")
        except socket.gaierror as e:
            raise LocalEntryNotFoundError(
                "An error happened while trying to locate the file on the Hub"
            ) from e

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", dns_down)
    with pytest.raises(LuabError, match="DNS lookup of the Hub failed") as err:
        download("coco-ab", lock_dir=tmp_path, local_files_only=False)
    assert "downloads are off" not in str(err.value)


def test_interrupted_download_is_a_user_error_and_force_is_passed(tmp_path, monkeypatch, hub_api):
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
    with pytest.raises(LuabError, match="cannot be verified"):  # offline and the Hub never asked
        download("coco-ab", cache_dir=tmp_path / "hf", lock_dir=tmp_path)
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", fake_paths_info())
    hub.expected_checksum(spec, lock_dir=tmp_path, online=True)  # asked once, while online
    got = download("coco-ab", cache_dir=tmp_path / "hf", lock_dir=tmp_path)
    assert got.path.read_bytes() == CONTENT and got.sha256 == hashlib.sha256(CONTENT).hexdigest()


def test_hf_hub_cache_env_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = HUB_FILES.get("coco-ab")
    _fake_hf_cache(tmp_path / "envcache", spec, CONTENT)
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "envcache"))  # what HF_HUB_CACHE sets at import
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", fake_paths_info())
    hub.expected_checksum(spec, lock_dir=tmp_path, online=True)
    assert download("coco-ab", lock_dir=tmp_path).path.read_bytes() == CONTENT


def test_unknown_name_has_did_you_mean(tmp_path):
    with pytest.raises(LuabError, match="did you mean 'coco-ab'"):
        download("coco_ab", lock_dir=tmp_path)
