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
    opt_allow_code,
    opt_byproducts,
    opt_data_dir,
    opt_data_root,
    opt_device,
    opt_epochs,
    opt_key,
    opt_model_weights,
    opt_out,
    opt_progress,
    opt_results_dir,
    opt_runs_dir,
    opt_seed,
    opt_site_dir,
    opt_submissions,
    opt_suite,
    opt_train_data,
    opt_workers,
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


def _source_options(f: Any) -> Any:
    """--source / --data-root / --train-data / --byproducts / --workers / --source-option (train, run)."""
    for deco in reversed(
        [
            click.option(
                "--source",
                default=None,
                help="Training source (synthetic, synthetic-coco, imagenet-ab, coco-ab). Default: suite's.",
            ),
            opt_data_root(
                "Folder of released datasets (imagenet/train or imagenet-1k/, train2014/ + "
                "annotations/; for run also the evaluation sets); env LUAB_BENCH_DATA_ROOT."
            ),
            opt_train_data,
            opt_byproducts,
            opt_workers,
            click.option(
                "--source-option",
                "source_option",
                multiple=True,
                metavar="KEY=VALUE",
                help="Source option, repeatable (e.g. click=first, mode=last_add, cache_row_groups=4).",
            ),
        ]
    ):
        f = deco(f)
    return f


def _parse_source_options(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--source-option")
        text = value.strip()
        parsed: Any = text
        if text.lower() in ("true", "false"):
            parsed = text.lower() == "true"
        elif text.lstrip("-").isdigit():
            parsed = int(text)
        out[key.strip()] = parsed
    return out


# ---------------------------------------------------------------- commands
@click.group(cls=LuabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="luab-bench")
def cli() -> None:
    """luab-bench: train and evaluate classifiers under the baseline / Rand / LUAB protocols,
    score them, sign the results and build the leaderboard."""


@cli.command()
@click.option(
    "--model",
    required=True,
    help="timm model name, e.g. resnet10t, vit_tiny_patch16_224; with --no-train any model spec "
    "(resnet50.a1_in1k, hf-hub:ORG/NAME, local-dir:PATH, module:callable).",
)
@click.option(
    "--protocol",
    default="all",
    show_default=True,
    help="Protocol name or YAML path; 'all' = the suite's three (baseline,rand,luab; coco_* for "
    "multi-label suites); or a comma-separated list.",
)
@opt_suite
@opt_seed
@click.option(
    "--seeds",
    "seeds_spec",
    default=None,
    metavar="N|S,S,..",
    help="Train every protocol at several seeds (paired per seed): a count (3 = 0,1,2) or a list; "
    "overrides --seed.",
)
@click.option("--recipe", default=None, help="Recipe name or YAML path (default: the suite's recipe).")
@opt_epochs
@opt_data_dir
@opt_runs_dir
@opt_results_dir()
@opt_site_dir
@opt_key("Ed25519 private key (from `luab-bench keygen`). Without it a throw-away key is made.")
@_source_options
@click.option(
    "--align/--no-align",
    default=True,
    show_default=True,
    help="Score each model's saliency against human maps (embedded data) and add it to the result.",
)
@click.option(
    "--no-train",
    is_flag=True,
    default=False,
    help="Evaluate --model as it is (with --weights / --pretrained) instead of training it; --protocol "
    "then records how it was trained ('all': external).",
)
@opt_model_weights
@opt_allow_code
@opt_device
@opt_progress
def run(
    model: str,
    protocol: str,
    suite: str,
    variant: str | None,
    seed: int,
    recipe: str | None,
    epochs: int | None,
    data_dir: Path,
    runs_dir: Path,
    results_dir: Path,
    site_dir: Path,
    key: Path | None,
    source: str | None,
    data_root: Path | None,
    train_data: Path | None,
    byproducts: Path | None,
    workers: int,
    source_option: tuple[str, ...],
    align: bool,
    no_train: bool,
    weights: Path | None,
    sha256: str | None,
    pretrained: bool,
    point_head: bool,
    device: str,
    progress: bool,
    seeds_spec: str | None = None,
) -> None:
    """Do the whole job: data -> train each protocol -> evaluate -> align -> sign -> leaderboard."""
    from luab_bench import pipeline
    from luab_bench.seeds import parse_seeds

    seeds = parse_seeds(seeds_spec) if seeds_spec is not None else None

    if no_train:
        from luab_bench.evaluate_model import run_no_train_command

        run_no_train_command(
            model=model, protocol=protocol, suite=suite, variant=variant, data_dir=data_dir.expanduser(),
            runs_dir=runs_dir, results_dir=results_dir, site_dir=site_dir, key=key, data_root=data_root,
            align=align, weights=weights, sha256=sha256, pretrained=pretrained, point_head=point_head,
            device=device, progress=progress, echo=click.echo,
        )  # fmt: skip
        return
    if weights or sha256 or pretrained or point_head:
        raise LuabError("--weights, --sha256, --pretrained and --point-head need --no-train")

    outcome = pipeline.run(
        model=model,
        protocols=pipeline.expand_protocols(protocol, suite),
        suite=suite,
        variant=variant,
        seed=seed,
        recipe=recipe,
        epochs=epochs,
        data_dir=data_dir.expanduser(),
        runs_dir=runs_dir,
        results_dir=results_dir,
        site_dir=site_dir,
        key=key,
        device=device,
        progress=progress,
        echo=click.echo,
        source=source,
        data_root=data_root,
        train_data=train_data,
        byproducts=byproducts,
        workers=workers,
        source_options=_parse_source_options(source_option),
        align=align,
        seeds=seeds,
    )
    pipeline.print_results_table(outcome.results)
    click.echo(f"Leaderboard: {outcome.site_index}")


@cli.command()
@click.option("--model", required=True, help="timm model name.")
@click.option(
    "--protocol",
    required=True,
    help="Protocol name (baseline, rand, luab; coco_baseline, coco_rand, coco_luab for multi-label) "
    "or YAML path.",
)
@opt_suite
@opt_seed
@click.option("--recipe", default=None, help="Recipe name or YAML path (default: the suite's recipe).")
@opt_epochs
@opt_data_dir
@opt_out("Checkpoint directory to write (model.safetensors + checkpoint.json).", kind="dir", required=True)
@click.option(
    "--resume/--no-resume",
    default=False,
    help="Continue an interrupted run from the training state saved in --out.",
)
@click.option(
    "--checkpoint-every-steps",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also save the training state every N steps (0: only at epoch ends).",
)
@_source_options
@opt_allow_code
@opt_device
@opt_progress
def train(
    model: str,
    protocol: str,
    suite: str,
    variant: str | None,
    seed: int,
    recipe: str | None,
    epochs: int | None,
    data_dir: Path,
    out: Path,
    resume: bool,
    checkpoint_every_steps: int,
    source: str | None,
    data_root: Path | None,
    train_data: Path | None,
    byproducts: Path | None,
    workers: int,
    source_option: tuple[str, ...],
    device: str,
    progress: bool,
) -> None:
    """Train one model under one protocol and write a checkpoint.

    Distributed: ``torchrun --nproc_per_node=N -m luab_bench train …`` (DDP; only rank 0 writes).
    """
    from luab_bench import pipeline

    ckpt = pipeline.train_one(
        model=model,
        protocol=protocol,
        suite=suite,
        variant=variant,
        seed=seed,
        recipe=recipe,
        epochs=epochs,
        data_dir=data_dir.expanduser(),
        out=out,
        device=device,
        progress=progress,
        echo=click.echo,
        resume=resume,
        checkpoint_every_steps=checkpoint_every_steps,
        source=source,
        data_root=data_root,
        train_data=train_data,
        byproducts=byproducts,
        workers=workers,
        source_options=_parse_source_options(source_option),
    )
    click.echo(f"Checkpoint: {ckpt}")


@cli.command()
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Checkpoint directory written by `luab-bench train` (or give --model).",
)
@click.option(
    "--model",
    "model_spec",
    default=None,
    help="Evaluate a model without training: timm name or tag (resnet50.a1_in1k), hf-hub:ORG/NAME, "
    "local-dir:PATH, or module:callable (needs --allow-code).",
)
@opt_model_weights
@click.option(
    "--protocol",
    default=None,
    help="With --model: the protocol the model was trained under (recorded; default 'external').",
)
@click.option("--suite", default=None, help="Suite to evaluate on (default: the checkpoint's; synthetic).")
@click.option("--variant", default=None, help="With --model: the generated suite's variant.")
@click.option(
    "--num-classes", type=click.IntRange(min=1), default=None, help="Classifier size (default: the suite's)."
)
@click.option(
    "--image-size",
    type=click.IntRange(min=8),
    default=None,
    help="Evaluation input side for file-based suites (default: the recipe's for a checkpoint, else "
    "the model's data config).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="With --model: bootstrap/init seed.")
@opt_data_dir
@click.option(
    "--data-root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="LUAB_BENCH_DATA_ROOT",
    help="Folder of released datasets for a real suite (imagenet, coco, wsol); env LUAB_BENCH_DATA_ROOT.",
)
@opt_out("Result JSON path (default: <results-dir>/<stable name>.json).")
@opt_results_dir("Directory for the result when --out is not given.")
@opt_key("Sign the result with this Ed25519 private key.")
@click.option(
    "--strict/--no-strict",
    default=False,
    help="Exit non-zero when any task is missing or failed (the result is still written).",
)
@opt_allow_code
@opt_device
@opt_progress
def evaluate(
    checkpoint: Path | None,
    model_spec: str | None,
    weights: Path | None,
    sha256: str | None,
    pretrained: bool,
    point_head: bool,
    protocol: str | None,
    suite: str | None,
    variant: str | None,
    num_classes: int | None,
    image_size: int | None,
    seed: int,
    data_dir: Path,
    data_root: Path | None,
    out: Path | None,
    results_dir: Path,
    key: Path | None,
    strict: bool,
    device: str,
    progress: bool,
) -> None:
    """Evaluate a checkpoint, or any model (--model SPEC [--weights FILE]), and write a result JSON.

    Every task that can run does; missing and failed tasks are listed in the result's tasks block.
    Exits non-zero when nothing ran, or with --strict when any task did not complete. Under
    `torchrun -m luab_bench evaluate` the images of every task are sharded over the processes.
    Point metrics of a model without a point head are recorded as not applicable (absent, with the
    reason), never as 0.
    """
    from luab_bench import pipeline
    from luab_bench.train.distributed import env_world

    if (checkpoint is None) == (model_spec is None):
        raise LuabError("give exactly one of --checkpoint DIR or --model SPEC")
    model_only = {"--weights": weights, "--sha256": sha256, "--pretrained": pretrained or None,
                  "--point-head": point_head or None, "--protocol": protocol, "--variant": variant,
                  "--num-classes": num_classes}  # fmt: skip
    if checkpoint is not None:
        given = [k for k, v in model_only.items() if v is not None]
        if given:
            raise LuabError(f"{', '.join(given)}: only with --model (a checkpoint records its own)")
        path = pipeline.evaluate_checkpoint(
            checkpoint=checkpoint,
            suite=suite,
            data_dir=data_dir.expanduser(),
            data_root=data_root,
            out=out,
            results_dir=results_dir,
            key=key,
            device=device,
            progress=progress,
            echo=click.echo,
            strict=strict,
            image_size=image_size,
        )
        if (env_world() or (0, 1, 0))[0] != 0:
            return  # torchrun: rank 0 prints
    else:
        from luab_bench.evaluate_model import evaluate_model
        from luab_bench.model_spec import parse_model_spec

        spec = parse_model_spec(
            model_spec or "", weights=weights, sha256=sha256, pretrained=pretrained, point_head=point_head
        )
        path = evaluate_model(
            spec=spec,
            suite=suite or "synthetic",
            variant=variant,
            protocol=protocol,
            num_classes=num_classes,
            image_size=image_size,
            data_dir=data_dir.expanduser(),
            data_root=data_root,
            out=out,
            results_dir=results_dir,
            key=key,
            device=device,
            progress=progress,
            echo=click.echo,
            seed=seed,
        )
    from luab_bench.results.schema import load_result

    result = load_result(path)
    pipeline.print_results_table([(path, result)])
    if result.model_provenance is not None:
        for metric, why in result.model_provenance.not_applicable.items():
            click.echo(f"{metric}: {why}")
    click.echo(f"Result: {path}")


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
        from luab_bench import pipeline

        names = [n for n in pipeline.list_names(what) if pattern is None or fnmatch.fnmatchcase(n, pattern)]
    if pattern is not None and not names:
        raise LuabError(f"no {what} match {pattern!r}; `luab-bench list {what}` shows them all")
    for name in names:
        click.echo(name)


def _add_feature_commands() -> None:
    """Attach the per-feature command modules (each imports only click at import time)."""
    from luab_bench.commands.align import align
    from luab_bench.commands.data import data
    from luab_bench.commands.leaderboard import leaderboard
    from luab_bench.commands.reproduce import reproduce
    from luab_bench.commands.study import study
    from luab_bench.commands.submission import submission

    for command in (align, data, leaderboard, reproduce, study, submission):
        cli.add_command(command)


_add_feature_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="luab-bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
