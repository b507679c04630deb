"""Strict checks on Ed25519 public keys and signatures, and strict base64, in pure Python integers.

Why this exists: ``cryptography`` verifies with OpenSSL, whose Ed25519 verify is the cofactorless
RFC 8032 §5.1.7 check ``encode([S]B − [k]A) == R`` (after checking ``S < L``). RFC 8032 does not ask
for a check of the order of ``A``, and OpenSSL makes none; it also accepts a key with ``y >= p``
(observed with cryptography 50.0.2 on OpenSSL 4.0.3; ``tests/test_trust.py`` records it). With
``A`` the identity (encoded ``01 00…00``, base64 ``AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=``),
``[k]A`` is the identity for every message, so ``R = identity, S = 0`` "verifies" any content: a
forgery that needs no private key. With another small-order ``A`` (order n <= 8), ``R = -[k]A`` is
again a small-order point that matches for about 1 in n (content, R) pairs: a forger tries a few.
Keys made by ``luab-bench keygen`` are ``[a]B``: canonical, of prime order L. So everything read as
a key or a signature is checked here first, as libsodium's ``crypto_sign_verify_detached`` does:

- public key: 32 bytes, canonical ``y < p``, a point on the curve (with no "negative zero" x),
  ``[8]A != identity`` (not one of the 8 small-order points) and ``[L]A == identity`` (in the prime-
  order subgroup; a key with a torsion component is not one keygen makes);
- signature ``R || S``: ``S < L`` (RFC 8032 §5.1.7 step 1), ``R`` canonical, on the curve and not
  of small order;
- base64: the canonical encoding only (padding required, no whitespace or foreign characters, zero
  trailing bits), so one key or signature has exactly one accepted spelling.

Curve: edwards25519, ``-x² + y² = 1 + d x² y²`` over GF(p), p = 2^255 − 19, d = −121665/121666
(RFC 8032 §5.1). Point decoding follows RFC 8032 §5.1.3. Arithmetic in extended coordinates
(Hisil et al. 2008, "Twisted Edwards curves revisited", a = −1), as in RFC 8032 §5.1.4.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

P = 2**255 - 19
#: order of the prime-order subgroup (RFC 8032 §5.1)
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)  # a square root of -1 mod p

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z
IDENTITY: Point = (0, 1, 1, 0)

#: canonical encodings of the 8 points of order dividing 8 (the published blocklist; the tests check
#: it against :func:`small_order_points`, which computes them)
SMALL_ORDER_ENCODINGS = frozenset(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    )
)
#: the two x = 0 points (identity, (0, -1)) with the sign bit set: "negative zero", non-canonical
_NEGATIVE_ZERO = frozenset(
    (bytes.fromhex("01" + "00" * 30 + "80"), bytes.fromhex("ec" + "ff" * 31))  # y = 1 and y = p - 1
)

_B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]*={0,2}")  # used with fullmatch (no "$": it allows "\n")


class KeyCheckError(ValueError):
    """A key, signature or base64 string that is refused; the message is one line."""


# ------------------------------------------------------------------------------------------ base64
def strict_b64decode(text: str, what: str = "value") -> bytes:
    """Decode canonical base64 only; anything else raises :class:`KeyCheckError` saying why.

    ``base64.b64decode(..., validate=True)`` accepts non-zero trailing bits (``AB==`` and ``AA==``
    both decode to ``00``), so the same bytes would have several accepted spellings; here the text
    must equal ``base64.b64encode`` of what it decodes to.
    """
    if not isinstance(text, str):
        raise KeyCheckError(f"{what} must be a base64 string, got {type(text).__name__}")
    if not _B64_ALPHABET.fullmatch(text):
        bad = next((c for c in text if not (c.isascii() and (c.isalnum() or c in "+/="))), None)
        detail = f"character {bad!r}" if bad is not None else "'=' inside the text"
        raise KeyCheckError(f"{what} is not valid base64 ({detail}; only A-Z a-z 0-9 + / and final '=')")
    if len(text) % 4:
        raise KeyCheckError(f"{what} is not valid base64 (length {len(text)} is not a multiple of 4)")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError) as err:
        raise KeyCheckError(f"{what} is not valid base64 ({err})") from None
    canonical = base64.b64encode(raw).decode("ascii")
    if canonical != text:
        raise KeyCheckError(
            f"{what} is not canonical base64 (non-zero trailing bits: {text[-4:]!r} should be "
            f"{canonical[-4:]!r}); re-create it with luab-bench"
        )
    return raw


# ------------------------------------------------------------------------------------ curve maths
def _add(p1: Point, p2: Point) -> Point:
    """Point addition on a = −1 twisted Edwards, extended coordinates (RFC 8032 §5.1.4)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = b - a, dd - c, dd + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p1: Point) -> Point:
    """Point doubling (RFC 8032 §5.1.4, the dedicated doubling formulas)."""
    x1, y1, z1, _ = p1
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) ** 2
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def scalar_mult(k: int, point: Point) -> Point:
    """``[k]point`` by double-and-add (variable time: only public values are multiplied here)."""
    out = IDENTITY
    while k > 0:
        if k & 1:
            out = _add(out, point)
        point = _double(point)
        k >>= 1
    return out


def is_identity(point: Point) -> bool:
    """Whether ``point`` is the neutral element (x = 0, y = 1) in projective terms."""
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


def decode_point(raw: bytes) -> Point:
    """RFC 8032 §5.1.3 decoding, strict: raises :class:`KeyCheckError` unless canonical and on the curve."""
    if len(raw) != 32:
        raise KeyCheckError(f"a curve point is 32 bytes, got {len(raw)}")
    n = int.from_bytes(raw, "little")
    sign = n >> 255
    y = n & ((1 << 255) - 1)
    if y >= P:
        raise KeyCheckError(f"non-canonical point encoding (y = p + {y - P} >= p)")
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P  # candidate sqrt(u/v)
    vx2 = v * x * x % P
    if vx2 == (-u) % P:
        x = x * SQRT_M1 % P
    elif vx2 != u:
        raise KeyCheckError("not a point on edwards25519 (no x for this y)")
    if x == 0 and sign:
        raise KeyCheckError("non-canonical point encoding (x = 0 with the sign bit set)")
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def encode_point(point: Point) -> bytes:
    """RFC 8032 §5.1.2 encoding of a point (y with the low bit of x in bit 255)."""
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def is_small_order(point: Point) -> bool:
    """Whether ``[8]point`` is the identity, i.e. the point is one of the 8 torsion points."""
    return is_identity(_double(_double(_double(point))))


# ----------------------------------------------------------------------------------------- checks
@lru_cache(maxsize=1024)
def check_public_key(raw: bytes) -> None:
    """Refuse a public key that is non-canonical, off the curve, small-order or outside the subgroup.

    Cached: a build reads few distinct keys many times, and the subgroup check ``[L]A`` costs a
    253-bit scalar multiplication in Python (about a millisecond).
    """
    if len(raw) != 32:
        raise KeyCheckError(f"an Ed25519 public key is 32 bytes, this is {len(raw)}")
    point = decode_point(raw)
    if raw in SMALL_ORDER_ENCODINGS or is_small_order(point):
        raise KeyCheckError(
            "small-order public key (one of the 8 torsion points: it would accept forged signatures); "
            "make a real key with `luab-bench keygen`"
        )
    if not is_identity(scalar_mult(L, point)):
        raise KeyCheckError(
            "public key is not in the prime-order subgroup (it has a torsion component); "
            "make a real key with `luab-bench keygen`"
        )


def check_signature(raw: bytes) -> None:
    """Refuse a signature ``R || S`` with ``S >= L``, ``R`` non-canonical or ``R`` of small order.

    No curve arithmetic per signature (a build checks thousands): the verifier compares ``R`` with
    the canonical encoding of ``[S]B − [k]A``, so an ``R`` off the curve can never match, and the
    small-order ``R`` that could are exactly the 8 canonical encodings in the blocklist.
    """
    if len(raw) != 64:
        raise KeyCheckError(f"an Ed25519 signature is 64 bytes, this is {len(raw)}")
    if int.from_bytes(raw[32:], "little") >= L:
        raise KeyCheckError("non-canonical signature (S >= L, RFC 8032 §5.1.7)")
    r = raw[:32]
    y = int.from_bytes(r, "little") & ((1 << 255) - 1)
    if y >= P:
        raise KeyCheckError(f"signature R: non-canonical point encoding (y = p + {y - P} >= p)")
    if r in _NEGATIVE_ZERO:
        raise KeyCheckError("signature R: non-canonical point encoding (x = 0 with the sign bit set)")
    if r in SMALL_ORDER_ENCODINGS:
        raise KeyCheckError("signature R is a small-order point (a forgery pattern)")


def small_order_points() -> list[bytes]:
    """The canonical encodings of the 8 points of order dividing 8, computed (not copied).

    ``[L]Q`` of a curve point ``Q`` lies in the torsion subgroup (the curve's order is 8·L); walking
    y = 2, 3, ... until eight distinct encodings are found gives all of them. Used by the tests and
    the fuzzer as an independent list next to the published one.
    """
    found: set[bytes] = set()
    y = 2
    while len(found) < 8:
        for sign in (0, 1):
            try:
                q = decode_point((y | (sign << 255)).to_bytes(32, "little"))
            except KeyCheckError:
                continue
            found.add(encode_point(scalar_mult(L, q)))
        y += 1
    return sorted(found)
