"""Provenance: which code, software and hardware produced a result (never the hostname).

Cheap and side-effect free: package versions come from ``importlib.metadata`` (no heavy imports);
the git commit comes from ``git`` with a timeout and is ``None`` whenever git is missing, slow, or
luab_bench is not running from a git checkout (e.g. an installed wheel).
"""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "torchvision", "timm", "numpy", "pydantic", "cryptography")
GIT_TIMEOUT_S = 5.0


def _git(args: list[str], cwd: Path) -> str | None:
    """Run ``git`` in ``cwd``; stdout stripped, or None on any failure (absent, timeout, non-zero)."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_state(source_dir: str | Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git checkout holding the luab_bench sources, else ``(None, None)``.

    Only counts when luab_bench's own files are tracked there, so a venv that happens to live
    inside some other repository does not record that repository's commit. ``dirty`` is True when
    the package directory has uncommitted changes or untracked files.
    """
    src = Path(source_dir) if source_dir is not None else Path(__file__).resolve().parents[1]
    if not src.is_dir() or _git(["ls-files", "--error-unmatch", "__init__.py"], src) is None:
        return None, None
    commit = _git(["rev-parse", "HEAD"], src)
    if not commit:
        return None, None
    status = _git(["status", "--porcelain", "--", "."], src)
    return commit, (None if status is None else bool(status))


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (None when not installed), without importing them."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_name() -> str | None:
    """A human-readable CPU model name, best effort."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def gpu_name() -> str | None:
    """Name of the current CUDA device, only if torch is *already* imported (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if torch.cuda.is_available():
            return str(torch.cuda.get_device_name(torch.cuda.current_device()))
    except Exception:  # a broken driver must not break result writing
        return None
    return None


def collect_provenance(
    data_fingerprint: str | None, extra_data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A dict matching :class:`luab_bench.results.schema.Provenance` for the current process."""
    from luab_bench import __version__

    commit, dirty = git_state()
    return {
        "luab_bench_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": package_versions(),
        "cpu": cpu_name(),
        "gpu": gpu_name(),
        "data_fingerprint": data_fingerprint,
        "extra_data": dict(extra_data or {}),
    }
