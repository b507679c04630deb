"""Config as data: versioned YAML files checked against typed (pydantic) schemas.

Unknown keys are errors (``extra='forbid'``); a schema violation becomes a :class:`ConfigError` whose
message names the file, the key path and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from luab_bench.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config schema: unknown keys are errors, values are validated, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def format_validation_error(source: str, err: ValidationError) -> str:
    """One line per problem: ``file: key.path: message``."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (remove it or check its spelling)"
        parts.append(f"{source}: {loc}: {msg}")
    return "; ".join(parts)


def validate(schema: type[M], data: Any, source: str) -> M:
    """Validate ``data`` against ``schema`` or raise :class:`ConfigError` naming ``source``."""
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(source, err)) from None


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file; a missing or unparsable file is a :class:`ConfigError` naming it."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err.__class__.__name__}: {err})") from None


def load_config(schema: type[M], path: str | Path) -> M:
    """Load and validate a YAML config file."""
    return validate(schema, load_yaml(path), str(path))
