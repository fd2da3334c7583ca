"""``pvattest check`` policies as pure functions, and the result document.

Each policy takes what the response says (from :func:`attestation_fields`, which
reads the plaintext ARCB flags and splits the additional data -- no decryption:
run :func:`secexkit.attest.measurement.verify_response` first) and what the
caller expects, and returns a :class:`PolicyOutcome`: a value for the result
document, or an issue (the reference's sentence).  A failed policy is never an
exception; exceptions are for unusable inputs (malformed response, unreadable
request files, a firmware server that does not answer properly).

Unlike the reference, a failing host-key check is an issue like any other (the
reference aborts there without writing its result; ADR 0081).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Final, Generic, NamedTuple, TypeVar

from cryptography.hazmat.primitives import hashes

from ..errors import FormatError, InputError
from ..formats.attestation import (
    AdditionalData,
    ExchangeResponse,
    parse_additional_data,
    parse_arcb,
)
from ..formats.request import check_request_frame
from ..formats.sizes import TAG_SIZE
from .result import yaml_hex

__all__ = [
    "FIRMWARE_CHECK_DEFAULT_URL",
    "AttestationFields",
    "CheckPolicy",
    "CheckResult",
    "FirmwareRequest",
    "FirmwareVerdict",
    "HostKeyCheck",
    "PolicyOutcome",
    "SecretStoreCheck",
    "attestation_fields",
    "check_firmware_state",
    "check_host_key",
    "check_secret_store",
    "check_user_data",
    "firmware_request",
    "host_key_document_hash",
    "parse_firmware_response",
    "request_tag",
    "run_checks",
    "secret_store_hash",
]

T = TypeVar("T")

FIRMWARE_CHECK_DEFAULT_URL: Final = "https://esupport.ibm.com/eccedge/ent/z"
FIRMWARE_USER_AGENT: Final = "s390-tools-pvattest"
#: seconds the reference waits for the firmware service
FIRMWARE_TIMEOUT: Final = 120.0


class PolicyOutcome(NamedTuple, Generic[T]):
    """A policy's answer: ``value`` for the result document, or ``issue`` when it failed."""

    value: T | None = None
    issue: str | None = None

    @property
    def passed(self) -> bool:
        """True unless an issue was found."""
        return self.issue is None


class AttestationFields(NamedTuple):
    """What the checks read from a response: flags, additional-data items, user data."""

    flags: int
    additional: AdditionalData | None
    user_data: bytes | None


def attestation_fields(response: ExchangeResponse) -> AttestationFields:
    """The ARCB's plaintext flags and the additional data split by them.

    Structure only (the reference's ``check`` does not decrypt); raises
    :class:`FormatError` for a malformed ARCB or additional data shorter than
    the flags demand.
    """
    flags = parse_arcb(response.arcb).flags
    additional = (
        parse_additional_data(response.additional, flags) if response.additional is not None else None
    )
    return AttestationFields(flags, additional, response.user_data)


# ------------------------------------------------------------------ host keys


class HostKeyCheck(NamedTuple):
    """``image_host_key`` / ``attest_host_key`` of the result: enforced? which document matched?"""

    check_enforced: bool = False
    #: the name (path) of the matching host-key document
    hash: str | None = None

    @property
    def hidden(self) -> bool:
        """The reference omits the entry when nothing matched and nothing was enforced."""
        return self.hash is None and not self.check_enforced


_HOST_KEY_KIND: Final = {"image": "image public host-key hash",
                         "attestation": "attestation public host-key hash"}


def check_host_key(
    kind: str,
    phkh: bytes | None,
    documents: Sequence[tuple[str, bytes]],
    enforced: bool,
) -> PolicyOutcome[HostKeyCheck]:
    """One host-key policy (``kind`` ``"image"`` or ``"attestation"``).

    ``phkh`` is the hash the response carries (``None`` if not requested);
    ``documents`` are (name, PHKH) of the given host-key documents -- the hash of
    each document's first certificate key, no chain verification.  Exactly one
    document must match.  Without documents the policy is off.
    """
    what = _HOST_KEY_KIND[kind]
    if not documents:
        return PolicyOutcome(HostKeyCheck())
    # on failure the value still says whether the check was enforced (the reference aborts
    # without a result there; ADR 0081)
    failed = HostKeyCheck(enforced)
    if phkh is None:
        if enforced:
            return PolicyOutcome(failed, (
                f"The Attestation result does not contain an {what}, but checking was enabled."
            ))
        return PolicyOutcome(HostKeyCheck())
    matches = [name for name, digest in documents if digest == phkh]
    if not matches:
        return PolicyOutcome(failed, f"No given host-key document matches the given {what}")
    if len(matches) > 1:
        return PolicyOutcome(failed, f"More than one host-key document matches the given {what}")
    return PolicyOutcome(HostKeyCheck(enforced, matches[0]))


# ------------------------------------------------------------------ user data


def check_user_data(expected: bytes, user_data: bytes | None) -> PolicyOutcome[bytes]:
    """The response's user data must equal ``expected`` (absent user data never matches)."""
    if user_data is None or user_data != expected:
        return PolicyOutcome(issue=(
            "The Provided user data does not match the user data from the attestation response."
        ))
    return PolicyOutcome(user_data)


# ---------------------------------------------------------------- secret store


class SecretStoreCheck(NamedTuple):
    """``secret_store`` of the result: the request names as given and the locked state."""

    add_secret_requests: tuple[str, ...]
    locked: bool


def request_tag(asrcb: bytes, source: str = "add-secret request") -> bytes:
    """The 16-byte tag of an add-secret request (its last 16 bytes, after a frame check)."""
    try:
        check_request_frame(asrcb)
    except FormatError as exc:
        raise InputError(f"{source}: {exc}", *exc.details) from None
    return bytes(asrcb[-TAG_SIZE:])


def secret_store_hash(tags: Sequence[bytes], locked: bool) -> bytes:
    """SHA-512(tag1 || ... || tagN || 0x01 if locked else 0x00), tags in add order."""
    digest = hashes.Hash(hashes.SHA512())
    for tag in tags:
        if len(tag) != TAG_SIZE:
            raise ValueError("request tags are 16 bytes")
        digest.update(tag)
    digest.update(b"\x01" if locked else b"\x00")
    return digest.finalize()


def check_secret_store(
    store_hash: bytes | None,
    requests: Sequence[tuple[str, bytes]],
    locked: bool,
) -> PolicyOutcome[SecretStoreCheck]:
    """The secret-store hash of the response must match the given requests and locked state.

    ``requests`` are (name, request tag) in the order the requests were added.
    """
    if store_hash is None:
        return PolicyOutcome(issue=(
            "The Attestation response contains no secret-store-hash, but checking was enabled"
        ))
    if secret_store_hash([tag for _, tag in requests], locked) != store_hash:
        return PolicyOutcome(issue=(
            "The calculated secret-store-hash does not match with the provided hash"
        ))
    return PolicyOutcome(SecretStoreCheck(tuple(name for name, _ in requests), locked))


# -------------------------------------------------------------------- firmware


class FirmwareRequest(NamedTuple):
    """The HTTPS POST that asks IBM's service about a firmware state."""

    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float = FIRMWARE_TIMEOUT


def firmware_request(
    firmware_state: bytes, version: int = 1, base_url: str = FIRMWARE_CHECK_DEFAULT_URL
) -> FirmwareRequest:
    """The request for API ``v1`` or ``v2`` (the body says version 1.0 for both, as the reference)."""
    if version not in (1, 2):
        raise ValueError("firmware check versions are 1 and 2")
    body = json.dumps(
        {"version": "1.0", "payload": base64.b64encode(firmware_state).decode("ascii")},
        separators=(",", ":"),
    ).encode("ascii")
    return FirmwareRequest(
        url=f"{base_url}/hmrs/firmware/attestation/v{version}/verify",
        headers={
            "x-client-id": "X",
            "Content-Type": "application/json",
            "User-Agent": FIRMWARE_USER_AGENT,
        },
        body=body,
    )


class FirmwareVerdict(NamedTuple):
    """The service's answer: valid or not, and the reference's one-paragraph description."""

    valid: bool
    message: str


def _server_error(body: bytes, reason: str) -> InputError:
    text = body.decode("utf-8", "replace")
    return InputError(f"Unexpected response from server: {' '.join(text.split())[:200]}", reason)


def parse_firmware_response(status: int, body: bytes, version: int = 1) -> FirmwareVerdict:
    """Interpret the service's answer; a status other than 200 or bad JSON is an :class:`InputError`."""
    if status != 200:
        raise InputError(
            f"The firmware verification server responded with http response status code '{status}'"
        )
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise _server_error(body, str(exc)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("valid"), bool):
        raise _server_error(body, "missing field `valid`")
    valid: bool = doc["valid"]
    state = f"The firmware is {'' if valid else 'not '}in a valid state"
    if version == 1:
        if not isinstance(doc.get("referenceId"), str):
            raise _server_error(body, "missing field `referenceId`")
        reason = doc.get("reason")
        if isinstance(reason, str):
            state += f"\n  Reason: {reason}\n  ReferenceId: {doc['referenceId']}"
        return FirmwareVerdict(valid, state)
    if not isinstance(doc.get("reason"), str) or not isinstance(doc.get("verifiedHashes"), list):
        raise _server_error(body, "missing field `reason` or `verifiedHashes`")
    pretty = json.dumps(
        {"version": doc.get("version"), "valid": valid, "reason": doc["reason"],
         "verifiedHashes": doc["verifiedHashes"]},
        indent=2,
    )
    return FirmwareVerdict(valid, f"{state}\n{pretty}")


def check_firmware_state(
    firmware_state: bytes | None,
    ask: Callable[[FirmwareRequest], tuple[int, bytes]],
    version: int = 1,
    base_url: str = FIRMWARE_CHECK_DEFAULT_URL,
) -> PolicyOutcome[bool]:
    """The firmware policy; ``ask`` performs the POST and returns (HTTP status, body).

    Value ``True`` when the service calls the state valid; an issue otherwise
    (``valid_firmware: false`` in the result).
    """
    if firmware_state is None:
        return PolicyOutcome(issue=(
            "The Attestation response contains no firmware hash, but checking was enabled"
        ))
    status, body = ask(firmware_request(firmware_state, version, base_url))
    verdict = parse_firmware_response(status, body, version)
    if not verdict.valid:
        return PolicyOutcome(issue=verdict.message)
    return PolicyOutcome(True)


# ---------------------------------------------------------------- the result

#: ``scalar(text, column)`` renders a string value as a YAML scalar.
ScalarEmitter = Callable[[str, int], str]

_PLAIN_SAFE: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=,()@ "
)


def _simple_scalar(text: str, column: int) -> str:
    """Plain for ordinary words and paths, double-quoted (JSON escapes) otherwise."""
    del column
    import re

    looks_typed = text.lower() in {"", "~", "null", "true", "false"} or re.fullmatch(
        r"[-+]?(\.inf|\.nan|0x[0-9a-fA-F]+|0o[0-7]+|[0-9][0-9_]*(\.[0-9]*)?([eE][-+]?[0-9]+)?"
        r"|\.[0-9]+([eE][-+]?[0-9]+)?)",
        text,
        re.IGNORECASE,
    )
    plain = (
        not looks_typed
        and set(text) <= _PLAIN_SAFE
        and text[0] not in "-=,@ "
        and text[-1] != " "
        and "  " not in text
    )
    return text if plain else json.dumps(text)


class CheckResult(NamedTuple):
    """The ``pvattest check`` result document."""

    issues: tuple[str, ...] = ()
    image_host_key: HostKeyCheck = HostKeyCheck()
    attest_host_key: HostKeyCheck = HostKeyCheck()
    user_data: bytes | None = None
    secret_store: SecretStoreCheck | None = None
    #: ``None`` when the firmware was not checked
    valid_firmware: bool | None = None

    @property
    def successful(self) -> bool:
        """True when no policy found an issue."""
        return not self.issues

    def to_yaml(self, scalar: ScalarEmitter = _simple_scalar) -> str:
        """The result as the reference writes it (keys in its order, absent ones omitted).

        ``scalar`` renders the free-text values (issues, document names); pass a
        serde_yaml-exact emitter for byte equality with exotic names.
        """
        lines = [f"successful: {'true' if self.successful else 'false'}"]
        if self.issues:
            lines.append("issues:")
            lines.extend(f"- {scalar(issue, 2)}" for issue in self.issues)
        for key, check in (("image_host_key", self.image_host_key),
                           ("attest_host_key", self.attest_host_key)):
            if check.hidden:
                continue
            lines.append(f"{key}:")
            lines.append(f"  check_enforced: {'true' if check.check_enforced else 'false'}")
            if check.hash is not None:
                lines.append(f"  hash: {scalar(check.hash, 8)}")
        if self.user_data is not None:
            lines.append(f"user_data: {yaml_hex(self.user_data)}")
        if self.secret_store is not None:
            lines.append("secret_store:")
            if self.secret_store.add_secret_requests:
                lines.append("  add_secret_requests:")
                lines.extend(f"  - {scalar(name, 4)}" for name in self.secret_store.add_secret_requests)
            else:
                lines.append("  add_secret_requests: []")
            lines.append(f"  locked: {'true' if self.secret_store.locked else 'false'}")
        if self.valid_firmware is not None:
            lines.append(f"valid_firmware: {'true' if self.valid_firmware else 'false'}")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# ------------------------------------------------------------- all policies


def host_key_document_hash(data: bytes, source: str) -> bytes:
    """PHKH of a host-key document's first certificate key (no chain verification)."""
    from ..hostkeys import parse_host_key_document

    return parse_host_key_document(data, source).host_key.hash


class CheckPolicy(NamedTuple):
    """What ``pvattest check`` was asked to check (everything off by default)."""

    #: (name, PHKH) of each ``-k`` document, in order
    host_key_documents: Sequence[tuple[str, bytes]] = ()
    enforce_image_host_key: bool = False
    enforce_attestation_host_key: bool = False
    #: expected user data (``-u``)
    user_data: bytes | None = None
    #: ``--secret-store-locked``; ``None`` = secret-store check off
    secret_store_locked: bool | None = None
    #: (name, request tag) of each ``--secret``, in add order
    secret_requests: Sequence[tuple[str, bytes]] = ()
    firmware: bool = False
    firmware_version: int = 1
    firmware_url: str = FIRMWARE_CHECK_DEFAULT_URL


def run_checks(
    fields: AttestationFields,
    policy: CheckPolicy,
    ask: Callable[[FirmwareRequest], tuple[int, bytes]] | None = None,
) -> CheckResult:
    """Run every enabled policy in the reference's order and collect the issues.

    ``ask`` performs the firmware POST (required when ``policy.firmware``).
    """
    issues: list[str] = []

    def take(outcome: PolicyOutcome[T]) -> T | None:
        if outcome.issue is not None:
            issues.append(outcome.issue)
        return outcome.value

    add = fields.additional or AdditionalData()
    image = take(check_host_key("image", add.image_phkh, policy.host_key_documents,
                                policy.enforce_image_host_key))
    attest = take(check_host_key("attestation", add.attestation_phkh, policy.host_key_documents,
                                 policy.enforce_attestation_host_key))
    user = (take(check_user_data(policy.user_data, fields.user_data))
            if policy.user_data is not None else None)
    store = (take(check_secret_store(add.secret_store_hash, policy.secret_requests,
                                     policy.secret_store_locked))
             if policy.secret_store_locked is not None else None)
    valid_firmware = None
    if policy.firmware:
        if ask is None:
            raise ValueError("the firmware check needs a way to reach the firmware service")
        outcome = check_firmware_state(add.firmware_state, ask, policy.firmware_version,
                                       policy.firmware_url)
        valid_firmware = outcome.passed
        take(outcome)
    return CheckResult(
        issues=tuple(issues),
        image_host_key=image or HostKeyCheck(),
        attest_host_key=attest or HostKeyCheck(),
        user_data=user,
        secret_store=store,
        valid_firmware=valid_firmware,
    )
