"""``luab-bench study sensitivity``: the recorded sensitivity study (positive controls × seeds × variants).

Thin CLI over :mod:`luab_bench.studies.sensitivity`: run every missing (variant, seed, protocol) job,
then analyse and write the markdown report, the leaderboard of the study's results (with its suite
pages: seed means, paired Δ, MDE) and the study page ``study-sensitivity.html`` in that site.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from luab_bench.cli_options import opt_data_dir, opt_device, opt_key, opt_out, opt_progress

STUDY_PAGE = "study-sensitivity.html"


@click.group("study")
def study() -> None:
    """Studies of the benchmark itself (sensitivity: can it see effects of known sign?)."""


@study.command("sensitivity")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Study YAML (default: the built-in studies/sensitivity.yaml).",
)
@opt_out(
    "Study directory: results/, runs/<variant>/, study-log.json.",
    kind="dir",
    default=Path("runs/study-sensitivity"),
)
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Markdown report (default: OUT/report.md).",
)
@click.option(
    "--site-dir", type=click.Path(path_type=Path), default=None, help="Study site (default: OUT/site)."
)
@click.option("--variants", default=None, help="Comma-separated subset of the config's variants.")
@click.option("--protocols", default=None, help="Comma-separated subset of the config's protocols.")
@click.option("--seeds", "seeds_spec", default=None, help="Seeds (count or list, as `run --seeds`).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override the recipe's epochs.")
@click.option("--analyse-only", is_flag=True, help="Train nothing; report on the results already there.")
@opt_data_dir
@opt_key("Ed25519 private key to sign the study's results (default: a throw-away key under OUT).")
@opt_device
@opt_progress
def sensitivity(
    config_path: Path | None,
    out: Path,
    report: Path | None,
    site_dir: Path | None,
    variants: str | None,
    protocols: str | None,
    seeds_spec: str | None,
    epochs: int | None,
    analyse_only: bool,
    data_dir: Path,
    key: Path | None,
    device: str,
    progress: bool,
) -> None:
    """Run (or resume) the sensitivity study, then write its report and site page."""
    from luab_bench.device import resolve_device
    from luab_bench.io import atomic_write_bytes
    from luab_bench.leaderboard.build import build_site
    from luab_bench.seeds import parse_seeds
    from luab_bench.studies.sensitivity import analyse, load_study, render_markdown, run_study, subset

    cfg = subset(
        load_study(config_path),
        variants=variants,
        protocols=protocols,
        seeds=parse_seeds(seeds_spec) if seeds_spec else None,
        epochs=epochs,
    )
    dev = resolve_device(device)
    data_dir = data_dir.expanduser()
    if not analyse_only:
        run_study(cfg, out, study_spec(cfg, data_dir=data_dir, key=key, device=dev, progress=progress))
    analysis = analyse(cfg, out, data_dir=data_dir, device=dev)
    command = (
        "luab-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv[1:2] == ["study"]
        else ("luab-bench study sensitivity")
    )
    text = render_markdown(analysis, command=command)
    report = report or out / "report.md"
    atomic_write_bytes(report, text.encode("utf-8"))
    site = site_dir or out / "site"
    if (out / "results").is_dir():
        build_site(out / "results", site)
        page = write_study_page(site, text)
        click.echo(f"Study page: {page}")
    click.echo(f"Report: {report}")
    missing = analysis["missing"]
    click.echo(
        f"{len(missing)} job(s) of the config have no verified result" if missing else "All jobs done."
    )


def study_spec(cfg: Any, *, data_dir: Path, key: Path | None, device: str, progress: bool) -> Any:
    """The :class:`~luab_bench.run.spec.RunSpec` a study's jobs start from (where and how to run)."""
    from luab_bench.run.spec import RunSpec
    from luab_bench.train.sources.base import SourceRequest

    return RunSpec(
        model=cfg.model, protocols=tuple(cfg.protocols), data=SourceRequest(data_dir=data_dir),
        suite=cfg.suite, key=key, device=device, align=False, progress=progress, echo=click.echo,
    )  # fmt: skip


def write_study_page(site: Path, markdown_text: str) -> Path:
    """The report as an HTML page of the site (markdown rendered with raw HTML disabled)."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    from luab_bench.leaderboard.build import get_renderer, write_if_changed

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text)
    renderer = get_renderer()
    html = renderer.render("study.html.j2", title="luab-bench sensitivity study", body=Markup(body))
    path = Path(site) / STUDY_PAGE
    write_if_changed(path, html)
    return path
