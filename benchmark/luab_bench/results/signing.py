"""Canonical JSON and Ed25519 signatures for result files.

A signature vouches for the exact content of a result: it is computed over :func:`canonical_bytes`
(the result without its ``signature`` block, keys sorted, no whitespace, UTF-8, floats as Python's
shortest round-tripping repr). Verification recomputes those bytes from the file *as it is on disk*,
so editing any value (a metric, the seed, the config) after signing makes verification fail.

Key files: the private key is PEM PKCS#8 (mode 0600, never overwritten); the public key file
``<name>.pub`` holds the base64 of the raw 32-byte key, the same string stored in each signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from luab_bench.errors import LuabError, SignatureError
from luab_bench.io import atomic_open, atomic_write_text
from luab_bench.results.schema import Result, Signature, load_result, read_json_document, validate_result

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "ed25519"
DEFAULT_KEY_NAME = "luab_ed25519"

REASON_VERIFIED = "signature verified"
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


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("not valid base64") from None


# --------------------------------------------------------------------------------------------- keys
def generate_keypair(directory: str | Path, name: str = DEFAULT_KEY_NAME) -> tuple[Path, Path]:
    """Create ``<directory>/<name>`` (PEM PKCS#8 private key, mode 0600) and ``<name>.pub``.

    Refuses to overwrite either file: losing a private key means losing the ability to sign as
    that identity, so the user must move the old one away deliberately.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory = Path(directory)
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
        return key
    try:
        raw = _b64decode(text)
    except ValueError:
        what = "public key file" if is_file else "public key (neither an existing file nor base64)"
        raise SignatureError(f"{source}: {what} is not valid base64; expected a `<name>.pub` file") from None
    if len(raw) != 32:
        raise SignatureError(f"{source}: an Ed25519 public key is 32 bytes, this decodes to {len(raw)}")
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


def sign_result_file(path: str | Path, private_key_path: str | Path) -> Result:
    """Validate the result at ``path``, sign it and rewrite the file atomically; returns the result."""
    from luab_bench.results.store import write_result

    key = load_private_key(private_key_path)
    result = sign_result(load_result(path), key)
    write_result(path, result)
    return result


# ----------------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class VerifyOutcome:
    """Verdict on one result file. ``status`` is what the leaderboard shows."""

    ok: bool
    status: Literal["verified", "unsigned", "failed"]
    reason: str
    fingerprint: str | None = None


def verify_document(
    doc: Mapping[str, Any], trusted_keys: Collection[str | Path] | None = None, *, source: str = "result"
) -> VerifyOutcome:
    """Verify a parsed result document (see :func:`verify_result_file`)."""
    from cryptography.exceptions import InvalidSignature

    trusted = normalise_trusted_keys(trusted_keys) if trusted_keys is not None else None

    def fail(reason: str, fp: str | None = None) -> VerifyOutcome:
        return VerifyOutcome(False, "failed", reason, fp)

    sig = doc.get("signature")
    if sig is None:
        return VerifyOutcome(False, "unsigned", REASON_UNSIGNED)
    try:
        sig = Signature.model_validate(sig)
        public_key = load_public_key(sig.public_key)
        value = _b64decode(sig.value)
    except (ValueError, LuabError) as err:  # pydantic's ValidationError is a ValueError
        detail = str(err).splitlines()[0] if not isinstance(err, LuabError) else str(err)
        return fail(f"malformed signature: {detail}")
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
        validate_result(dict(doc), source)
    except LuabError as err:
        return fail(f"schema error: {err}", fp)
    if trusted is not None and fp not in trusted:
        return fail(f"{REASON_UNTRUSTED} (key {fp})", fp)
    return VerifyOutcome(True, "verified", REASON_VERIFIED, fp)


def verify_result_file(path: str | Path, trusted_keys: Collection[str | Path] | None = None) -> VerifyOutcome:
    """Check the signature of the result at ``path`` against its content as stored on disk.

    ``trusted_keys`` (``.pub`` paths, base64 keys or ``sha256:`` fingerprints): when given, a valid
    signature by any other key fails. A file that cannot be read or parsed fails with the reason.
    Raises only for an unusable ``trusted_keys`` entry (a user error in the arguments).
    """
    if trusted_keys is not None:
        trusted_keys = normalise_trusted_keys(trusted_keys)  # bad entries raise before any file is read
    try:
        doc = read_json_document(path)
    except LuabError as err:
        return VerifyOutcome(False, "failed", f"schema error: {err}")
    return verify_document(doc, trusted_keys, source=str(path))
