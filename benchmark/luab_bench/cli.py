"""The ``luab-bench`` command line: a thin layer over the library.

Only click and the error types are imported at start-up; every command imports what it needs when it
runs, so ``luab-bench --help`` never loads torch. User errors (:class:`LuabError`) become one line on
stderr and exit code 1 (click's own usage errors exit 2), never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from luab_bench import __version__
from luab_bench.cli_options import (
    opt_key,
    opt_out,
    opt_submissions,
)
from luab_bench.errors import LuabError


class LuabGroup(click.Group):
    """A click group that turns library errors into one-line CLI errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LuabError as err:
            from luab_bench.safe_json import display_name

            # a message may quote a file name or value that is not UTF-8: printable, never a crash
            raise click.ClickException(display_name(str(err))) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; files written so far are complete (atomic)") from None


# ---------------------------------------------------------------- commands
@click.group(cls=LuabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="luab-bench")
def cli() -> None:
    """luab-bench: train and evaluate classifiers under the baseline / Rand / LUAB protocols,
    score them, sign the results and build the leaderboard."""


@cli.command()
@opt_out("Directory for the key pair.", kind="dir", default=Path("."))
@click.option("--name", default="luab_ed25519", show_default=True, help="Base file name of the key pair.")
def keygen(out: Path, name: str) -> None:
    """Make an Ed25519 key pair for signing results (private key mode 0600, never overwritten)."""
    from luab_bench.results.signing import generate_keypair

    priv, pub = generate_keypair(out, name=name)
    click.echo(f"Private key: {priv} (keep it secret)")
    click.echo(f"Public key:  {pub} (put it in your submission.yaml)")


@cli.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@opt_key("Ed25519 private key (from `luab-bench keygen`).", required=True)
@click.option(
    "--submission",
    "submission_id",
    default=None,
    help="Bind the results to submissions/<ID>/ (schema 1.2 submission_id, covered by the signature).",
)
def sign(results: tuple[Path, ...], key: Path, submission_id: str | None) -> None:
    """Sign result JSON files in place (atomically)."""
    from luab_bench.results.signing import sign_result_file
    from luab_bench.safe_json import display_name

    for path in results:
        sign_result_file(path, key, submission_id=submission_id)
        bound = f" for submission {submission_id}" if submission_id else ""
        click.echo(f"signed {display_name(path)}{bound}")


@cli.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    help="Trust this public key (base64 or .pub file) for any result, with no team; repeatable.",
)
@opt_submissions()
def verify(results: tuple[Path, ...], trusted_keys: tuple[str, ...], submissions_dir: Path | None) -> None:
    """Check result signatures (files, or directories of *.json); exit 1 if any fails.

    With --submissions a result verifies only if bound to its submission (key, submission id and
    declared model/protocol/suite); without any anchor a valid signature is "self-signed". Replays
    (same result_id, or same model/protocol/suite/seed, as another file given) fail too.
    """
    from luab_bench.commands.trust import verify_files

    verify_files(_expand_result_paths(results), trusted_keys, submissions_dir)


def _expand_result_paths(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a directory stands for its ``*.json`` files (an empty one is an error)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.json"))
            if not found:
                raise LuabError(f"{p}: directory has no *.json result files")
            files.extend(found)
        else:
            files.append(p)
    return files


@cli.command("list")
@click.argument("what", type=click.Choice(["protocols", "suites", "variants", "recipes", "models"]))
@click.argument("pattern", required=False)
def list_cmd(what: str, pattern: str | None) -> None:
    """List registered protocols, suites, synthetic variants, recipes or models (timm's + registered).

    PATTERN is a glob (quote it: 'resnet*') that the names must match.
    """
    import fnmatch

    if what == "models":
        from luab_bench.models import list_models

        names = list_models(pattern)
    else:
        from luab_bench.run.names import list_names

        names = [n for n in list_names(what) if pattern is None or fnmatch.fnmatchcase(n, pattern)]
    if pattern is not None and not names:
        raise LuabError(f"no {what} match {pattern!r}; `luab-bench list {what}` shows them all")
    for name in names:
        click.echo(name)


def _add_feature_commands() -> None:
    """Attach the per-feature command modules (each imports only click at import time)."""
    from luab_bench.commands.align import align
    from luab_bench.commands.data import data
    from luab_bench.commands.jobs import evaluate, run, train
    from luab_bench.commands.leaderboard import leaderboard
    from luab_bench.commands.reproduce import reproduce
    from luab_bench.commands.study import study
    from luab_bench.commands.submission import submission

    for command in (run, train, evaluate, align, data, leaderboard, reproduce, study, submission):
        cli.add_command(command)


_add_feature_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="luab-bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
