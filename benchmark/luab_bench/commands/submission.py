"""``luab-bench submission …``: validate leaderboard submissions (what CI runs on a pull request) and
re-score them (``submission evaluate``, run by a maintainer who has the evaluation data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from luab_bench.cli_options import opt_allow_code, opt_data_dir, opt_data_root, opt_device, opt_progress
from luab_bench.errors import LuabError


@click.group()
def submission() -> None:
    """Validate leaderboard submissions (submissions/<id>/submission.yaml) and re-score them."""


def _targets(paths: tuple[Path, ...], root: Path) -> list[Path]:
    from luab_bench.submissions import find_submissions

    if paths:
        return list(paths)
    found = find_submissions(root)
    if not found:
        raise LuabError(f"{root}: no */submission.yaml found; pass a submission directory")
    return found


def _paths_and_root(f: Any) -> Any:
    """PATHS... and --root: the submissions a command works on (every */submission.yaml by default)."""
    f = click.option(
        "--root",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("submissions"),
        show_default=True,
        help="Where submissions live when no PATHS are given (every */submission.yaml is used).",
    )(f)
    f = click.option(
        "--allow-factory",
        "allow_factory",
        multiple=True,
        metavar="MODULE:CALLABLE",
        help="Accept this module:callable model (reviewed by a maintainer: evaluating it runs its "
        "code); repeatable. Any other factory is refused.",
    )(f)
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path))(f)


@submission.command("check")
@_paths_and_root
def submission_check(paths: tuple[Path, ...], root: Path, allow_factory: tuple[str, ...]) -> None:
    """Check submission directories (or submission.yaml files); exit 1 if any is invalid.

    Every problem is reported as FILE: FIELD: MESSAGE. Nothing is downloaded or imported.
    """
    from luab_bench.results.signing import key_fingerprint
    from luab_bench.submissions import SubmissionError, check_submission

    targets = _targets(paths, root)
    failed = 0
    for path in targets:
        try:
            sub = check_submission(path, allowed_factories=allow_factory)
        except SubmissionError as err:
            failed += 1
            for problem in err.problems:
                click.echo(f"FAIL  {problem}", err=True)
            continue
        click.echo(
            f"OK    {path}: team {sub.team!r}, model {sub.model}, protocol {sub.protocol}, "
            f"recipe {sub.recipe}, key {key_fingerprint(sub.public_key)}"
        )
    if failed:
        raise click.ClickException(f"{failed} of {len(targets)} submission(s) invalid")


@submission.command("keys")
@_paths_and_root
def submission_keys(paths: tuple[Path, ...], root: Path, allow_factory: tuple[str, ...]) -> None:
    """Print the public key of every (valid) submission, one base64 key per line.

    CI checks that there is at least one; it verifies results with `--submissions`, which binds each
    result to its own submission (a bare `--trusted-key` would trust a key for any result).
    """
    from luab_bench.submissions import check_submission

    for path in _targets(paths, root):
        click.echo(check_submission(path, check_timm=False, allowed_factories=allow_factory).public_key)


@submission.command("evaluate")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("leaderboard/results"),
    show_default=True,
    help="Where the submitted (signed) results are; the re-scored results are written here too.",
)
@click.option(
    "--result",
    "result_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Re-score only this submitted result file (repeatable; default: all of the submission's).",
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write the re-scored results here (default: --results-dir).",
)
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The re-scorer's (maintainer's) Ed25519 private key; it signs the re-scored results.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Weights cache (default $LUAB_BENCH_WEIGHTS_CACHE or ~/.cache/luab-bench/weights).",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse weight files larger than this (default 2 GiB).",
)
@opt_data_dir
@opt_data_root("Folder of released datasets for a real suite (the submission's suite).")
@opt_allow_code
@opt_device
@opt_progress
def submission_evaluate(
    path: Path,
    results_dir: Path,
    result_files: tuple[Path, ...],
    out_dir: Path | None,
    key: Path,
    cache_dir: Path | None,
    max_bytes: int | None,
    data_dir: Path,
    data_root: Path | None,
    device: str,
    progress: bool,
) -> None:
    """Re-score a submission: download its weights, evaluate them, compare with the signed results.

    Writes one re-scored result per submitted result (signed with --key) and prints each metric's
    drift; exits 1 when any metric drifts beyond the suite's tolerance. A module:callable model needs
    --allow-code (review its code first).
    """
    from luab_bench.rescore import rescore_submission

    outcomes = rescore_submission(
        path,
        key=key,
        data_dir=data_dir.expanduser(),
        out_dir=out_dir or results_dir,
        results_dir=results_dir,
        result_files=list(result_files) or None,
        data_root=data_root,
        cache_dir=cache_dir,
        max_bytes=max_bytes,
        device=device,
        progress=progress,
        echo=click.echo,
    )
    drifted = []
    for o in outcomes:
        click.echo(f"{o.submitted.name} -> {o.rescored}")
        for line in o.lines():
            click.echo(f"  {line}")
        if not o.ok:
            drifted.append(o.submitted.name)
    if drifted:
        raise LuabError(
            f"re-score drifted beyond the tolerance for {len(drifted)} result(s): {', '.join(drifted)}"
        )
