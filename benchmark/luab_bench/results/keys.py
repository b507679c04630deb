"""Ed25519 key files and key identities: create, load, fingerprint (no signing, no trust).

The private key is PEM PKCS#8 (mode 0600, never overwritten); the public key file ``<name>.pub``
holds the base64 of the raw 32-byte key, the same string stored in each signature. Every public key
read here passes :mod:`luab_bench.results.ed25519_checks` first (canonical base64 and point, no
small-order key). :func:`key_fingerprint` is a key's short identity (``sha256:`` + 16 hex digits).

This module sits below :mod:`~luab_bench.results.signing`, :mod:`~luab_bench.results.trust` and
:mod:`luab_bench.submissions`, which all read keys through it (so none of them imports another for a
key helper).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from luab_bench.errors import SignatureError
from luab_bench.io import atomic_open, atomic_write_text
from luab_bench.results.ed25519_checks import KeyCheckError, check_public_key, strict_b64decode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DEFAULT_KEY_NAME = "luab_ed25519"
#: A key pair's base name: one plain file name, so keygen never writes outside its directory.
_KEY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


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


def normalize_trusted_keys(keys: Collection[str | Path]) -> set[str]:
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
