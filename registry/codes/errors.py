"""Typed verification failures: each carries a machine reason code plus expected vs. actual.

Verification never answers with a bare False; it raises one of these, so callers (the
verdict service, the CLI's offline verifier) can name the reason to the user.
"""

from __future__ import annotations


class VerificationError(Exception):
    """A code, key or signature failed verification.

    `reason` is a short stable machine code (e.g. "malformed_code", "bad_signature",
    "unknown_key"); `expected` and `actual` describe the mismatch when there is one.
    """

    reason: str = "verification_failed"

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual

    def __str__(self) -> str:
        parts = [self.message]
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.actual is not None:
            parts.append(f"got {self.actual}")
        return "; ".join(parts)


class CodeFormatError(VerificationError, ValueError):
    """The label code (URL, path pieces or AI 8030 value) is not well formed.

    Also a `ValueError`, so code that builds labels from bad input can treat it as one.
    """

    reason = "malformed_code"


class SignatureError(VerificationError):
    """The Ed25519 signature does not verify for the code's element string and key."""

    reason = "bad_signature"


class UnknownKeyError(VerificationError):
    """The code names a key id that is not in the published key set."""

    reason = "unknown_key"


class RevokedKeyError(VerificationError):
    """The code was signed by a key the registry has revoked; its labels are invalid."""

    reason = "revoked_key"


class KeySetError(VerificationError, ValueError):
    """A public key or JWKS document is malformed or breaks the key id rule."""

    reason = "malformed_keys"
