"""Canonical JSON and Ed25519 signatures for result files.

A signature vouches for the exact content of a result: it is computed over :func:`canonical_bytes`
(the result without its ``signature`` block, keys sorted, no whitespace, UTF-8, floats as Python's
shortest round-tripping repr). Verification recomputes those bytes from the file *as it is on disk*,
so editing any value (a metric, the seed, the config) after signing makes verification fail.

Key files (create, load, fingerprint) are :mod:`luab_bench.results.keys`, re-exported here.

Every key and signature read here passes :mod:`luab_bench.results.ed25519_checks` first (canonical
base64, canonical points, no small-order key or R, S < L): the ``cryptography`` verifier alone
accepts the identity key with R = identity, S = 0 for any content. Who may sign what is decided by
:mod:`luab_bench.results.trust`; without trust anchors a valid signature is only "self-signed".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from luab_bench.errors import LuabError, SignatureError
from luab_bench.results.ed25519_checks import check_signature, strict_b64decode
from luab_bench.results.keys import (
    DEFAULT_KEY_NAME,
    generate_keypair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    load_public_key_b64,
    normalize_trusted_keys,
    public_key_b64,
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
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [  # the key helpers of results.keys stay importable from here
    "DEFAULT_KEY_NAME",
    "VerifyOutcome",
    "canonical_bytes",
    "generate_keypair",
    "key_fingerprint",
    "load_private_key",
    "load_public_key",
    "load_public_key_b64",
    "normalize_trusted_keys",
    "public_key_b64",
    "sign_document",
    "sign_result",
    "sign_result_file",
    "verify_document",
    "verify_result_file",
]

ALGORITHM = "ed25519"

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
