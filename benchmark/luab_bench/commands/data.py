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
    """Generate (or reuse) the embedded synthetic benchmark (synthetic-coco*: the COCO-AB split)."""
    from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS, generate_coco

    if variant in SYNTHETIC_COCO_VARIANTS:
        out = generate_coco(SYNTHETIC_COCO_VARIANTS[variant], data_dir.expanduser())
        click.echo(f"Dataset: {out}")
        return
    from luab_bench import pipeline

    ds = pipeline.prepare_synthetic(variant, data_dir.expanduser(), progress=progress)
    click.echo(f"Dataset: {ds.directory}")
    click.echo(f"Fingerprint: {ds.fingerprint}")


@data.command("parse")
@click.argument("records", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on the first malformed record.")
@click.option(
    "--click", "click_choice", type=click.Choice(["final", "first"]), default="final", show_default=True
)
@click.option("--aggregate", type=click.Choice(["first", "mean"]), default="first", show_default=True)
@click.option(
    "--allow-malformed",
    is_flag=True,
    help="Exit 0 even when records are malformed (they are counted and skipped either way).",
)
def data_parse(records: Path, strict: bool, click_choice: str, aggregate: str, allow_malformed: bool) -> None:
    """Parse ImageNet-AB records (JSON, JSON lines, XML folder or Hub tarball); report Z coverage.

    Exits 1 after the report when any record is malformed (truncated, NaN, ...) unless
    --allow-malformed: a check that passes must mean the file is clean.
    """
    from luab_bench.data.byproducts import parse_imagenet_ab

    parsed = parse_imagenet_ab(records, strict=strict, click=click_choice, aggregate=aggregate)  # type: ignore[arg-type]
    for line in parsed.report.summary_lines():
        click.echo(line)
    bad = parsed.report.n_malformed
    if bad and not allow_malformed:
        raise click.ClickException(
            f"{records}: {bad:,} malformed record(s) (see above); fix or re-download the file, "
            "or pass --allow-malformed to accept it as is"
        )


_DATASETS = click.Choice(["imagenet-ab", "coco-ab"])


def _records_arg(f):  # type: ignore[no-untyped-def]
    return click.argument("records", type=click.Path(path_type=Path))(f)


@data.command("download")
@click.argument("name", type=_DATASETS)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="HF cache folder (default: HF_HUB_CACHE / HF_HOME, as huggingface_hub resolves it).",
)
@click.option("--force", is_flag=True, help="Re-download even if cached (after a checksum failure).")
@opt_data_dir
def data_download(name: str, cache_dir: Path | None, force: bool, data_dir: Path) -> None:
    """Download NAME from the HF Hub at its pinned commit and verify its sha256 (resumable)."""
    from luab_bench.data.hub import HUB_FILES, download

    spec = HUB_FILES.get(name)
    got = download(name, cache_dir=cache_dir, lock_dir=data_dir.expanduser(), force=force)
    click.echo(f"{spec.repo_id}@{spec.revision[:12]} {spec.filename}")
    click.echo(f"path: {got.path}")
    click.echo(f"sha256: {got.sha256} ({got.checksum_source}); {got.size:,} bytes")


@data.command("ingest")
@click.argument("dataset", type=_DATASETS)
@_records_arg
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Table folder [<data-dir>/points/DATASET]."
)
@click.option("--strict", is_flag=True, help="Fail on the first malformed record.")
@click.option(
    "--click", "click_choice", type=click.Choice(["final", "first"]), default="final", show_default=True
)
@click.option("--aggregate", type=click.Choice(["first", "mean"]), default="first", show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["last_add", "replay"]),
    default="last_add",
    show_default=True,
    help="COCO-AB Z_c: last_add = the final add action (LUAB §4.1); replay = after add/move/remove.",
)
@click.option("--force", is_flag=True, help="Rebuild even if an up-to-date table exists.")
@opt_data_dir
def data_ingest(
    dataset: str,
    records: Path,
    out: Path | None,
    strict: bool,
    click_choice: str,
    aggregate: str,
    mode: str,
    force: bool,
    data_dir: Path,
) -> None:
    """Parse RECORDS once into a memory-mapped point table keyed by image id (cached)."""
    from luab_bench.data import point_table as pt

    out = out or pt.default_table_dir(data_dir, dataset)
    if dataset == "coco-ab":
        table = pt.ingest_coco_ab(records, out, strict=strict, mode=mode, force=force)
    else:
        table = pt.ingest_imagenet_ab(
            records, out, strict=strict, click=click_choice, aggregate=aggregate, force=force
        )
    click.echo(f"point table: {table.directory} ({len(table):,} images, {table.meta['rows']:,} points)")


@data.command("info")
@click.argument("table", type=click.Path(path_type=Path))
def data_info(table: Path) -> None:
    """Show what a point table holds and the parse report it was built with."""
    from luab_bench.data.point_table import PointTable

    t = PointTable(table)
    meta = t.meta
    click.echo(
        f"dataset: {meta['dataset']}; images with points: {meta['images']:,}; points: {meta['rows']:,}"
    )
    ingested = meta.get("source", {})  # the stored field: the records file this table was ingested from
    click.echo(
        f"source: {ingested.get('path')} ({ingested.get('size', 0):,} bytes); options: {meta.get('options')}"
    )
    report = meta.get("report", {})
    for key in ("records", "images", "with_point"):
        if key in report:
            click.echo(f"{key}: {report[key]:,}")
    for key in ("no_point", "malformed"):
        counts = {k: v for k, v in report.get(key, {}).items() if v}
        click.echo(f"{key}: {counts or 0}")


@data.command("stats")
@click.argument("dataset", type=_DATASETS)
@_records_arg
@click.option("--instances", type=click.Path(path_type=Path), default=None, help="COCO instances json.")
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    default=None,
    help="Local image folder to join with (ImageNet train ImageFolder root, or COCO train2014/).",
)
@click.option(
    "--click", "click_choice", type=click.Choice(["final", "first"]), default="final", show_default=True
)
@click.option("--aggregate", type=click.Choice(["first", "mean"]), default="first", show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["last_add", "replay"]),
    default="last_add",
    show_default=True,
    help="COCO-AB Z_c: last_add = the final add action (LUAB §4.1); replay = after add/move/remove.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def data_stats(
    dataset: str,
    records: Path,
    instances: Path | None,
    images: Path | None,
    click_choice: str,
    aggregate: str,
    mode: str,
    as_json: bool,
) -> None:
    """Counts the paper reports (printed beside them, LUAB §3-4.1), click/icon quality, the image join."""
    import json

    from luab_bench.data import stats as st

    join = None
    if dataset == "coco-ab":
        from luab_bench.data.coco import folder_image_ids, load_instances
        from luab_bench.data.coco_ab import parse_coco_ab

        parsed = parse_coco_ab(records, mode=mode)  # type: ignore[arg-type]
        inst = load_instances(instances) if instances else None
        figures = st.coco_stats(parsed, inst.labels if inst else None)
        if images is not None:
            if inst is None:
                from luab_bench.errors import LuabError

                raise LuabError("--images for coco-ab needs --instances (file names come from it)")
            folder = folder_image_ids(images, inst)
            join = st.join(folder, parsed.images)
            with_z = [i for i, img in parsed.images.items() if img.points]
            figures.update(st.folder_shares(dataset, folder, parsed.images, with_z))
    else:
        from luab_bench.data.byproducts import parse_imagenet_ab
        from luab_bench.data.imagenet import imagefolder_samples

        parsed = parse_imagenet_ab(records, click=click_choice, aggregate=aggregate)  # type: ignore[arg-type]
        figures = st.imagenet_stats(parsed)
        if images is not None:
            ids, _, _ = imagefolder_samples(images)
            join = st.join(ids, parsed.points)
            figures.update(st.folder_shares(dataset, ids, parsed.report.record_ids, parsed.points))
    if as_json:
        payload = {"stats": st.stats_dict(figures, dataset), "join": join.as_dict() if join else None}
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    for line in st.stats_lines(figures, dataset):
        click.echo(line)
    if join is not None:
        for line in join.summary_lines():
            click.echo(line)
