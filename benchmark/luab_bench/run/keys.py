"""The signing key of a run or study: the user's ``--key``, or a throw-away key made once and named."""

from __future__ import annotations

from pathlib import Path

from luab_bench.errors import LuabError
from luab_bench.run.spec import Echo, no_echo


def throwaway_key(runs_dir: Path, echo: Echo = no_echo) -> Path:
    """Make (once) a throw-away signing key under ``runs_dir`` and say so loudly."""
    from luab_bench.results.signing import generate_keypair

    key_dir = Path(runs_dir) / "throwaway-key"
    priv = key_dir / "luab_ed25519"
    if not priv.exists():
        priv, _pub = generate_keypair(key_dir)
    echo(
        f"NOTE: signing with a THROW-AWAY key ({priv}). The results verify, but nobody can attribute "
        "them to you; for a submission make a key with `luab-bench keygen` and pass --key."
    )
    return Path(priv)


def signing_key(key: Path | None, runs_dir: Path, echo: Echo = no_echo) -> Path:
    """``key`` when it is a file (missing: an error with the fix), else :func:`throwaway_key`."""
    if key is None:
        return throwaway_key(Path(runs_dir), echo)
    if not Path(key).is_file():
        raise LuabError(f"--key {key}: file not found; make one with `luab-bench keygen --out DIR`")
    return Path(key)
