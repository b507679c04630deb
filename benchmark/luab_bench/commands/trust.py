"""``luab-bench verify``'s work: signatures, binding to submissions, replays, one line per file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click


def verify_files(files: Sequence[Path], trusted_keys: Sequence[str], submissions_dir: Path | None) -> None:
    """Verify ``files``; print ``OK``/``FAIL`` per file; raise ``ClickException`` if any failed.

    A file that repeats another given file's run (:mod:`luab_bench.results.replays`) fails as a
    replay even if its signature is valid: CI would otherwise merge a copied result.
    """
    from luab_bench.results.replays import find_replays
    from luab_bench.results.schema import read_json_document, validate_result
    from luab_bench.results.signing import verify_result_file
    from luab_bench.results.trust import trust_from_options
    from luab_bench.safe_json import display_name

    trust = trust_from_options(trusted_keys, submissions_dir)
    outcomes = {}
    rows = []
    for path in files:
        outcome = verify_result_file(path, trusted_keys=trust)
        outcomes[path] = outcome
        if outcome.ok:  # a valid signature: read again for the replay check (the content verified)
            r = validate_result(read_json_document(path), str(path))
            rows.append(
                {
                    "file": str(path),
                    "result_id": r.result_id,
                    "created_at": r.created_at,
                    "model": {"name": r.model.name},
                    "protocol": {"name": r.protocol.name},
                    "suite": {"name": r.suite.name, "variant": r.suite.variant},
                    "seed": r.seed,
                    "signature": {"status": outcome.status},
                }
            )
    replays = {d.file: d for d in find_replays(rows)}
    failed = 0
    for path in files:
        outcome = outcomes[path]
        replay = replays.get(str(path))
        shown = display_name(path)  # a name that is not UTF-8 is printed escaped, not a crash
        if outcome.ok and replay is None:
            click.echo(f"OK    {shown}: {outcome.reason}")
        elif replay is not None:
            failed += 1
            click.echo(
                f"FAIL  {shown}: same run as {display_name(replay.duplicate_of)} ({replay.reason}); "
                "a run is submitted once, remove one of the files",
                err=True,
            )
        else:
            failed += 1
            click.echo(f"FAIL  {shown}: {display_name(outcome.reason)}", err=True)
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} result(s) failed verification")
