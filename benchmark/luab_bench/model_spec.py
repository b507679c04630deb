"""One way to name a model and its weights, used wherever a model is taken (evaluate, align, run
--no-train, submission evaluate).

A *model spec* is the text the user gives plus how its weights are chosen:

=====================  ==========================================================================
``resnet50``           a timm architecture (random init unless ``--pretrained`` / ``--weights``)
``resnet50.a1_in1k``   a timm name with a pretrained tag: the tag's preprocessing (pretrained_cfg)
                       *and* its weights (from the Hugging Face cache/Hub), unless ``--weights``
``hf-hub:org/name``    timm's Hub source: config.json (and, by default, model.safetensors) from the Hub
``local-dir:PATH``     timm's local source: ``PATH/config.json`` (+ ``PATH/model.safetensors``)
``pkg.mod:callable``   a factory ``callable(num_classes=, pretrained=, **kw)``: imported only with the
                       caller's opt-in (:mod:`luab_bench.code_trust`)
registered name        a factory registered in :data:`luab_bench.models.MODELS`
=====================  ==========================================================================

``--weights FILE.safetensors`` (optionally ``--sha256``) replaces whatever weights the spec names and is
loaded with strict key matching (a LuabNet state dict with ``backbone.`` / ``point_head.`` keys, or a
plain backbone state dict as ``model.state_dict()`` writes it). ``--pretrained`` asks for the spec's own
weights where the spec does not already name them (an untagged timm name: timm's default tag; a
factory: ``pretrained=True``). A spec that names weights (a tag, ``hf-hub:``, ``local-dir:``) loads them
by default: naming a tag while keeping random weights was the bug this module removes (issue 14).
Resolution is timm's: ``timm.models.parse_model_name``, the tag's pretrained_cfg, and pretrained
weights handed to timm's own ``load_pretrained`` (through ``pretrained_cfg_overlay={"state_dict": ...}``
after the file was hashed), which adapts a classifier of another size and is otherwise strict.

:func:`build_model` returns the :class:`~luab_bench.models.LuabNet` and a provenance record (the exact
spec, weights sha256 + size + source, the factory module's file hash and version, the point head) that
goes into the result's ``model_provenance`` block.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Literal

from luab_bench.errors import DataError, LuabError
from luab_bench.weights import (
    check_safetensors_name,
    check_sha256,
    hub_cache_dir,
    hub_safetensors,
    load_strict,
    read_weight_file,
    strip_prefix,
)

SpecKind = Literal["timm", "hf-hub", "local-dir", "factory", "registry"]
_CALLABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_.]*$")
POINT_PREFIX = "point_head."
BACKBONE_PREFIX = "backbone."


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: ``text`` exactly as given, its kind, and the weight choice."""

    text: str
    kind: SpecKind
    target: str  # timm name (arch[.tag]), Hub id, local folder, or module:callable / registry name
    weights: Path | None = None
    sha256: str | None = None
    pretrained: bool = False
    point_head: bool = False

    @property
    def tag(self) -> str | None:
        """The timm pretrained tag (``a1_in1k`` of ``resnet50.a1_in1k``), if any."""
        if self.kind != "timm" or "." not in self.target:
            return None
        return self.target.split(".", 1)[1]

    @property
    def loads_own_weights(self) -> bool:
        """Whether the spec's own weights (tag / Hub / folder / factory pretrained) are loaded."""
        return self.weights is None and self.pretrained


def parse_model_spec(
    text: str,
    *,
    weights: str | Path | None = None,
    sha256: str | None = None,
    pretrained: bool = False,
    point_head: bool = False,
) -> ModelSpec:
    """Parse ``text`` (+ the weight options) into a :class:`ModelSpec`; one-line LuabError when invalid.

    Nothing is imported or downloaded here (a factory's module is imported by :func:`build_model`,
    and only with the opt-in).
    """
    from luab_bench.models import MODELS, check_model_name, timm_source

    text = (text or "").strip()
    if not text:
        raise LuabError(
            "--model is empty; give a timm name, hf-hub:org/name, local-dir:PATH or module:callable"
        )
    if weights is not None and pretrained:
        raise LuabError(
            f"model {text!r}: give --weights FILE or --pretrained, not both (--weights replaces the "
            "spec's own weights)"
        )
    if sha256 is not None and weights is None:
        raise LuabError("--sha256 checks the --weights file; give --weights FILE.safetensors too")
    if weights is not None:
        check_safetensors_name(weights)
    digest = check_sha256(sha256) if sha256 is not None else None
    source = timm_source(text)
    kind: SpecKind
    if source == "hf-hub":
        kind, target = "hf-hub", text.split(":", 1)[1]
        if not re.match(r"^[\w.\-]+/[\w.\-]+(@[\w.\-/]+)?$", target):
            raise LuabError(f"model {text!r}: expected hf-hub:ORG/NAME[@REVISION]")
    elif source == "local-dir":
        kind, target = "local-dir", text.split(":", 1)[1]
        folder = Path(target).expanduser()
        if not (folder / "config.json").is_file():
            raise LuabError(
                f"model {text!r}: {folder}/config.json not found; a local-dir: folder holds timm's "
                "config.json (architecture, num_classes, pretrained_cfg) and model.safetensors"
            )
    elif text in MODELS:
        kind, target = "registry", text
    elif ":" in text:
        if not _CALLABLE.match(text):
            raise LuabError(
                f"model {text!r} is not 'package.module:callable' (nor hf-hub:ORG/NAME or local-dir:PATH)"
            )
        kind, target = "factory", text
    else:
        import timm

        arch = text.split(".", 1)[0]
        check_model_name(arch)  # did-you-mean over timm.list_models()
        if "." in text and not timm.models.is_model_pretrained(text.split("@")[0]):
            tags = [n for n in timm.list_pretrained(f"{arch}.*")]
            raise LuabError(
                f"model {text!r}: timm has no pretrained tag {text.split('.', 1)[1]!r} for {arch}"
                + (f"; known: {', '.join(tags[:8])}" if tags else "; it has no pretrained tags")
            )
        kind, target = "timm", text
    names_weights = kind in ("hf-hub", "local-dir") or (kind == "timm" and "." in target)
    return ModelSpec(
        text=text,
        kind=kind,
        target=target,
        weights=Path(weights).expanduser() if weights is not None else None,
        sha256=digest,
        pretrained=weights is None and (pretrained or names_weights),
        point_head=point_head,
    )


@dataclasses.dataclass
class LoadedModel:
    """A built model and its provenance record (``model_provenance`` minus preprocessing)."""

    net: Any
    provenance: dict[str, Any]


def _one_line(err: BaseException, limit: int = 300) -> str:
    return " ".join(str(err).split())[:limit]


def _timm_weights(spec: ModelSpec) -> tuple[Path, str]:
    """(local safetensors file, source label) of a timm name's pretrained weights, via the HF cache."""
    import timm

    cfg = timm.models.get_pretrained_cfg(spec.target)
    if cfg is None:
        raise LuabError(f"model {spec.text!r}: timm has no pretrained weights for it")
    if not cfg.hf_hub_id:
        raise LuabError(
            f"model {spec.text!r}: timm hosts its weights only at {cfg.url} (a pickle checkpoint, refused); "
            "convert them to safetensors and pass --weights FILE.safetensors"
        )
    filename = cfg.hf_hub_filename or "model.safetensors"
    if not filename.endswith(".safetensors"):
        filename = "model.safetensors"
    return hub_safetensors(cfg.hf_hub_id, filename=filename), f"hf-hub:{cfg.hf_hub_id}/{filename}"


def _hub_repo(target: str) -> tuple[str, str | None]:
    repo, _, rev = target.partition("@")
    return repo, rev or None


def build_model(
    spec: ModelSpec,
    num_classes: int,
    *,
    init_seed: int | None = 0,
    **kwargs: Any,
) -> LoadedModel:
    """Build ``spec`` as a LuabNet with ``num_classes`` outputs and load its weights.

    The point head is built (and loaded) only with ``spec.point_head``: its size comes from the
    weights file's ``point_head.fc.weight``. ``kwargs`` go to the timm / factory constructor.
    """
    import timm

    from luab_bench.code_trust import factory_provenance
    from luab_bench.models import LuabNet, create_model

    file = read_weight_file(spec.weights, sha256=spec.sha256) if spec.weights is not None else None
    state = file.state if file is not None else None
    luab_format = state is not None and any(k.startswith(BACKBONE_PREFIX) for k in state)
    point_state = strip_prefix(state, POINT_PREFIX) if state is not None else {}
    if spec.point_head and not point_state:
        where = str(spec.weights) if spec.weights is not None else f"model {spec.text!r}"
        raise LuabError(
            f"--point-head: {where} has no {POINT_PREFIX}* tensors (a point head saved by luab-bench or "
            "named point_head.fc.weight / point_head.fc.bias); drop --point-head"
        )
    num_point_heads = 0
    if spec.point_head:
        w = point_state.get("fc.weight")
        if w is None or w.ndim != 2 or w.shape[0] % 2:
            raise DataError(
                f"{spec.weights}: point_head.fc.weight must be (2*P, D), got {getattr(w, 'shape', None)}"
            )
        num_point_heads = int(w.shape[0]) // 2

    weights_info: dict[str, Any] | None = None
    timm_kwargs = dict(kwargs)
    own = spec.loads_own_weights
    if own and spec.kind in ("timm", "hf-hub", "local-dir"):
        # the spec's own weights: resolve the safetensors file, hash it, hand the tensors to timm
        if spec.kind == "timm":
            path, label = _timm_weights(spec)
        elif spec.kind == "hf-hub":
            repo, rev = _hub_repo(spec.target)
            path, label = hub_safetensors(repo, revision=rev), f"hf-hub:{repo}/model.safetensors"
        else:
            path = Path(spec.target).expanduser() / "model.safetensors"
            if not path.is_file():
                raise LuabError(
                    f"model {spec.text!r}: {path} not found (only safetensors weights are loaded; a "
                    "pytorch_model.bin is a pickle and refused)"
                )
            label = "local-dir"
        pre = read_weight_file(path, what="weights")
        weights_info = pre.info(label)
        timm_kwargs["pretrained_cfg_overlay"] = {"source": "timm", "state_dict": pre.state}
    try:
        net = create_model(
            spec.target if spec.kind in ("timm", "factory", "registry") else spec.text,
            num_classes,
            num_point_heads=num_point_heads,
            pretrained=own,
            init_seed=init_seed,
            **timm_kwargs,
        )
    except LuabError:
        raise
    except Exception as err:  # timm/Hub failures (config.json not cached, key mismatch): one line
        from huggingface_hub.errors import LocalEntryNotFoundError

        if isinstance(err, LocalEntryNotFoundError):
            raise LuabError(
                f"model {spec.text!r}: its config.json is not in the Hugging Face cache ({hub_cache_dir()}) "
                "and the Hub cannot be reached; fetch it where the Hub is reachable, or use local-dir:PATH"
            ) from None
        raise LuabError(
            f"model {spec.text!r}: timm could not build it ({type(err).__name__}: {_one_line(err)})"
        ) from None
    backbone = net.backbone
    cfg = getattr(backbone, "pretrained_cfg", None)
    if isinstance(cfg, dict):
        cfg.pop("state_dict", None)  # do not keep a second copy of the weights in the config
    if file is not None:
        backbone_state = (
            strip_prefix(state, BACKBONE_PREFIX)
            if luab_format
            else {k: v for k, v in state.items() if not k.startswith(POINT_PREFIX)}
        )
        load_strict(backbone, backbone_state, source=str(spec.weights), model=spec.text)
        if net.point_head is not None:
            load_strict(
                net.point_head, point_state, source=str(spec.weights), model=f"{spec.text} point head"
            )
        weights_info = file.info("file")
    elif own and weights_info is None:  # a factory / registry model's own pretrained weights
        weights_info = {"file": None, "sha256": None, "size": None, "source": "factory (pretrained=True)"}
    assert isinstance(net, LuabNet)
    factory = None
    if spec.kind == "factory":
        module_name, _, attr = spec.target.partition(":")
        factory = {**factory_provenance(module_name), "callable": attr}
    ignored = 0 if spec.point_head else len(point_state)
    notes = []
    pre_classes = cfg.get("num_classes") if isinstance(cfg, dict) else None
    if own and spec.kind in ("timm", "hf-hub", "local-dir") and pre_classes and pre_classes != num_classes:
        # timm's load_pretrained drops a classifier of another size: it stays randomly initialised
        notes.append(
            f"classifier re-initialised at random: the pretrained weights have {pre_classes} classes, "
            f"the model was built with {num_classes}"
        )
    provenance = {
        "spec": spec.text,
        "kind": spec.kind,
        "architecture": cfg.get("architecture") if isinstance(cfg, dict) else None,
        "pretrained_cfg_tag": cfg.get("tag") if isinstance(cfg, dict) else None,
        "pretrained": bool(own),
        "weights": weights_info,
        "init": None if weights_info is not None else f"random (init seed {init_seed})",
        "factory": factory,
        "point_head": {"loaded": net.point_head is not None, "num_point_heads": net.num_point_heads,
                       "ignored_tensors": ignored},
        "timm_version": timm.__version__,
        "notes": notes,
    }  # fmt: skip
    return LoadedModel(net, provenance)
