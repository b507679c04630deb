"""``luab-bench leaderboard …``: build the static site and publish the result JSON Schema.

Replaces the ``leaderboard`` group in cli.py (same ``build`` defaults, plus the reference, trust and
exclusion options and the ``schema`` command).
"""

from __future__ import annotations

from pathlib import Path

import click

from luab_bench.cli_options import DEFAULT_RESULTS_DIR, DEFAULT_SITE_DIR, opt_out, opt_submissions

DEFAULT_REFERENCE_DIR = Path("leaderboard/reference")
DEFAULT_SCHEMA_PATH = Path("leaderboard/schema/result.schema.json")


@click.group()
def leaderboard() -> None:
    """Build the static leaderboard website."""


@leaderboard.command("build")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_RESULTS_DIR,
    show_default=True,
    help="Directory of result JSON files.",
)
@opt_out("Output directory of the static site.", kind="dir", default=DEFAULT_SITE_DIR)
@click.option(
    "--reference",
    "reference_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_REFERENCE_DIR,
    show_default=True,
    help="The paper's reported numbers (*.yaml); a missing directory means none.",
)
@click.option(
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    help="Trust this public key (base64 or .pub file) for any result, with no team; repeatable.",
)
@opt_submissions()
@click.option(
    "--verified-only", is_flag=True, help="Leave self-signed, unsigned and failing results out of the table."
)
@click.option(
    "--rescore-key",
    "rescore_keys",
    multiple=True,
    help="Count only re-scores (submission evaluate) signed by this key, e.g. the maintainers'; repeatable.",
)
def leaderboard_build(
    results_dir: Path,
    out: Path,
    reference_dir: Path,
    trusted_keys: tuple[str, ...],
    submissions_dir: Path | None,
    verified_only: bool,
    rescore_keys: tuple[str, ...],
) -> None:
    """Render RESULTS/*.json into OUT/ (index.html, r/*.html, results.json, results.csv).

    Without --submissions or --trusted-key, valid signatures show as self-signed (signer unchecked).
    """
    from luab_bench.leaderboard.build import build_site
    from luab_bench.results.trust import trust_from_options

    report = build_site(
        results_dir,
        out,
        trusted_keys=trust_from_options(trusted_keys, submissions_dir),
        reference_dir=reference_dir,
        include_unverified=not verified_only,
        rescore_keys=list(rescore_keys) or None,
    )
    click.echo(report.summary())


@leaderboard.command("schema")
@opt_out("Where to write the JSON Schema of result files.", default=DEFAULT_SCHEMA_PATH)
def leaderboard_schema(out: Path) -> None:
    """Write the result JSON Schema generated from the typed result model."""
    from luab_bench.leaderboard.build import write_result_schema

    click.echo(f"Schema: {write_result_schema(out)}")
