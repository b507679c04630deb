"""The job commands: ``run`` (the whole job), ``train`` (one checkpoint), ``evaluate`` (one result).

Each builds its spec once (:mod:`luab_bench.run.spec`: ``RunSpec``, ``TrainSpec``, ``EvalSpec``,
``ModelEvalSpec``, with the training data as one ``SourceRequest``) and passes it down whole.
Only click is imported at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from luab_bench.cli_options import (
    opt_allow_code,
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
    opt_suite,
    opt_training_source,
    source_request,
)
from luab_bench.errors import LuabError

MODEL_ONLY = ("weights", "sha256", "pretrained", "point_head")


@click.command()
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
@opt_training_source
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
def run(**opts: Any) -> None:
    """Do the whole job: data -> train each protocol -> evaluate -> align -> sign -> leaderboard."""
    from luab_bench import pipeline
    from luab_bench.seeds import parse_seeds

    seeds_spec, no_train, protocol = opts.pop("seeds_spec"), opts.pop("no_train"), opts.pop("protocol")
    seeds = tuple(parse_seeds(seeds_spec)) if seeds_spec is not None else None
    if no_train:
        from luab_bench.evaluate_model import run_no_train_command

        run_no_train_command(
            _model_job(opts, protocol=None if protocol == "all" else protocol, seed=0),
            runs_dir=opts["runs_dir"], site_dir=opts["site_dir"], align=opts["align"],
        )  # fmt: skip
        return
    if any(opts.pop(k) for k in MODEL_ONLY):
        raise LuabError("--weights, --sha256, --pretrained and --point-head need --no-train")
    seed = opts.pop("seed")
    data = source_request(opts, progress=opts["progress"], echo=click.echo)
    spec = pipeline.RunSpec(
        protocols=tuple(pipeline.expand_protocols(protocol, opts["suite"])),
        seeds=seeds or (seed,),
        data=data, echo=click.echo, **opts,
    )  # fmt: skip
    outcome = pipeline.run(spec)
    pipeline.print_results_table(outcome.results)
    click.echo(f"Leaderboard: {outcome.site_index}")


@click.command()
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
@opt_training_source
@opt_allow_code
@opt_device
@opt_progress
def train(**opts: Any) -> None:
    """Train one model under one protocol and write a checkpoint.

    Distributed: ``torchrun --nproc_per_node=N -m luab_bench train …`` (DDP; only rank 0 writes).
    """
    from luab_bench import pipeline

    data = source_request(opts, progress=opts["progress"], echo=click.echo)
    ckpt = pipeline.train_one(pipeline.TrainSpec(data=data, echo=click.echo, **opts))
    click.echo(f"Checkpoint: {ckpt}")


@click.command()
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
@opt_data_root(
    "Folder of released datasets for a real suite (imagenet, coco, wsol); env LUAB_BENCH_DATA_ROOT."
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
def evaluate(**opts: Any) -> None:
    """Evaluate a checkpoint, or any model (--model SPEC [--weights FILE]), and write a result JSON.

    Every task that can run does; missing and failed tasks are listed in the result's tasks block.
    Exits non-zero when nothing ran, or with --strict when any task did not complete. Under
    `torchrun -m luab_bench evaluate` the images of every task are sharded over the processes.
    Point metrics of a model without a point head are recorded as not applicable (absent, with the
    reason), never as 0.
    """
    from luab_bench import pipeline
    from luab_bench.train.distributed import env_world

    checkpoint, model_spec = opts.pop("checkpoint"), opts["model_spec"]
    if (checkpoint is None) == (model_spec is None):
        raise LuabError("give exactly one of --checkpoint DIR or --model SPEC")
    opts["data_dir"] = opts["data_dir"].expanduser()
    if checkpoint is not None:
        model_only = ("weights", "sha256", "pretrained", "point_head", "protocol", "variant", "num_classes")
        given = [f"--{k.replace('_', '-')}" for k in model_only if opts[k] not in (None, False)]
        if given:
            raise LuabError(f"{', '.join(given)}: only with --model (a checkpoint records its own)")
        fields = ("suite", "data_dir", "data_root", "out", "results_dir", "key", "device", "progress",
                  "strict", "image_size")  # fmt: skip
        spec = pipeline.EvalSpec(checkpoint=checkpoint, echo=click.echo, **{k: opts[k] for k in fields})
        path = pipeline.evaluate_checkpoint(spec)
        if (env_world() or (0, 1, 0))[0] != 0:
            return  # torchrun: rank 0 prints
    else:
        from luab_bench.evaluate_model import evaluate_model

        path = evaluate_model(_model_job(opts, protocol=opts["protocol"], seed=opts["seed"]))
    from luab_bench.results.schema import load_result

    result = load_result(path)
    pipeline.print_results_table([(path, result)])
    if result.model_provenance is not None:
        for metric, why in result.model_provenance.not_applicable.items():
            click.echo(f"{metric}: {why}")
    click.echo(f"Result: {path}")


def _model_job(opts: dict[str, Any], *, protocol: str | None, seed: int) -> Any:
    """The :class:`~luab_bench.run.spec.ModelEvalSpec` of ``evaluate --model`` / ``run --no-train``."""
    from luab_bench.model_spec import parse_model_spec
    from luab_bench.run.spec import ModelEvalSpec

    spec = parse_model_spec(
        opts.get("model_spec") or opts.get("model") or "", **{k: opts[k] for k in MODEL_ONLY}
    )
    return ModelEvalSpec(
        spec=spec, suite=opts["suite"] or "synthetic", variant=opts["variant"], protocol=protocol,
        num_classes=opts.get("num_classes"), image_size=opts.get("image_size"),
        data_dir=Path(opts["data_dir"]).expanduser(), data_root=opts["data_root"], out=opts.get("out"),
        results_dir=opts["results_dir"], key=opts["key"], device=opts["device"], progress=opts["progress"],
        echo=click.echo, seed=seed,
    )  # fmt: skip
