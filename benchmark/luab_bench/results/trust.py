"""Who may sign what: trust anchors (submissions, or bare keys) and binding a result to one.

A valid signature proves only that *some* key signed the bytes. The leaderboard's trust anchors are
the submissions (``submissions/<id>/submission.yaml``): each names its team, its public key and the
one (model, protocol, suite) it trained. A result is **verified** only when it is bound to a
submission:

- its signing key is the submission's key, and
- it names that submission (``submission_id``, schema 1.2, covered by the signature) or, for a result
  without ``submission_id``, exactly one submission with that key declares its (model, protocol,
  suite), and
- the submission declares the result's model name, protocol name and suite name (exact match; a
  protocol given as a YAML file counts by the ``name`` inside it).

So one team's key cannot vouch for another submission's result, nor for a model/protocol/suite its
submission does not declare. A bare ``--trusted-key`` is a weaker anchor (a key trusted for any
result, no team): useful for a personal site, never used by CI. Without any anchor a valid
signature is only **self-signed**: consistent, signer unknown.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from luab_bench.errors import LuabError

if TYPE_CHECKING:
    from luab_bench.results.schema import Result


@dataclass(frozen=True)
class TrustEntry:
    """One trust anchor: a key, and (for a submission) whom it belongs to and what it may sign."""

    fingerprint: str
    submission_id: str | None = None  # None: a bare trusted key, valid for any result
    team: str | None = None
    model: str | None = None
    protocol: str | None = None
    suite: str | None = None

    def declares(self, result: Result) -> bool:
        """Whether this anchor covers the result's (model, protocol, suite)."""
        if self.submission_id is None:
            return True
        return (result.model.name, result.protocol.name, result.suite.name) == (
            self.model,
            self.protocol,
            self.suite,
        )

    def declared(self) -> str:
        return f"{self.model}/{self.protocol}/{self.suite}"


@dataclass(frozen=True)
class Binding:
    """Outcome of :meth:`TrustSet.bind`: the anchor a result is bound to, or why none."""

    entry: TrustEntry | None
    reason: str


@dataclass(frozen=True)
class TrustSet:
    """The trust anchors of one verification or build."""

    entries: tuple[TrustEntry, ...] = field(default_factory=tuple)

    @classmethod
    def from_keys(cls, keys: Collection[str | Path]) -> TrustSet:
        """Bare trusted keys (``.pub`` paths, base64 keys or ``sha256:`` fingerprints)."""
        from luab_bench.results.keys import normalize_trusted_keys

        return cls(tuple(TrustEntry(fp) for fp in sorted(normalize_trusted_keys(keys))))

    @classmethod
    def from_submissions(cls, root: str | Path) -> TrustSet:
        """One anchor per ``<root>/<id>/submission.yaml``; an invalid submission is an error naming it."""
        from luab_bench.protocols.base import load_protocol
        from luab_bench.results.keys import key_fingerprint
        from luab_bench.submissions import check_submission, find_submissions

        entries = []
        for path in find_submissions(root):
            # binding reads the declared model name only; the factory gate is `submission check`
            sub = check_submission(path, check_timm=False, check_factories=False)
            protocol = sub.protocol
            if protocol.endswith((".yaml", ".yml")):  # validated inside the directory by check_submission
                protocol = load_protocol(path.parent / protocol).config.name
            entries.append(
                TrustEntry(
                    fingerprint=key_fingerprint(sub.public_key),
                    submission_id=path.parent.name,
                    team=sub.team,
                    model=sub.model,
                    protocol=protocol,
                    suite=sub.suite,
                )
            )
        if not entries:
            raise LuabError(f"{root}: no */submission.yaml found, so no result could be verified")
        return cls(tuple(entries))

    def __add__(self, other: TrustSet) -> TrustSet:
        return TrustSet(self.entries + other.entries)

    @property
    def n_submissions(self) -> int:
        return sum(e.submission_id is not None for e in self.entries)

    def bind(self, result: Result, fingerprint: str) -> Binding:
        """Bind a result whose signature by ``fingerprint`` is valid to its anchor (see the module doc)."""
        by_key = [e for e in self.entries if e.fingerprint == fingerprint]
        subs = [e for e in by_key if e.submission_id is not None]
        bare = next((e for e in by_key if e.submission_id is None), None)
        claimed = result.submission_id
        what = f"{result.model.name}/{result.protocol.name}/{result.suite.name}"
        problem: str
        if claimed is not None:
            own = [e for e in subs if e.submission_id == claimed]
            if own:
                if own[0].declares(result):
                    return Binding(own[0], "")
                problem = (
                    f"result is {what}, but submission {claimed!r} declares only {own[0].declared()} "
                    "(model/protocol/suite)"
                )
            elif any(e.submission_id == claimed for e in self.entries):
                problem = (
                    f"names submission {claimed!r}, which declares another key than the signer's "
                    f"({fingerprint})"
                )
            else:
                problem = f"names submission {claimed!r}, which is not among the trusted submissions"
        elif subs:
            fitting = [e for e in subs if e.declares(result)]
            if len(fitting) == 1:
                return Binding(fitting[0], "")
            if fitting:
                names = ", ".join(e.submission_id or "" for e in fitting)
                problem = (
                    f"key {fingerprint} is the key of several submissions declaring {what} ({names}); "
                    "name one in the result with `luab-bench sign --submission ID`"
                )
            else:
                declared = "; ".join(f"{e.submission_id}: {e.declared()}" for e in subs)
                problem = f"result is {what}, but the signer's submission declares {declared}"
        else:
            problem = f"signed by a key that is not in the trusted set (key {fingerprint})"
        if bare is not None:  # the user trusts this key for anything
            return Binding(bare, "")
        return Binding(None, problem)


def as_trust_set(trusted: TrustSet | Collection[str | Path] | None) -> TrustSet | None:
    """``None`` (no anchors: self-signed mode), a :class:`TrustSet`, or bare keys made into one."""
    if trusted is None or isinstance(trusted, TrustSet):
        return trusted
    if isinstance(trusted, (str, Path)):  # a single key, not a collection of characters
        trusted = [trusted]
    return TrustSet.from_keys(trusted)


def trust_from_options(
    trusted_keys: Collection[str | Path] = (), submissions_dir: str | Path | None = None
) -> TrustSet | None:
    """The anchors of ``--trusted-key`` (bare keys) and ``--submissions DIR``; ``None`` if neither."""
    if not trusted_keys and submissions_dir is None:
        return None
    trust = TrustSet.from_keys(list(trusted_keys))
    if submissions_dir is not None:
        trust = trust + TrustSet.from_submissions(submissions_dir)
    return trust
