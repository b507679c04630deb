"""The saliency contracts: the method registry, the conventions (:class:`SaliencyConfig` and its
presets) and the helpers every method family uses (input gradient, channel reduction, top class).
The definitions are documented in :mod:`luab_bench.alignment.saliency`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from luab_bench.errors import LuabError
from luab_bench.registry import Registry

if TYPE_CHECKING:
    import torch

    from luab_bench.api.saliency import SaliencyMethod
    from luab_bench.models import LuabNet

SaliencyFn = Callable[..., "torch.Tensor"]

#: Saliency methods by name; ``@SALIENCY_METHODS.register("name")`` adds one.
SALIENCY_METHODS: Registry[SaliencyMethod] = Registry("saliency method")

SMOOTHGRAD_SAMPLES = 30  # SI §A.2(c)
SMOOTHGRAD_NOISE = 0.10  # "noise level 10 %" (SI §A.2(c)); see SaliencyConfig.noise for the std
# Rows of the noisy stack per forward/backward by default: whole images' sample sets, at most this many
# rows (at least one image's). Measured on the shared 2-core CPU at 64 px (resnet10t, one thread): the
# alignment batch of 32 images x 30 samples took 13.0 s and +342 MiB peak RSS in passes of 60 rows vs
# 23.9 s and +2.9 GiB as one 960-row pass; one image's 30 samples in one pass stay ~4x faster than 30
# passes of one (tests/benchmarks/test_bench_alignment.py).
SMOOTHGRAD_ROWS_PER_PASS = 64
#: CAMERAS resolutions as multiples of the input size: their script's default ``range(224, 1000, 100)``
#: over the native 224 (the first entry is the image as given).
CAMERAS_SCALES: tuple[float, ...] = tuple(r / 224 for r in range(224, 1000, 100))
#: The SI §A.2(f) text's resolutions 100, 224, 1000 px over a 224 input (native first).
CAMERAS_SCALES_SI_TEXT: tuple[float, ...] = (1.0, 100 / 224, 1000 / 224)

#: Activations guided backprop has a rule for in the paper's code.
_GUIDED = ("ReLU", "SiLU", "Swish", "GELU")
#: Element-wise activations the paper's rule does not cover: guided backprop refuses such models.
_UNCOVERED = (
    "Hardswish",
    "HardSwish",
    "Mish",
    "ELU",
    "CELU",
    "SELU",
    "LeakyReLU",
    "PReLU",
    "ReLU6",
    "Softplus",
    "GELUTanh",
    "QuickGELU",
    "HardMish",
)
GBP_RULES = ("langlois2021", "positive_grad", "relu_only")


@dataclass(frozen=True)
class SaliencyConfig:
    """How maps are computed (the table in the module doc; defaults = the paper's code)."""

    reduce: str = "sum_abs"  # "sum_abs" | "max_abs"
    gbp_rule: str = "langlois2021"  # one of GBP_RULES
    noise: str = "langlois2021"  # "langlois2021": std (level*range)**2 | "fraction": std level*range
    noise_level: float = SMOOTHGRAD_NOISE
    samples: int = SMOOTHGRAD_SAMPLES
    average: str = "gradients"  # "gradients" | "maps"
    image_factor: str = "normalised"  # "normalised" | "unit"
    cam_style: str = "langlois2021"  # "langlois2021" | "luab-v1"
    cam_layer: str = "langlois2021"  # "langlois2021" | "features"
    cameras_scales: tuple[float, ...] = CAMERAS_SCALES

    def __post_init__(self) -> None:
        choices = {
            "reduce": ("sum_abs", "max_abs"),
            "gbp_rule": GBP_RULES,
            "noise": ("langlois2021", "fraction"),
            "average": ("gradients", "maps"),
            "image_factor": ("normalised", "unit"),
            "cam_style": ("langlois2021", "luab-v1"),
            "cam_layer": ("langlois2021", "features"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise LuabError(f"saliency {name} {getattr(self, name)!r}: use one of {', '.join(allowed)}")
        if self.samples < 1 or not self.noise_level >= 0 or not self.cameras_scales:
            raise LuabError("saliency config: samples >= 1, noise_level >= 0 and cameras_scales non-empty")

    def describe(self) -> str:
        """One line for task strings: the fields that differ from the default preset."""
        diff = [
            f"{f.name}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(PRESETS["langlois2021"], f.name)
        ]
        return "conventions langlois2021" + (f" except {', '.join(diff)}" if diff else "")


#: Named convention sets: ``langlois2021`` (the paper's code, default) and ``luab-v1`` (earlier here).
PRESETS: dict[str, SaliencyConfig] = {}
PRESETS["langlois2021"] = SaliencyConfig()
PRESETS["luab-v1"] = SaliencyConfig(
    reduce="max_abs",
    gbp_rule="relu_only",
    noise="fraction",
    average="maps",
    image_factor="unit",
    cam_style="luab-v1",
    cam_layer="features",
)


def saliency_preset(name: str) -> SaliencyConfig:
    """The :data:`PRESETS` entry ``name`` (a LuabError names the choices)."""
    if name not in PRESETS:
        raise LuabError(f"unknown saliency conventions {name!r}; use one of {', '.join(PRESETS)}")
    return PRESETS[name]


def top_predictions(net: LuabNet, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The top predicted class of each normalised image (SI §A.2: maps are taken for it), (B,) int64."""
    import torch

    with torch.no_grad():
        return torch.cat(
            [net(x[s : s + batch_size]).logits.argmax(1) for s in range(0, x.shape[0], batch_size)]
        )


def _target_scores(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return logits.gather(1, targets.view(-1, 1).to(logits.device)).sum()


def _input_gradient(net: LuabNet, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    import torch

    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = net(x).logits
        (grad,) = torch.autograd.grad(_target_scores(logits, targets), x)
    return grad


def reduce_channels(t: torch.Tensor, how: str = "sum_abs") -> torch.Tensor:
    """(B, C, H, W) -> (B, H, W): ``sum_c |t_c|`` (the paper's code) or ``max_c |t_c|``."""
    return t.abs().sum(dim=1) if how == "sum_abs" else t.abs().amax(dim=1)


def _config(kw: dict[str, Any]) -> SaliencyConfig:
    cfg = kw.get("config")
    return cfg if isinstance(cfg, SaliencyConfig) else PRESETS["langlois2021"]
