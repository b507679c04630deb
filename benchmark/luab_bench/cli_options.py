"""Shared click options (one definition each; used by cli.py and commands/*)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from luab_bench.default_dirs import DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR, DEFAULT_RUNS_DIR, DEFAULT_SITE_DIR
from luab_bench.limits import MAX_SEED

#: ``--seed``: refused at parse time outside 0..MAX_SEED, with the valid range.
SEED_TYPE = click.IntRange(0, MAX_SEED)


def opt_seed(f: Any) -> Any:
    return click.option(
        "--seed", type=SEED_TYPE, default=0, show_default=True, help=f"Training seed (0 to {MAX_SEED})."
    )(f)


def opt_device(f: Any) -> Any:
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help="torch device: auto (cuda if available, else cpu), cpu, cuda, cuda:1 ...",
    )(f)


def opt_data_dir(f: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_DATA_DIR,
        show_default=True,
        envvar="LUAB_BENCH_DATA",
        help="Where datasets are generated/cached (env LUAB_BENCH_DATA).",
    )(f)


def opt_suite(f: Any) -> Any:
    f = click.option(
        "--variant",
        default=None,
        help="Suite variant (for synthetic: synthetic, synthetic-corr50, ...). Default: the suite's default.",
    )(f)
    return click.option("--suite", default="synthetic", show_default=True, help="Evaluation suite.")(f)


def opt_progress(f: Any) -> Any:
    return click.option("--progress/--no-progress", default=True, help="Show rich progress bars.")(f)


def opt_epochs(f: Any) -> Any:
    return click.option(
        "--epochs", type=click.IntRange(min=1), default=None, help="Override the recipe's epoch count."
    )(f)


def opt_key(help: str, *, required: bool = False) -> Callable[[Any], Any]:
    """``--key FILE``: an Ed25519 private key (one declaration; each command says what it signs)."""
    return click.option(
        "--key",
        type=click.Path(path_type=Path, dir_okay=False),
        required=required,
        default=None,
        help=help,
    )


def opt_results_dir(help: str = "Where signed result JSON files are written.") -> Callable[[Any], Any]:
    """``--results-dir DIR`` (default ``leaderboard/results``)."""
    return click.option(
        "--results-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_RESULTS_DIR,
        show_default=True,
        help=help,
    )


def opt_runs_dir(f: Any) -> Any:
    return click.option(
        "--runs-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_RUNS_DIR,
        show_default=True,
        help="Where checkpoints are written.",
    )(f)


def opt_site_dir(f: Any) -> Any:
    return click.option(
        "--site-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_SITE_DIR,
        show_default=True,
        help="Where the static leaderboard is built.",
    )(f)


def opt_out(
    help: str, *, kind: str = "file", default: Path | None = None, required: bool = False
) -> Callable[[Any], Any]:
    """``--out PATH``: a file (``kind="file"``) or a directory (``kind="dir"``) the command writes."""
    if kind not in ("file", "dir"):
        raise ValueError(f"opt_out kind must be 'file' or 'dir', not {kind!r}")
    is_file = kind == "file"
    return click.option(
        "--out",
        type=click.Path(path_type=Path, dir_okay=not is_file, file_okay=is_file),
        default=default,
        required=required,
        show_default=default is not None,
        help=help,
    )


# ---- training-data source options (train, run, reproduce)
def opt_data_root(help: str) -> Callable[[Any], Any]:
    """``--data-root DIR`` (env LUAB_BENCH_DATA_ROOT): the folder of released datasets."""
    return click.option(
        "--data-root",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        envvar="LUAB_BENCH_DATA_ROOT",
        help=help,
    )


def opt_train_data(f: Any) -> Any:
    return click.option(
        "--train-data",
        type=click.Path(path_type=Path),
        default=None,
        help="Training images of a real source when not under --data-root: an ImageFolder tree, "
        "imagenet-1k parquet shard(s), or a COCO root.",
    )(f)


def opt_byproducts(f: Any) -> Any:
    return click.option(
        "--byproducts",
        type=click.Path(path_type=Path),
        default=None,
        help="ImageNet-AB / COCO-AB records (tarball, JSON, XML). "
        "Default: the table ingested under --data-dir.",
    )(f)


def opt_workers(f: Any) -> Any:
    return click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="DataLoader workers decoding image files (real sources; 0 = in the training process).",
    )(f)


def opt_training_source(f: Any) -> Any:
    """--source / --data-root / --train-data / --byproducts / --workers / --source-option (train, run);
    :func:`source_request` turns them into the one :class:`~luab_bench.train.sources.SourceRequest`."""
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


def parse_source_options(items: tuple[str, ...]) -> dict[str, Any]:
    """``--source-option KEY=VALUE`` items -> {key: value} (true/false -> bool, digits -> int)."""
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


def source_request(opts: dict[str, Any], *, progress: bool, echo: Callable[[str], None]) -> Any:
    """The :class:`~luab_bench.train.sources.SourceRequest` of a command's options; the source options
    (and ``data_dir``, ``variant``) are taken out of ``opts``."""
    from luab_bench.train.sources.base import SourceRequest

    return SourceRequest(
        data_dir=Path(opts.pop("data_dir")).expanduser(),
        variant=opts.pop("variant"),
        source=opts.pop("source"),
        data_root=opts.pop("data_root"),
        train_data=opts.pop("train_data"),
        byproducts=opts.pop("byproducts"),
        num_workers=opts.pop("workers"),
        options=parse_source_options(opts.pop("source_option")),
        progress=progress,
        echo=echo,
    )


def opt_submissions() -> Callable[[Any], Any]:
    """``--submissions DIR``: the trust anchors (every ``DIR/*/submission.yaml``) for verification."""
    return click.option(
        "--submissions",
        "submissions_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Verify against the submissions in DIR (*/submission.yaml): a result counts as verified "
        "only if signed by its submission's key and of the model/protocol/suite it declares.",
    )


# ---- model specs and user code (evaluate, align, run, reproduce, train, submission evaluate)
def opt_allow_code(f: Any) -> Any:
    """``--allow-code`` / ``--trust-factory MODULE``: the opt-in to import ``module:callable`` factories.

    The command body runs inside ``code_trust.allow_code(...)``; the two options are consumed here and
    not passed on, so a command needs no code of its own for them.
    """
    import functools

    @functools.wraps(f)
    def trusted(
        *args: Any, allow_code: bool = False, trust_factory: tuple[str, ...] = (), **kwargs: Any
    ) -> Any:
        from luab_bench.code_trust import allow_code as trusting

        with trusting(allow_code, trust_factory):
            return f(*args, **kwargs)

    command = click.option(
        "--trust-factory",
        "trust_factory",
        multiple=True,
        metavar="MODULE",
        help="Import model factories from this module (and its submodules) only; repeatable "
        "(env LUAB_BENCH_TRUSTED_FACTORIES=mod1,mod2).",
    )(trusted)
    return click.option(
        "--allow-code",
        is_flag=True,
        default=False,
        help="Allow importing and running a 'module:callable' model factory (also from the working "
        "directory). Never implied by a file: a checkpoint or result naming one needs this flag.",
    )(command)


def opt_model_weights(f: Any) -> Any:
    """``--weights FILE.safetensors`` ``--sha256`` ``--pretrained`` ``--point-head`` (see model_spec)."""
    for deco in reversed(
        [
            click.option(
                "--weights",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="Weights for --model: a .safetensors file (strict key match; pickles are refused).",
            ),
            click.option("--sha256", default=None, help="Expected SHA-256 of --weights (checked first)."),
            click.option(
                "--pretrained",
                is_flag=True,
                default=False,
                help="Load the model's own pretrained weights (timm's default tag; implied by a tag, "
                "hf-hub: or local-dir:). Read from the Hugging Face cache; offline without it: an error.",
            ),
            click.option(
                "--point-head",
                is_flag=True,
                default=False,
                help="Also load a point head (point_head.fc.* tensors) from --weights.",
            ),
        ]
    ):
        f = deco(f)
    return f
