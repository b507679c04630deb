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


def _unique_key_loader() -> type:
    """A ``yaml.SafeLoader`` whose mappings refuse duplicate keys (PyYAML keeps the last silently:
    a second ``public_key:`` further down would replace the one a reviewer read)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges are overridden by explicit keys (YAML 1.1), no duplicate
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the default constructor reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first at line {seen[key].line + 1}); keep only one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return loader.construct_mapping(node, deep=deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return UniqueKeyLoader


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file; a missing, non-regular, oversized, non-UTF-8 or unparsable file, or one with
    a duplicate key, is a one-line :class:`ConfigError` naming it."""
    import yaml

    from luab_bench import safe_json

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        text = safe_json.decode_utf8(safe_json.read_regular_file(path, max_bytes=safe_json.MAX_YAML_BYTES))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.__class__.__name__}: {err.strerror or err})") from None
    except safe_json.InputProblem as err:
        raise ConfigError(f"{path}: {err}") from None
    if "\x00" in text:
        raise ConfigError(f"{path}: a binary file (NUL bytes), not YAML text")
    try:
        return yaml.load(text, Loader=_unique_key_loader())
    except yaml.YAMLError as err:
        detail = " ".join(str(err).split())  # one line (PyYAML's messages span several)
        raise ConfigError(f"{path}: not valid YAML ({err.__class__.__name__}: {detail})") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply") from None


def load_config(schema: type[M], path: str | Path) -> M:
    """Load and validate a YAML config file."""
    return validate(schema, load_yaml(path), str(path))
