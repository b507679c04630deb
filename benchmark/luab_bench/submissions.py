"""Leaderboard submissions: ``submissions/<id>/submission.yaml`` and its validation.

A submission names who submits (team, contact), what was trained (a timm model name or an importable
``module:callable``), where its weights are (an https URL to a ``.safetensors`` file and its SHA-256:
pickle checkpoints are refused because loading one runs arbitrary code), how it was trained (a
registered protocol and recipe, or YAML files inside the submission directory) and the Ed25519 public
key that signed its result files. :func:`check_submission` reports *every* problem at once, one
``file: field: message`` per problem, so a contributor fixes a pull request in one round.

Nothing here downloads weights or imports submitted code: ``check`` is safe to run on an untrusted
pull request. Whether a ``module:callable`` really imports is tested when the model is evaluated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from luab_bench.config import StrictModel, format_validation_error, load_yaml
from luab_bench.errors import ConfigError, LuabError

SUBMISSION_FILE = "submission.yaml"
#: Checkpoint suffixes that are Python pickles (torch.save / joblib): loading one can run code.
PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl", ".pickle", ".tar", ".pth.tar")
SAFE_SUFFIX = ".safetensors"
_CALLABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
_TIMM_NAME = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_]+)?$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")

Text = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
#: Size caps: a field is a name, an address or a paragraph, never a file's worth of text.
Short = Annotated[str, Field(strict=True, max_length=320)]
MAX_DESCRIPTION = 5000
#: What a pasted private key looks like: PEM / OpenSSH armour, or the base64 of the PKCS#8 header of
#: an Ed25519 key (``MC4CAQAwBQYDK2VwBCIEI`` = 302e020100300506032b657004220420) without armour.
_PRIVATE_KEY_MARKS = ("PRIVATE KEY-----", "MC4CAQAwBQYDK2VwBCIEI")


class SubmissionError(ConfigError):
    """A submission directory or its ``submission.yaml`` is missing or invalid.

    ``problems`` holds one ``file: field: message`` line per problem (``str(err)`` joins them).
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _root(info: ValidationInfo) -> Path | None:
    ctx = info.context or {}
    root = ctx.get("root")
    return Path(root) if root is not None else None


def _inside(root: Path, rel: str, what: str) -> Path:
    """Resolve ``rel`` inside ``root``; absolute paths, ``..`` escapes and symlinks that lead out of
    the submission directory (``example.pub -> /home/ci/.ssh/id``) are errors."""
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts:
        raise ValueError(f"{what} path {rel!r} must be relative and inside the submission directory")
    path = root / p
    try:
        real, real_root = path.resolve(strict=False), root.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop
        raise ValueError(f"{what} file {rel!r} cannot be resolved (a symlink loop?)") from None
    if not real.is_relative_to(real_root):
        raise ValueError(
            f"{what} file {rel!r} is a symlink leading outside the submission directory; "
            "commit the file itself"
        )
    if not path.is_file():
        raise ValueError(f"{what} file {rel!r} not found in the submission directory {root}")
    return path


def _no_credentials(v: str) -> None:
    """Refuse ``https://user:secret@host/...``: a pull request is public (the value is not echoed)."""
    try:
        parts = urlsplit(v)
        has_userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        return  # not a URL at all; the field's own check reports it
    if has_userinfo or "@" in parts.netloc:
        raise ValueError(
            "the URL holds credentials (user:password@host); remove them and revoke that password "
            "(a pull request is public); link a publicly readable file"
        )


class Weights(StrictModel):
    """Where the trained weights are, and their checksum (verified when the weights are fetched)."""

    url: Annotated[str, Field(strict=True, max_length=2000)] = Field(
        description="https URL of a .safetensors file"
    )
    sha256: Short = Field(description="SHA-256 of the file, 64 hex digits")

    @field_validator("url")
    @classmethod
    def _safetensors_https(cls, v: str) -> str:
        _no_credentials(v)
        parts = urlsplit(v)
        # file:// only for offline tests of `submission evaluate` (weights_fetch.ALLOW_FILE_ENV)
        test_file = parts.scheme == "file" and os.environ.get("LUAB_BENCH_ALLOW_FILE_URLS") == "1"
        if not test_file and (parts.scheme != "https" or not parts.netloc):
            raise ValueError(f"{v!r} is not an https:// URL; host the weights where https can fetch them")
        name = PurePosixPath(parts.path).name.lower()
        if name.endswith(PICKLE_SUFFIXES):
            raise ValueError(
                f"{name!r} is a pickle checkpoint, which can run code when loaded and is refused; "
                "convert it with safetensors (safetensors.torch.save_file(model.state_dict(), "
                "'model.safetensors')) and link the .safetensors file"
            )
        if not name.endswith(SAFE_SUFFIX):
            raise ValueError(f"{name or v!r} must be a {SAFE_SUFFIX} file (safetensors only)")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex64(cls, v: str) -> str:
        if not _HEX64.match(v):
            raise ValueError(
                f"{v!r} is not a SHA-256 (64 hex digits); compute it with `sha256sum model.safetensors`"
            )
        return v.lower()


class Submission(StrictModel):
    """The typed content of ``submission.yaml``."""

    team: Text
    contact: Short = Field(description="e-mail address (or https URL) of the submitter")
    model: Short = Field(description="timm model name (e.g. resnet50.a1_in1k) or module:callable")
    weights: Weights
    protocol: Short = Field(description="registered protocol name or a YAML path in the submission")
    recipe: Short = Field(description="registered recipe name or a YAML path in the submission")
    public_key: Annotated[str, Field(strict=True, max_length=1000)] = Field(
        description="base64 Ed25519 public key as written by `luab-bench keygen` (the .pub content), "
        "or the name of a .pub file in the submission directory"
    )
    suite: Text = "synthetic"
    description: Annotated[str, Field(strict=True, max_length=MAX_DESCRIPTION)] = ""

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str) -> str:
        if v.startswith(("http://", "https://")):
            _no_credentials(v)
        if _EMAIL.match(v) or urlsplit(v).scheme == "https":
            return v
        raise ValueError(f"{v!r} is neither an e-mail address nor an https URL")

    @field_validator("model")
    @classmethod
    def _model(cls, v: str, info: ValidationInfo) -> str:
        if v.startswith(("hf-hub:", "local-dir:")):
            if v.startswith("local-dir:"):
                raise ValueError(
                    f"{v!r}: a submission's weights come from weights.url; name the architecture with a "
                    "timm name, hf-hub:ORG/NAME (its config.json) or package.module:callable"
                )
            from luab_bench.model_spec import parse_model_spec

            try:
                parse_model_spec(v)  # the one model-spec parser (no download here)
            except LuabError as err:
                raise ValueError(str(err)) from None
            return v
        if ":" in v:
            if not _CALLABLE.match(v):
                raise ValueError(
                    f"{v!r} is not 'package.module:callable' (dotted module, one colon, a Python name)"
                )
            ctx = info.context or {}
            if ctx.get("check_factories", True) and v not in ctx.get("allowed_factories", ()):
                raise ValueError(
                    f"{v!r} is a 'module:callable' factory: evaluating it imports and runs that code "
                    "(os:system would run a shell command), so it is accepted only when a maintainer "
                    "has reviewed it and allow-lists it "
                    f"(`luab-bench submission check --allow-factory {v}`); or give a timm model name"
                )
            return v
        if not _TIMM_NAME.match(v):
            raise ValueError(
                f"{v!r} is neither a timm model name (lower-case, e.g. resnet50 or resnet50.a1_in1k) "
                "nor 'package.module:callable'"
            )
        if (info.context or {}).get("check_timm", True):
            import timm

            arch = v.split(".", 1)[0]
            if arch not in timm.list_models():
                from luab_bench.registry import unknown_name_message

                raise ValueError(
                    unknown_name_message("timm model", arch, timm.list_models())
                    + "; or give 'package.module:callable'"
                )
        return v

    @field_validator("suite")
    @classmethod
    def _suite(cls, v: str) -> str:
        from luab_bench.suites.base import SUITES

        if v not in SUITES:
            from luab_bench.registry import unknown_name_message

            raise ValueError(unknown_name_message("suite", v, SUITES.names()))
        return v

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, v: str, info: ValidationInfo) -> str:
        from luab_bench.protocols.base import list_protocols, load_protocol

        return _name_or_file(v, info, "protocol", list_protocols, load_protocol)

    @field_validator("recipe")
    @classmethod
    def _recipe(cls, v: str, info: ValidationInfo) -> str:
        from luab_bench.protocols.base import list_recipes, load_recipe

        return _name_or_file(v, info, "recipe", list_recipes, load_recipe)

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, v: str, info: ValidationInfo) -> str:
        from luab_bench.results.keys import load_public_key_b64

        root = _root(info)
        source: str | Path = v.strip()
        if str(source).endswith(".pub"):
            if root is None:
                raise ValueError(f"{v!r}: a .pub file name needs the submission directory")
            source = _inside(root, str(source), "public key")
        try:
            return load_public_key_b64(source)
        except LuabError as err:
            raise ValueError(
                f"{err}; paste the one line of the .pub file written by `luab-bench keygen` "
                "(never the private key)"
            ) from None


def _name_or_file(v: str, info: ValidationInfo, what: str, names: Any, load: Any) -> str:
    """A registered name, or a YAML file inside the submission that ``load`` validates."""
    if not v.endswith((".yaml", ".yml")):
        if v not in names():
            from luab_bench.registry import unknown_name_message

            raise ValueError(
                unknown_name_message(what, v, names()) + f", or the path of a {what} YAML in the submission"
            )
        return v
    root = _root(info)
    if root is None:
        raise ValueError(f"{what} file {v!r} needs the submission directory")
    path = _inside(root, v, what)
    try:
        load(path)
    except LuabError as err:
        raise ValueError(f"invalid {what} file: {err}") from None
    return v


def submission_file(path: str | Path) -> Path:
    """``path`` itself if it is a file, else ``path/submission.yaml``."""
    path = Path(path)
    return path if path.is_file() else path / SUBMISSION_FILE


def check_submission(
    path: str | Path,
    *,
    check_timm: bool = True,
    allowed_factories: Collection[str] = (),
    check_factories: bool = True,
) -> Submission:
    """Load and validate a submission directory (or its ``submission.yaml``).

    Raises :class:`SubmissionError` listing every problem as ``<file>: <field>: <message>``.
    ``check_timm=False`` skips looking the model up in ``timm.list_models()`` (used by tests that
    need no timm import; the syntax checks still run). ``allowed_factories``: the ``module:callable``
    models a maintainer has reviewed; any other factory is refused (evaluating it runs its code).
    ``check_factories=False``: for callers that only read the declared model name (binding results
    to submissions); the gate is `submission check` / `submission keys`, which CI runs first.
    A file that looks like it holds a private key is refused before it is parsed, and the key is
    never part of a message (CI logs are public).
    """
    file = submission_file(path)
    if file.exists() and not file.is_file():
        raise SubmissionError(f"{file}: not a regular file (a FIFO, device or directory); commit a YAML file")
    if not file.is_file():
        raise SubmissionError(
            f"{file}: not found; a submission is a directory submissions/<id>/ holding {SUBMISSION_FILE} "
            "(see submissions/README.md)"
        )
    if file.is_symlink() and not file.resolve().is_relative_to(file.parent.resolve()):
        raise SubmissionError(
            f"{file}: a symlink leading outside the submission directory; commit the file itself"
        )
    try:
        data = load_yaml(file)
    except ConfigError as err:
        raise SubmissionError(_without_private_key(str(err), file)) from None
    _refuse_private_key(file)
    if not isinstance(data, dict):
        raise SubmissionError(f"{file}: must be a mapping of team, contact, model, weights, ...")
    context = {
        "root": file.parent,
        "check_timm": check_timm,
        "allowed_factories": set(allowed_factories),
        "check_factories": check_factories,
    }
    try:
        return Submission.model_validate(data, context=context)
    except ValidationError as err:
        raise SubmissionError(*_problems(str(file), err)) from None


def _private_key_line(text: str) -> int | None:
    """1-based line of the first private-key mark in ``text``, or None."""
    for number, line in enumerate(text.splitlines(), 1):
        if any(mark in line for mark in _PRIVATE_KEY_MARKS):
            return number
    return None


def _refuse_private_key(file: Path) -> None:
    """SubmissionError (without the key) if ``file`` holds something that looks like a private key."""
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return  # load_yaml has read it already; nothing new to report
    line = _private_key_line(text)
    if line is not None:
        raise SubmissionError(_private_key_message(file, line))


def _private_key_message(file: Path, line: int) -> str:
    return (
        f"{file}: line {line}: looks like a private key; remove it (it is not shown here). Anything "
        "pushed is public: make a new key pair with `luab-bench keygen` and put only the .pub in the "
        "submission"
    )


def _without_private_key(message: str, file: Path) -> str:
    """A YAML error message quotes the broken line: if the file holds a private key, say only that."""
    try:
        line = _private_key_line(file.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        line = None
    if line is not None or any(mark in message for mark in _PRIVATE_KEY_MARKS):
        return _private_key_message(file, line or 0)
    return message


def _problems(source: str, err: ValidationError) -> list[str]:
    """One ``file: field: message`` per error, without pydantic's "Value error, " prefix."""
    out = []
    for line in format_validation_error(source, err).split(f"; {source}: "):
        line = line if line.startswith(f"{source}: ") else f"{source}: {line}"
        out.append(line.replace(": Value error, ", ": ", 1))
    return out


def find_submissions(root: str | Path = "submissions") -> list[Path]:
    """Every ``<root>/*/submission.yaml`` (sorted); a missing ``root`` is an error naming it."""
    root = Path(root)
    if not root.is_dir():
        raise SubmissionError(f"{root}: submissions directory not found")
    return sorted(root.glob(f"*/{SUBMISSION_FILE}"))


def submission_json_schema() -> dict[str, Any]:
    """JSON Schema of ``submission.yaml`` (syntax only; registry and file checks need the code)."""
    schema = Submission.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
