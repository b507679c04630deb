"""Canonical JSON and Ed25519 signatures for result files.

A signature vouches for the exact content of a result: it is computed over :func:`canonical_bytes`
(the result without its ``signature`` block, keys sorted, no whitespace, UTF-8, floats as Python's
shortest round-tripping repr). Verification recomputes those bytes from the file *as it is on disk*,
so editing any value (a metric, the seed, the config) after signing makes verification fail.

Key files: the private key is PEM PKCS#8 (mode 0600, never overwritten); the public key file
``<name>.pub`` holds the base64 of the raw 32-byte key, the same string stored in each signature.

Every key and signature read here passes :mod:`luab_bench.results.ed25519_checks` first (canonical
base64, canonical points, no small-order key or R, S < L): the ``cryptography`` verifier alone
accepts the identity key with R = identity, S = 0 for any content. Who may sign what is decided by
:mod:`luab_bench.results.trust`; without trust anchors a valid signature is only "self-signed".
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from luab_bench.errors import LuabError, SignatureError
from luab_bench.io import atomic_open, atomic_write_text
from luab_bench.results.ed25519_checks import (
    KeyCheckError,
    check_public_key,
    check_signature,
    strict_b64decode,
)
from luab_bench.results.schema import (
    SCHEMA_VERSION,
    Result,
    Signature,
    load_result,
    read_json_document,
    validate_result,
)
from luab_bench.results.trust import TrustSet, as_trust_set

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "ed25519"
DEFAULT_KEY_NAME = "luab_ed25519"
#: A key pair's base name: one plain file name, so keygen never writes outside its directory.
_KEY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")

REASON_VERIFIED = "signature verified"
REASON_SELF_SIGNED = (
    "signature valid (self-signed: no --submissions or --trusted-key given, signer not checked)"
)
REASON_UNSIGNED = "unsigned: the result has no signature (sign it with `luab-bench sign`)"
REASON_TAMPERED = (
    "content does not match its signature: the file was changed after signing "
    "(e.g. a metric value was edited)"
)
REASON_UNTRUSTED = "signed by a key that is not in the trusted set"


def canonical_bytes(doc: Mapping[str, Any] | Result) -> bytes:
    """The bytes a signature covers: ``doc`` minus ``signature`` as canonical UTF-8 JSON.

    Sorted keys, separators ``(',', ':')``, no ASCII escaping, NaN/inf rejected (``ValueError``).
    Floats are written by ``repr`` so ``json.loads`` gives back exactly the same numbers.
    """
    if isinstance(doc, Result):
        doc = doc.to_json_dict()
    body = {k: v for k, v in doc.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def key_fingerprint(public_key: str | Ed25519PublicKey) -> str:
    """Short, stable fingerprint of a public key: ``sha256:`` + 16 hex digits of SHA-256(raw key)."""
    raw = _raw_public_bytes(public_key) if not isinstance(public_key, str) else _b64decode(public_key)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def public_key_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Base64 of the raw 32-byte public key (of a private key: of its public half)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return base64.b64encode(_raw_public_bytes(key)).decode("ascii")


def _raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64decode(text: str, what: str = "value") -> bytes:
    """Canonical base64 of ``text`` without surrounding whitespace (a ``.pub`` line); else ValueError."""
    return strict_b64decode(text.strip(), what)


# --------------------------------------------------------------------------------------------- keys
def generate_keypair(directory: str | Path, name: str = DEFAULT_KEY_NAME) -> tuple[Path, Path]:
    """Create ``<directory>/<name>`` (PEM PKCS#8 private key, mode 0600) and ``<name>.pub``.

    Refuses to overwrite either file: losing a private key means losing the ability to sign as
    that identity, so the user must move the old one away deliberately.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not _KEY_NAME.fullmatch(name) or name.endswith(".pub"):
        raise SignatureError(
            f"key name {name[:60]!r} must be a plain file name (letters, digits, '.', '_', '-'; no '/' "
            "or '..'; not ending in .pub), e.g. luab_ed25519; the key pair is written into --out"
        )
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise SignatureError(f"{directory}: not a directory; pass a directory for the key pair")
    private_path = directory / name
    public_path = directory / f"{name}.pub"
    for p in (private_path, public_path):
        if p.exists():
            raise SignatureError(
                f"{p}: key file already exists; refusing to overwrite it. Use it as is, "
                "or choose another --name / directory"
            )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with atomic_open(private_path, "wb") as fh:
        if hasattr(os, "fchmod"):  # mkstemp already creates 0600; make it explicit
            os.fchmod(fh.fileno(), 0o600)
        fh.write(pem)
    os.chmod(private_path, 0o600)
    atomic_write_text(public_path, public_key_b64(key) + "\n")
    os.chmod(public_path, 0o644)
    return private_path, public_path


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Load a PEM (PKCS#8, unencrypted) Ed25519 private key; any problem is a one-line error."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SignatureError(f"{path}: private key not found; create one with `luab-bench keygen`") from None
    except OSError as err:
        raise SignatureError(f"{path}: cannot read private key ({err})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SignatureError(f"{path}: private key is password-protected; use an unencrypted key") from None
    except Exception as err:  # cryptography raises ValueError or UnsupportedAlgorithm
        looks_public = data.startswith(b"-----BEGIN PUBLIC KEY") or path.suffix == ".pub"
        hint = "; this looks like a public key, pass the private key file instead" if looks_public else ""
        raise SignatureError(
            f"{path}: not a PEM PKCS#8 private key ({err.__class__.__name__}){hint}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: key is {type(key).__name__}, expected an Ed25519 private key")
    return key


def load_public_key(path_or_b64: str | Path) -> Ed25519PublicKey:
    """Load a public key from a ``.pub`` file (base64 raw key or PEM) or from a base64 string."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    source = str(path_or_b64)
    text = source
    is_file = isinstance(path_or_b64, Path) or (len(source) < 4096 and Path(source).is_file())
    if is_file:
        try:
            text = Path(source).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise SignatureError(f"{source}: cannot read public key ({err.__class__.__name__})") from None
    if "PRIVATE KEY-----" in text[:64]:
        raise SignatureError(f"{source}: this is a private key; pass the public key (`<name>.pub`) instead")
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except Exception as err:
            raise SignatureError(f"{source}: not a valid PEM public key ({err.__class__.__name__})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SignatureError(f"{source}: key is {type(key).__name__}, expected Ed25519")
        raw = _raw_public_bytes(key)
    else:
        what = "public key file" if is_file else "public key (neither an existing file nor base64)"
        try:
            raw = _b64decode(text, what)
        except ValueError as err:
            raise SignatureError(f"{source}: {err}; expected a `<name>.pub` file") from None
        if len(raw) != 32:
            raise SignatureError(f"{source}: an Ed25519 public key is 32 bytes, this decodes to {len(raw)}")
    try:
        check_public_key(raw)
    except KeyCheckError as err:
        raise SignatureError(f"{source}: refused public key: {err}") from None
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_key_b64(path_or_b64: str | Path) -> str:
    """Base64 of the raw public key given as a ``.pub``/PEM file or a base64 string (validated)."""
    return public_key_b64(load_public_key(path_or_b64))


def normalise_trusted_keys(keys: Collection[str | Path]) -> set[str]:
    """Turn trusted keys (``.pub`` paths, base64 keys or ``sha256:`` fingerprints) into fingerprints."""
    if isinstance(keys, (str, Path)):  # a single key, not a collection of characters
        keys = [keys]
    out = set()
    for k in keys:
        if isinstance(k, str) and k.startswith("sha256:"):
            out.add(k)
        else:
            out.add(key_fingerprint(load_public_key(k)))
    return out


# ------------------------------------------------------------------------------------------ signing
def sign_document(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return a copy of ``doc`` with a fresh ``signature`` block over its canonical bytes."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    value = private_key.sign(canonical_bytes(body))
    body["signature"] = {
        "algorithm": ALGORITHM,
        "public_key": public_key_b64(private_key),
        "value": base64.b64encode(value).decode("ascii"),
    }
    return body


def sign_result(result: Result, private_key: Ed25519PrivateKey) -> Result:
    """Return ``result`` with a signature (replacing any previous one)."""
    signed = sign_document(result.to_json_dict(), private_key)
    return result.model_copy(update={"signature": Signature.model_validate(signed["signature"])})


def sign_result_file(
    path: str | Path, private_key_path: str | Path, *, submission_id: str | None = None
) -> Result:
    """Validate the result at ``path``, sign it and rewrite the file atomically; returns the result.

    ``submission_id``: bind the result to ``submissions/<id>/`` (sets the schema-1.2 field, and the
    schema version to 1.2, before signing, so the binding is covered by the signature).
    """
    from luab_bench.results.store import write_result

    key = load_private_key(private_key_path)
    result = load_result(path)
    if submission_id is not None:
        try:
            result = Result.model_validate(
                {**result.to_json_dict(), "schema_version": SCHEMA_VERSION, "submission_id": submission_id}
            )
        except ValueError:  # pydantic's ValidationError
            raise SignatureError(
                f"--submission {submission_id!r}: not a submission directory name "
                "(letters, digits, '_', '.', '-'; as in submissions/<id>/)"
            ) from None
    result = sign_result(result, key)
    write_result(path, result)
    return result


# ----------------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class VerifyOutcome:
    """Verdict on one result file. ``status`` is what the leaderboard shows."""

    ok: bool  # no failure: "verified" or "self-signed" (use ``trusted`` for "bound to an anchor")
    status: Literal["verified", "self-signed", "unsigned", "failed"]
    reason: str
    fingerprint: str | None = None
    submission_id: str | None = None  # the submission the result is bound to ("verified" only)
    team: str | None = None

    @property
    def trusted(self) -> bool:
        """Whether the result is bound to a trust anchor (a submission or a trusted key)."""
        return self.status == "verified"


def verify_document(
    doc: Mapping[str, Any],
    trusted_keys: TrustSet | Collection[str | Path] | None = None,
    *,
    source: str = "result",
) -> VerifyOutcome:
    """Verify a parsed result document (see :func:`verify_result_file`)."""
    from cryptography.exceptions import InvalidSignature

    trust = as_trust_set(trusted_keys)

    def fail(reason: str, fp: str | None = None) -> VerifyOutcome:
        return VerifyOutcome(False, "failed", reason, fp)

    sig = doc.get("signature")
    if sig is None:
        return VerifyOutcome(False, "unsigned", REASON_UNSIGNED)
    try:
        sig = Signature.model_validate(sig)
        public_key = load_public_key(sig.public_key)
        value = strict_b64decode(sig.value, "signature value")
        check_signature(value)  # S < L, R canonical and not small-order: before the library sees it
    except (ValueError, LuabError) as err:  # pydantic's ValidationError is a ValueError
        return fail(f"malformed signature: {_one_line(err)}")
    fp = key_fingerprint(public_key)
    try:
        message = canonical_bytes(doc)
    except (ValueError, TypeError) as err:
        return fail(f"schema error: cannot canonicalise content ({err})", fp)
    try:
        public_key.verify(value, message)
    except InvalidSignature:
        return fail(REASON_TAMPERED, fp)
    try:
        result = validate_result(dict(doc), source)
    except LuabError as err:
        return fail(f"schema error: {err}", fp)
    if trust is None:
        return VerifyOutcome(True, "self-signed", REASON_SELF_SIGNED, fp)
    binding = trust.bind(result, fp)
    entry = binding.entry
    if entry is None:
        return fail(binding.reason, fp)
    if entry.submission_id is None:
        return VerifyOutcome(True, "verified", f"{REASON_VERIFIED} (trusted key {fp}, no submission)", fp)
    reason = f"{REASON_VERIFIED}: submission {entry.submission_id} (team {entry.team})"
    return VerifyOutcome(True, "verified", reason, fp, entry.submission_id, entry.team)


def _one_line(err: Exception) -> str:
    """A pydantic error as ``field: message`` (without "Value error, "), anything else as its text."""
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'signature'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def verify_result_file(
    path: str | Path, trusted_keys: TrustSet | Collection[str | Path] | None = None
) -> VerifyOutcome:
    """Check the signature of the result at ``path`` against its content as stored on disk.

    ``trusted_keys``: a :class:`~luab_bench.results.trust.TrustSet` (submissions) or bare keys
    (``.pub`` paths, base64 keys or ``sha256:`` fingerprints). With them, a result is "verified" only
    if bound to an anchor (:meth:`TrustSet.bind`), else it fails; without, a valid signature is
    "self-signed". A file that cannot be read or parsed fails with the reason. Raises only for an
    unusable ``trusted_keys`` entry (a user error in the arguments).
    """
    trusted_keys = as_trust_set(trusted_keys)  # bad entries raise before any file is read
    try:
        doc = read_json_document(path)
    except LuabError as err:
        return VerifyOutcome(False, "failed", f"schema error: {err}")
    return verify_document(doc, trusted_keys, source=str(path))
