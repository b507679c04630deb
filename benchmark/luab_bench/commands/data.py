"""``luab-bench data …``: generate, download, parse and inspect benchmark data."""

from __future__ import annotations

from pathlib import Path

import click

from luab_bench.cli_options import opt_data_dir, opt_progress


@click.group()
def data() -> None:
    """Generate, parse and inspect benchmark data."""


@data.command("generate")
@click.option("--variant", default="synthetic", show_default=True, help="Synthetic suite variant.")
@opt_data_dir
@opt_progress
def data_generate(variant: str, data_dir: Path, progress: bool) -> None:
    """Generate (or reuse) the embedded synthetic benchmark."""
    from luab_bench import pipeline

    ds = pipeline.prepare_synthetic(variant, data_dir.expanduser(), progress=progress)
    click.echo(f"Dataset: {ds.directory}")
    click.echo(f"Fingerprint: {ds.fingerprint}")


@data.command("parse")
@click.argument("records", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on the first malformed record.")
def data_parse(records: Path, strict: bool) -> None:
    """Parse an ImageNet-AB record file and report Z coverage and malformed records."""
    from luab_bench.data.byproducts import parse_imagenet_ab

    parsed = parse_imagenet_ab(records, strict=strict)
    for line in parsed.report.summary_lines():
        click.echo(line)
