"""The software ultravisor's machine and guests (spec ultravisor.md §8): pure, in memory.

Checks run in the order of §8.3; the first failing check wins and raises
:class:`~secexkit.errors.UltravisorError` with the ultravisor's rc and the
text s390-tools prints for it.  Choices the spec marks as modelling decisions
([M]) are fields of :class:`Profile` with the spec's defaults (ADR 0091).
"""

from __future__ import annotations

import enum
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, Final, NamedTuple

from cryptography.hazmat.primitives.asymmetric import ec

from ... import crypto
from ...attest.check import secret_store_hash
from ...attest.request import open_arcb_with_host_key
from ...attest.ultravisor import FIRMWARE_STATE_SIZE, answer_attestation
from ...crypto.keyslots import open_key_slot
from ...errors import CryptoError, FormatError, SecexError, UltravisorError
from ...formats.attestation import (
    ARCB_HEAD,
    ARCB_KEY_SLOT,
    FLAG_NONCE,
    MEASUREMENT_KEY_SIZE,
    MEASUREMENT_SIZE,
    NONCE_SIZE,
    expected_additional_size,
)
from ...formats.names import secret_type_name
from ...formats.request import (
    ASRCB_BODY,
    EXTENSION_SECRET_SIZE,
    KEY_SLOT,
    KEY_SLOTS_OFFSET,
    SECRET_HEADER,
    SHORT_SECRET_HEADER_SIZE,
    SecretType,
)
from ...formats.retrievable import EC_PRIVATE_KEY_SIZES, MAX_RETRIEVE_SIZE, PLAINTEXT_BLOCK
from ...formats.se_header import (
    PCF_ALLOW_DUMPING,
    PCF_BACKUP_TARGET_KEYS,
    SCF_CCK_EXTENSION_SECRET,
    SCF_CCK_UPDATE,
    BootHdrTags,
    SeHeader,
    parse_se_header,
    read_se_header,
)
from ...formats.secret_list import LIST_ENTRY, LIST_HEADER, SecretEntry, format_secret_id
from ...formats.sizes import CCK_SIZE, CUID_SIZE, PAGE_SIZE, TAG_SIZE
from ...formats.uvio import RC_MORE_DATA, RC_SUCCESS, UvIoctl
from ...image.header import decrypt_se_header, unwrap_protection_key
from ...secret import SecretBytes
from ..device import rc_message

__all__ = [
    "ENTRIES_PER_PAGE",
    "RC_DUMP_REFUSED",
    "Call",
    "DumpStatus",
    "Guest",
    "ListPage",
    "Machine",
    "Profile",
    "StoredSecret",
    "clear_key_size",
]

#: list entries in one 4096-byte page after the 16-byte header
ENTRIES_PER_PAGE: Final = (PAGE_SIZE - LIST_HEADER.size) // LIST_ENTRY.size
#: generic rc "invalid state": the model's refusal of Dump Init ([M], §7)
RC_DUMP_REFUSED: Final = 0x0003
_RC_INVALID_COMMAND: Final = 0x0002
_HOST_RC_TEXT: Final = {0x0003: "invalid state"}

_ASSOCIATION_SIZE: Final = 32
_REQUEST_KIND: Final[dict[int, str]] = {SecretType.META: "meta", SecretType.UPDATE_CCK: "update-CCK"}
_KEY_SIZES: Final[dict[int, int]] = {
    SecretType.AES_128: 16,
    SecretType.AES_192: 24,
    SecretType.AES_256: 32,
    SecretType.AES_XTS_128: 32,
    SecretType.AES_XTS_256: 64,
    SecretType.HMAC_SHA_256: 64,
    SecretType.HMAC_SHA_512: 128,
    **{int(k): v for k, v in EC_PRIVATE_KEY_SIZES.items()},
}
#: every secret type the ultravisor defines (0x0B..0x10 are unassigned)
_DEFINED_TYPES: Final = frozenset(int(t) for t in SecretType)
#: the secret wrapped with a key type in the retrieve answer: 32 bytes of "verification pattern"
VERIFICATION_PATTERN_SIZE: Final = 32


def clear_key_size(secret_type: int) -> int | None:
    """The clear-key size of a key secret type (AES, XTS, HMAC, EC), else ``None``."""
    return _KEY_SIZES.get(secret_type)


class Call(enum.StrEnum):
    """Guest ultravisor calls that a machine may have installed (§1)."""

    ATTEST = "attest"
    ADD_SECRET = "add-secret"
    LIST_SECRETS = "list-secrets"
    LOCK_SECRETS = "lock-secrets"
    RETRIEVE_SECRET = "retrieve-secret"


_CALL_IOCTL: Final = {
    Call.ATTEST: UvIoctl.ATTESTATION,
    Call.ADD_SECRET: UvIoctl.ADD_SECRET,
    Call.LIST_SECRETS: UvIoctl.LIST_SECRETS,
    Call.LOCK_SECRETS: UvIoctl.LOCK_SECRETS,
    Call.RETRIEVE_SECRET: UvIoctl.RETRIEVE_SECRET,
}

_Z17_TYPES: Final = frozenset(
    {1, 2, *range(3, 0x0B), *range(0x11, 0x17)}
)


@dataclass(frozen=True)
class Profile:
    """Query values of one machine and every modelling choice (§8.1; defaults: a z17).

    ``binding_rc`` is the rc for image, CUID, extension-secret and update-CCK
    refusals (0x010c); ``dump_refusal_rc`` Dump Init's refusal (0x0003);
    ``backup_key_requests`` whether add-secret and attestation requests may be
    for the backup host key; ``lock_during_dump`` whether Lock works between Dump
    Init and Dump Complete; ``protected_keys`` "stand-in" (clear key + 32-byte
    pattern, as hardware sizes them) or "clear"; ``refuse_modification``
    answers add and lock with 0x0101 (never on by default).
    """

    name: str = "z17"
    supp_add_secret_req_ver: frozenset[int] = frozenset({0x100})
    supp_add_secret_pcf: int = 0x8000000000000000
    supp_att_req_hdr_ver: frozenset[int] = frozenset({0x100})
    supp_att_pflags: int = 0x7C00000000000000
    supp_secret_types: frozenset[int] = _Z17_TYPES
    max_assoc_secrets: int = 32
    max_retr_secrets: int = 32
    max_keyslots: int = 255
    installed_calls: frozenset[Call] = frozenset(Call)
    binding_rc: int = 0x010C
    dump_refusal_rc: int = RC_DUMP_REFUSED
    backup_key_requests: bool = True
    lock_during_dump: bool = True
    protected_keys: str = "stand-in"
    refuse_modification: bool = False

    def __post_init__(self) -> None:
        if self.protected_keys not in ("stand-in", "clear"):
            raise ValueError("protected_keys is 'stand-in' or 'clear'")
        for name in ("max_assoc_secrets", "max_retr_secrets", "max_keyslots"):
            if not 0 <= getattr(self, name) <= 0xFFFF:
                raise ValueError(f"{name} must be 0..65535")

    @classmethod
    def z16(cls, **changes: Any) -> Profile:
        """A z16: only meta and association secrets, no Retrieve Secret call."""
        return cls(name="z16", supp_secret_types=frozenset({1, 2}),
                   installed_calls=frozenset(Call) - {Call.RETRIEVE_SECRET}, **changes)

    @classmethod
    def named(cls, name: str, **changes: Any) -> Profile:
        """``z17`` (default) or ``z16``."""
        if name == "z16":
            return cls.z16(**changes)
        if name == "z17":
            return cls(**changes)
        raise ValueError(f"unknown machine profile {name!r} (z16 or z17)")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (sets as sorted lists)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, frozenset):
                value = sorted(str(v) if isinstance(v, Call) else v for v in value)
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        """Inverse of :meth:`to_json`; unknown or missing keys are a :class:`ValueError`."""
        if set(data) != set(cls.__dataclass_fields__):
            raise ValueError("profile fields do not match this version")
        values = dict(data)
        for name in ("supp_add_secret_req_ver", "supp_att_req_hdr_ver", "supp_secret_types"):
            values[name] = frozenset(int(v) for v in values[name])
        values["installed_calls"] = frozenset(Call(v) for v in values["installed_calls"])
        return cls(**values)


@dataclass
class StoredSecret:
    """One entry of a guest's secret store (only association and retrievable secrets)."""

    index: int
    secret_type: int
    length: int
    secret_id: bytes
    payload: SecretBytes

    def entry(self) -> SecretEntry:
        """The 48-byte list entry."""
        return SecretEntry(self.index, self.secret_type, self.length, self.secret_id)

    def __repr__(self) -> str:
        return (f"StoredSecret(index={self.index}, type={secret_type_name(self.secret_type)}, "
                f"length={self.length}, id={format_secret_id(self.secret_id)})")


class ListPage(NamedTuple):
    """One List Secrets UVC answer: rc 0x0001 or 0x0100 (more entries) and a 4096-byte page."""

    rc: int
    page: bytes


class DumpStatus(NamedTuple):
    """Whether the host may dump the guest now, and why not."""

    allowed: bool
    reason: str


def _refuse(command: UvIoctl, rc: int) -> UltravisorError:
    return UltravisorError(rc_message(command, rc), rc, 0)


def _host_refusal(rc: int) -> UltravisorError:
    return UltravisorError(_HOST_RC_TEXT.get(rc, "unexpected error-code"), rc, 0)


def _u(data: bytes, offset: int, size: int) -> int:
    return int.from_bytes(data[offset:offset + size], "big")


@dataclass
class Guest:
    """One running secure configuration: header state, CUID, secret store (§8.2)."""

    machine: Machine = field(repr=False)
    name: str
    tags: BootHdrTags
    pcf: int
    scf: int
    header_cck: SecretBytes
    image_phkh: bytes
    cuid: bytes
    cck: SecretBytes | None = None
    store: list[StoredSecret] = field(default_factory=list)
    next_index: int = 0
    ext_secret: SecretBytes | None = None
    add_tags: list[bytes] = field(default_factory=list)
    locked: bool = False
    dump_disabled: bool = False
    #: what added the disable-dump flag: a one-line description of that request
    dump_disabled_by: str | None = None
    dump_in_progress: bool = False
    firmware_state: bytes = bytes(FIRMWARE_STATE_SIZE)
    boots: int = 1

    def __post_init__(self) -> None:
        if self.cck is None:
            self.cck = self.header_cck
        if len(self.cuid) != CUID_SIZE:
            raise ValueError(f"a CUID is {CUID_SIZE} bytes")

    @property
    def profile(self) -> Profile:
        """The machine's profile."""
        return self.machine.profile

    def _installed(self, call: Call) -> None:
        if call not in self.profile.installed_calls:
            raise _refuse(_CALL_IOCTL[call], _RC_INVALID_COMMAND)

    # ------------------------------------------------------------------ add secret

    def add_secret(self, request: bytes | bytearray) -> None:
        """Add Secret (UVC 0x1031): the checks of §8.3 in order; raises on refusal."""
        req = bytes(request)
        cmd = UvIoctl.ADD_SECRET
        profile = self.profile

        def refuse(rc: int) -> UltravisorError:
            return _refuse(cmd, rc)

        self._installed(Call.ADD_SECRET)
        if profile.refuse_modification:
            raise refuse(0x0101)
        if self.dump_in_progress:
            raise refuse(0x010D)
        if self.locked:
            raise refuse(0x0102)
        if len(req) < 0x30:
            raise refuse(0x0105)
        if _u(req, 0x08, 4) not in profile.supp_add_secret_req_ver:
            raise refuse(0x0104)
        nks = req[0x27]
        if nks == 0 or nks > profile.max_keyslots:
            raise refuse(0x0106)
        rql, sea = _u(req, 0x0C, 4), _u(req, 0x2C, 4)
        header_at = KEY_SLOTS_OFFSET + KEY_SLOT.size * nks
        if rql != len(req) or sea < EXTENSION_SECRET_SIZE or sea + TAG_SIZE > rql \
                or header_at + SHORT_SECRET_HEADER_SIZE > rql - sea - TAG_SIZE:
            raise refuse(0x0105)
        secret_type = _u(req, header_at + 2, 2)
        header_size = SHORT_SECRET_HEADER_SIZE if secret_type == SecretType.META else SECRET_HEADER.size
        if rql - sea - TAG_SIZE != header_at + header_size:
            raise refuse(0x0105)
        flags = _u(req, 0x30, 8)
        if flags & ~profile.supp_add_secret_pcf:
            raise refuse(0x0107)
        plain = self.machine.open_add_secret_request(req, rql - sea - TAG_SIZE)
        if plain is None:
            raise refuse(0x0108)
        if secret_type not in profile.supp_secret_types or secret_type not in _DEFINED_TYPES:
            raise refuse(0x0109)
        length = _u(req, header_at + 4, 4)
        if not _length_ok(secret_type, length) or sea != length + EXTENSION_SECRET_SIZE:
            raise refuse(0x010A)
        body = ASRCB_BODY.unpack(req)
        tags = BootHdrTags(bytes(body["pld"]), bytes(body["ald"]), bytes(body["tld"]),
                           bytes(body["header_tag"]))
        cuid = bytes(body["cuid"])
        if tags != self.tags or (any(cuid) and cuid != self.cuid):
            raise refuse(profile.binding_rc)
        payload, extension = plain[:length], SecretBytes(plain[length:])
        expected = self.expected_extension_secret()
        if expected is not None and extension != expected:
            raise refuse(profile.binding_rc)
        if secret_type == SecretType.UPDATE_CCK and not self.scf & SCF_CCK_UPDATE:
            raise refuse(profile.binding_rc)
        listed = secret_type not in (SecretType.META, SecretType.UPDATE_CCK)
        if listed:
            association = secret_type == SecretType.ASSOCIATION
            count = sum((s.secret_type == SecretType.ASSOCIATION) == association for s in self.store)
            limit = profile.max_assoc_secrets if association else profile.max_retr_secrets
            if count >= limit:
                raise refuse(0x010B)
        # accepted: effects
        if self.ext_secret is None and secret_type != SecretType.UPDATE_CCK:
            self.ext_secret = extension
        if listed:
            secret_id = req[header_at + 0x10:header_at + 0x30]
            stored = self.machine.stored_payload(secret_type, payload)
            self.store.append(StoredSecret(self.next_index, secret_type, len(stored), secret_id,
                                           SecretBytes(stored)))
            self.next_index += 1
        elif secret_type == SecretType.UPDATE_CCK:
            self.cck = SecretBytes(payload)
        tag = req[rql - TAG_SIZE:rql]
        if flags & (1 << 63) and not self.dump_disabled:
            self.dump_disabled = True
            what = _REQUEST_KIND.get(secret_type) or secret_type_name(secret_type)
            if listed:
                what += f" secret {format_secret_id(req[header_at + 0x10:header_at + 0x30])}"
            else:
                what += " request"
            self.dump_disabled_by = f"add-secret request #{len(self.add_tags) + 1} ({what}, tag {tag.hex()})"
        self.add_tags.append(tag)

    def expected_extension_secret(self) -> SecretBytes | None:
        """The extension secret the next request must carry (``None``: any; not yet primed)."""
        if self.scf & SCF_CCK_EXTENSION_SECRET:
            assert self.cck is not None
            return crypto.derive_extension_secret(self.cck, self.tags.tag)
        return self.ext_secret

    # ------------------------------------------------------------------ list, lock, retrieve

    def list_secrets(self, start_index: int = 0) -> ListPage:
        """List Secrets (UVC 0x1033): one page of entries with index >= ``start_index``."""
        self._installed(Call.LIST_SECRETS)
        chosen = [s for s in self.store if s.index >= start_index]
        shown, rest = chosen[:ENTRIES_PER_PAGE], chosen[ENTRIES_PER_PAGE:]
        header = LIST_HEADER.pack({
            "stored": len(shown), "total": len(self.store),
            "next_index": rest[0].index if rest else 0,
            "reserved_06": bytes(2), "reserved_08": bytes(8),
        })
        page = header + b"".join(s.entry().to_bytes() for s in shown)
        return ListPage(RC_MORE_DATA if rest else RC_SUCCESS, page.ljust(PAGE_SIZE, b"\0"))

    def entries(self) -> list[SecretEntry]:
        """Every listable entry (what a complete listing shows)."""
        return [s.entry() for s in self.store]

    def lock(self) -> None:
        """Lock Secret Store (UVC 0x1034)."""
        self._installed(Call.LOCK_SECRETS)
        if self.profile.refuse_modification:
            raise _refuse(UvIoctl.LOCK_SECRETS, 0x0101)
        if self.locked:
            raise _refuse(UvIoctl.LOCK_SECRETS, 0x0102)
        if self.dump_in_progress and not self.profile.lock_during_dump:
            raise _refuse(UvIoctl.LOCK_SECRETS, 0x010D)
        self.locked = True

    def retrieve(self, index: int, buffer_size: int = MAX_RETRIEVE_SIZE) -> SecretBytes:
        """Retrieve Secret (UVC 0x1035): the stored payload of one retrievable secret."""
        self._installed(Call.RETRIEVE_SECRET)
        cmd = UvIoctl.RETRIEVE_SECRET
        if not self.store:
            raise _refuse(cmd, 0x010F)
        match = next((s for s in self.store if s.index == index), None)
        if match is None:
            raise _refuse(cmd, 0x0110)
        if match.secret_type == SecretType.ASSOCIATION:
            raise _refuse(cmd, 0x0111)
        if buffer_size < match.length:
            raise _refuse(cmd, 0x0109)
        return match.payload

    # ------------------------------------------------------------------ attestation

    def secret_store_hash(self) -> bytes:
        """SHA-512 over the tags of the accepted add-secret requests and the lock byte."""
        return secret_store_hash(self.add_tags, self.locked)

    def attest(self, arcb: bytes | bytearray, user_data: bytes = b"", measurement_size: int = 64,
               additional_size: int = 0x8000) -> tuple[bytes, bytes, bytes]:
        """Retrieve Attestation Measurement (UVC 0x1020) → (measurement, additional, CUID).

        The measurement is 64 bytes, the additional data exactly as long as the
        request's flags need.  Changes no state.
        """
        cmd = UvIoctl.ATTESTATION
        profile = self.profile
        data = bytes(arcb)
        self._installed(Call.ATTEST)
        if len(user_data) > 256:
            raise _refuse(cmd, 0x0102)
        if len(data) < 0x0C or _u(data, 0x08, 4) not in profile.supp_att_req_hdr_ver:
            raise _refuse(cmd, 0x0106)
        if len(data) < 0x30:
            raise _refuse(cmd, 0x0107)
        nks, rql, sea = data[0x27], _u(data, 0x0C, 4), _u(data, 0x2C, 4)
        if rql != len(data) or sea + TAG_SIZE > rql \
                or rql - sea - TAG_SIZE != ARCB_HEAD.size + ARCB_KEY_SLOT.size * nks:
            raise _refuse(cmd, 0x0107)
        if nks == 0 or nks > profile.max_keyslots:
            raise _refuse(cmd, 0x0108)
        flags = _u(data, 0x30, 8)
        if sea != MEASUREMENT_KEY_SIZE + (NONCE_SIZE if flags & FLAG_NONCE else 0):
            raise _refuse(cmd, 0x0109)
        if flags & ~profile.supp_att_pflags:
            raise _refuse(cmd, 0x010A)
        if _u(data, 0x38, 4) != 1:
            raise _refuse(cmd, 0x010B)
        key = self.machine.attestation_key(data)
        if key is None:
            raise _refuse(cmd, 0x010C)
        if measurement_size < MEASUREMENT_SIZE:
            raise _refuse(cmd, 0x010D)
        if additional_size < expected_additional_size(flags):
            raise _refuse(cmd, 0x010E)
        response = answer_attestation(
            data, key, self.tags, self.cuid, user_data or None, image_phkh=self.image_phkh,
            secret_store=self.secret_store_hash(), firmware_state=self.firmware_state,
        )
        return response.measurement, response.additional or b"", self.cuid

    # ------------------------------------------------------------------ dumps, reboot

    def dump_status(self) -> DumpStatus:
        """Whether Dump Init would succeed, and the reason when it would not."""
        if not self.pcf & PCF_ALLOW_DUMPING:
            return DumpStatus(False, "the SE header does not allow dumping (PCF bit 34 is clear)")
        if self.dump_disabled:
            return DumpStatus(False, f"dumping was disabled by {self.dump_disabled_by}")
        if self.dump_in_progress:
            return DumpStatus(False, "a dump is already in progress")
        return DumpStatus(True, "dump allowed")

    def dump_init(self) -> None:
        """Dump Init (host): refused unless the header allows dumps and no request disabled them."""
        if not self.dump_status().allowed:
            raise _host_refusal(self.profile.dump_refusal_rc)
        self.dump_in_progress = True

    def dump_complete(self, seed: bytes | None = None) -> tuple[bytes, SecretBytes]:
        """Dump Complete (host): ends the dump; returns the 64-byte seed and the dump key."""
        if not self.dump_in_progress:
            raise _host_refusal(RC_DUMP_REFUSED)
        seed = os.urandom(64) if seed is None else seed
        if len(seed) != 64:
            raise ValueError("the dump seed is 64 bytes")
        self.dump_in_progress = False
        assert self.cck is not None
        return seed, dump_key(self.cck, seed)

    def reboot(self, cuid: bytes | None = None) -> None:
        """Restart the guest: new CUID, empty store, every latch cleared, header CCK back."""
        self.cuid = self.machine.new_cuid() if cuid is None else cuid
        self.store.clear()
        self.next_index = 0
        self.ext_secret = None
        self.add_tags.clear()
        self.locked = self.dump_disabled = self.dump_in_progress = False
        self.dump_disabled_by = None
        self.cck = self.header_cck
        self.boots += 1


def dump_key(cck: SecretBytes, seed: bytes) -> SecretBytes:
    """HKDF-SHA512(IKM = CCK, salt = seed, info = ``IBM Z Ultravisor Dump``, L = 32) (§7)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return SecretBytes(HKDF(algorithm=hashes.SHA512(), length=32, salt=seed,
                            info=b"IBM Z Ultravisor Dump").derive(cck.reveal()))


def _length_ok(secret_type: int, length: int) -> bool:
    if secret_type == SecretType.META:
        return length == 0
    if secret_type in (SecretType.ASSOCIATION, SecretType.UPDATE_CCK):
        return length == _ASSOCIATION_SIZE
    if secret_type == SecretType.PLAINTEXT:
        return PLAINTEXT_BLOCK <= length <= MAX_RETRIEVE_SIZE and length % PLAINTEXT_BLOCK == 0
    return _KEY_SIZES.get(secret_type) == length


class Machine:
    """An IBM Z machine's ultravisor: host private keys (current, optional backup) and a profile."""

    def __init__(
        self,
        host_keys: Sequence[ec.EllipticCurvePrivateKey],
        profile: Profile | None = None,
        *,
        verification_pattern: bytes | None = None,
        cuid_factory: Callable[[], bytes] | None = None,
    ) -> None:
        if not 1 <= len(host_keys) <= 2:
            raise ValueError("a machine has a current host key and at most one backup key")
        for key in host_keys:
            if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp521r1":
                raise ValueError("host keys are EC secp521r1 private keys")
        self.host_keys = list(host_keys)
        self.profile = profile or Profile()
        pattern = os.urandom(VERIFICATION_PATTERN_SIZE) if verification_pattern is None \
            else verification_pattern
        if len(pattern) != VERIFICATION_PATTERN_SIZE:
            raise ValueError(f"the verification pattern is {VERIFICATION_PATTERN_SIZE} bytes")
        self.verification_pattern = pattern
        self.cuid_factory = cuid_factory or (lambda: os.urandom(CUID_SIZE))
        self.guests: dict[str, Guest] = {}

    def __repr__(self) -> str:
        return (f"Machine(profile={self.profile.name}, host keys={len(self.host_keys)}, "
                f"guests={sorted(self.guests)})")

    @property
    def host_key_hashes(self) -> list[bytes]:
        """PHKH of the current key, then of the backup key if there is one."""
        return [crypto.host_key_hash(k.public_key()) for k in self.host_keys]

    def new_cuid(self) -> bytes:
        """A fresh configuration unique ID (from the injectable factory)."""
        cuid = self.cuid_factory()
        if len(cuid) != CUID_SIZE:
            raise ValueError(f"a CUID is {CUID_SIZE} bytes")
        return cuid

    def replace_profile(self, **changes: Any) -> None:
        """Change profile fields (tests)."""
        self.profile = replace(self.profile, **changes)

    # ------------------------------------------------------------------ boot

    def boot(self, se_header: bytes | bytearray | BinaryIO | SeHeader, *, name: str = "guest",
             cuid: bytes | None = None) -> Guest:
        """Set Secure Configuration Parameters: open the SE header (or the header in an SE
        image) with a host key and start guest ``name`` (replacing one of that name).

        The first key slot, in slot order, that names one of the machine's keys
        decides (the backup key only if PCF bit 62 allows it); its PHKH is the
        image PHKH.  Failures are :class:`CryptoError` / :class:`FormatError`.
        """
        header = _read_header(se_header)
        eligible = self.host_keys[:1] if not header.pcf & PCF_BACKUP_TARGET_KEYS else self.host_keys
        by_hash = {crypto.host_key_hash(k.public_key()): k for k in eligible}
        slot = next((s for s in header.key_slots if s.host_key_hash in by_hash), None)
        if slot is None:
            backup = len(self.host_keys) > 1 and any(
                s.host_key_hash == self.host_key_hashes[1] for s in header.key_slots)
            hint = (" (it names the backup host key, but PCF bit 62 does not allow backup keys)"
                    if backup else "")
            raise CryptoError(f"The SE header has no key slot for this machine's host key{hint}")
        try:
            protection_key = unwrap_protection_key(header, by_hash[slot.host_key_hash])
            secrets = decrypt_se_header(header, protection_key)
        except CryptoError as exc:
            raise CryptoError(f"Cannot boot: {exc}") from None
        guest = Guest(self, name, header.boot_tags, header.pcf, secrets.scf, secrets.cck,
                      slot.host_key_hash, self.new_cuid() if cuid is None else cuid)
        self.guests[name] = guest
        return guest

    def boot_from_tags(self, tags: BootHdrTags, *, pcf: int = 0, scf: int = 0,
                       cck: bytes | SecretBytes | None = None, image_phkh: bytes | None = None,
                       cuid: bytes | None = None, name: str = "guest") -> Guest:
        """Test hook: a guest for a header nobody can decrypt (only its tags are known)."""
        cck_bytes = cck.reveal() if isinstance(cck, SecretBytes) else (cck or bytes(CCK_SIZE))
        if len(cck_bytes) != CCK_SIZE:
            raise ValueError(f"the CCK is {CCK_SIZE} bytes")
        guest = Guest(self, name, tags, pcf, scf, SecretBytes(cck_bytes),
                      image_phkh if image_phkh is not None else self.host_key_hashes[0],
                      self.new_cuid() if cuid is None else cuid)
        self.guests[name] = guest
        return guest

    # ------------------------------------------------------------------ keys at work

    def _request_keys(self) -> list[ec.EllipticCurvePrivateKey]:
        return self.host_keys if self.profile.backup_key_requests else self.host_keys[:1]

    def open_add_secret_request(self, req: bytes, aad_size: int) -> bytes | None:
        """The decrypted area (payload ‖ extension secret) of a request, or ``None``."""
        nks = req[0x27]
        from ...formats.keyslot import parse_key_slots

        slots = parse_key_slots(req, KEY_SLOTS_OFFSET, nks)
        customer = req[ASRCB_BODY.offset("customer_public_key"):KEY_SLOTS_OFFSET]
        iv = req[0x10:0x1C]
        for key in self._request_keys():
            try:
                protection_key = open_key_slot(slots, customer, key, "The request")
                return crypto.gcm_open(protection_key, iv, req[:aad_size], req[aad_size:])
            except SecexError:
                continue
        return None

    def attestation_key(self, arcb: bytes) -> ec.EllipticCurvePrivateKey | None:
        """The host key that opens ``arcb`` (the attestation PHKH's key), or ``None``."""
        for key in self._request_keys():
            try:
                open_arcb_with_host_key(arcb, key)
            except (SecexError, ValueError):
                continue
            return key
        return None

    def stored_payload(self, secret_type: int, payload: bytes) -> bytes:
        """What Retrieve returns for a secret: key types get the stand-in pattern appended."""
        if secret_type in _KEY_SIZES and self.profile.protected_keys == "stand-in":
            return payload + self.verification_pattern
        return payload

    def keys_all_text(self, lines: int = 15) -> str:
        """``/sys/firmware/uv/keys/all``: one hex hash per line, current, backup, zeros."""
        hashes = [*self.host_key_hashes, *[bytes(32)] * lines][:lines]
        return "".join(h.hex() + "\n" for h in hashes)


def _read_header(source: bytes | bytearray | BinaryIO | SeHeader) -> SeHeader:
    if isinstance(source, SeHeader):
        return source
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        if data[:8] == b"IBMSecEx":
            return parse_se_header(data)
        source = io.BytesIO(data)
    try:
        return read_se_header(source)
    except FormatError as exc:
        raise FormatError(f"Cannot boot: {exc}", *exc.details) from None
