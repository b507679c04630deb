"""``luab-bench submission …``: validate leaderboard submissions (what CI runs on a pull request)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from luab_bench.errors import LuabError


@click.group()
def submission() -> None:
    """Validate leaderboard submissions (submissions/<id>/submission.yaml)."""


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
