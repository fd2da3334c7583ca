"""The software ultravisor's checks (ultravisor.md §8.3): every secret type, the order of the
checks, bit flips and truncations, paging, profiles, update-CCK, backup keys, dumps."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from secexkit.addsecret.request import extension_secret_from_cck
from secexkit.addsecret.retrievable import retrievable_secret
from secexkit.addsecret.secrets import GuestSecret, association_secret, update_cck_secret
from secexkit.attest.request import create_attestation_request
from secexkit.errors import CryptoError, DeviceIoError, UltravisorError
from secexkit.formats.request import SecretType
from secexkit.formats.retrievable import frame_plaintext
from secexkit.formats.se_header import PCF_BACKUP_TARGET_KEYS, SCF_CCK_EXTENSION_SECRET, SCF_CCK_UPDATE
from secexkit.formats.secret_list import parse_secret_list
from secexkit.formats.uvio import UvIoctl
from secexkit.hostkeys import HostKey
from secexkit.secret import SecretBytes
from secexkit.uv.device import UvDevice, device_info, list_secrets, lock_secret_store
from secexkit.uv.softuv import Machine, Profile
from secexkit.uv.softuv.kernel import SimulatedDevice
from secexkit.uv.softuv.machine import dump_key
from tests.support.softuv import FLAG_DISABLE_DUMP, PCF_ALLOW_DUMPING, Image, host_key, make_image, public


def rc_of(call: Callable[..., object], *args: object) -> int:
    with pytest.raises(UltravisorError) as info:
        call(*args)
    return info.value.rc


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return host_key()


@pytest.fixture
def image(key: ec.EllipticCurvePrivateKey) -> Image:
    return make_image(key)


def _ec_pem(curve: ec.EllipticCurve | str) -> bytes:
    k: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    if curve == "ed25519":
        k = ed25519.Ed25519PrivateKey.generate()
    elif curve == "ed448":
        k = ed448.Ed448PrivateKey.generate()
    else:
        assert isinstance(curve, ec.EllipticCurve)
        k = ec.generate_private_key(curve)
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def _retrievables() -> list[tuple[str, str, bytes, int]]:
    return [
        ("plain-empty", "plain", b"", SecretType.PLAINTEXT),
        ("plain", "plain", b"a secret passphrase", SecretType.PLAINTEXT),
        ("plain-max", "plain", b"\x7f" * 8190, SecretType.PLAINTEXT),
        ("aes128", "aes", b"\x01" * 16, SecretType.AES_128),
        ("aes192", "aes", b"\x02" * 24, SecretType.AES_192),
        ("aes256", "aes", b"\x03" * 32, SecretType.AES_256),
        ("xts128", "aes-xts", b"\x04" * 32, SecretType.AES_XTS_128),
        ("xts256", "aes-xts", b"\x05" * 64, SecretType.AES_XTS_256),
        ("hmac256", "hmac-sha", b"\x06" * 64, SecretType.HMAC_SHA_256),
        ("hmac512", "hmac-sha", b"\x07" * 128, SecretType.HMAC_SHA_512),
        ("p256", "ec", _ec_pem(ec.SECP256R1()), SecretType.EC_SECP256R1),
        ("p384", "ec", _ec_pem(ec.SECP384R1()), SecretType.EC_SECP384R1),
        ("p521", "ec", _ec_pem(ec.SECP521R1()), SecretType.EC_SECP521R1),
        ("ed25519", "ec", _ec_pem("ed25519"), SecretType.EC_ED25519),
        ("ed448", "ec", _ec_pem("ed448"), SecretType.EC_ED448),
    ]


@pytest.mark.parametrize("protected_keys", ["stand-in", "clear"])
def test_every_secret_type_is_accepted_listed_and_retrieved(
    key: ec.EllipticCurvePrivateKey, image: Image, protected_keys: str
) -> None:
    machine = Machine([key], Profile(protected_keys=protected_keys))
    guest = machine.boot(image.header)
    guest.add_secret(image.request())  # meta
    guest.add_secret(image.association("assoc", ext=bytes(32)))
    made = [retrievable_secret(name, kind, data) for name, kind, data, _ in _retrievables()]
    for secret in made:
        guest.add_secret(image.request(secret))
    entries = guest.entries()
    assert [e.secret_type for e in entries] == [2, *(t for *_, t in _retrievables())]
    assert [e.index for e in entries] == list(range(len(entries)))
    assert entries[0].secret_id == association_secret("assoc").secret_id
    for entry, secret in zip(entries[1:], made, strict=True):
        assert entry.secret_id == secret.secret_id
        clear = secret.payload.reveal()
        got = guest.retrieve(entry.index, entry.length).reveal()
        if secret.secret_type == SecretType.PLAINTEXT or protected_keys == "clear":
            assert got == clear and entry.length == len(clear)
        else:  # a stand-in protected key: the clear key and the machine's 32-byte pattern
            assert got == clear + machine.verification_pattern and entry.length == len(clear) + 32
    assert len(guest.add_tags) == 2 + len(made)


def test_plaintext_frame_comes_back_byte_identical(key: ec.EllipticCurvePrivateKey, image: Image) -> None:
    guest = Machine([key]).boot(image.header)
    guest.add_secret(image.request(retrievable_secret("p", "plain", b"\x00\xffdata")))
    assert guest.retrieve(0).reveal() == frame_plaintext(b"\x00\xffdata")
    with pytest.raises(UltravisorError) as info:
        guest.retrieve(0, 15)
    assert info.value.rc == 0x0109


def test_a_flipped_bit_anywhere_is_refused(key: ec.EllipticCurvePrivateKey, image: Image) -> None:
    guest = Machine([key]).boot(image.header)
    request = image.request(retrievable_secret("p", "plain", b"payload"))
    codes = set()
    for position in range(len(request)):
        flipped = bytearray(request)
        flipped[position] ^= 1 << (position % 8)
        codes.add(rc_of(guest.add_secret, bytes(flipped)))
    assert guest.store == [] and guest.add_tags == [] and guest.ext_secret is None
    assert codes <= {0x0104, 0x0105, 0x0106, 0x0107, 0x0108}
    guest.add_secret(request)
    assert len(guest.store) == 1


def test_truncated_requests_are_refused(key: ec.EllipticCurvePrivateKey, image: Image) -> None:
    guest = Machine([key]).boot(image.header)
    request = image.association()
    for size in [*range(0, 0x40), *range(0x40, len(request), 37), len(request) - 1]:
        assert rc_of(guest.add_secret, request[:size]) == 0x0105, size
    assert rc_of(guest.add_secret, request + b"\0") == 0x0105
    assert guest.store == []


def test_checks_run_in_the_documented_order(key: ec.EllipticCurvePrivateKey) -> None:
    other = host_key()
    image = make_image(key)
    elsewhere = make_image(key)
    machine = Machine([key], Profile(max_assoc_secrets=1))
    guest = machine.boot(image.header)
    version = bytearray(image.association())
    version[0x0B] = 0x01
    assert rc_of(guest.add_secret, bytes(version)) == 0x0104
    nks_only = bytearray(image.association())
    nks_only[0x27] = 0
    assert rc_of(guest.add_secret, bytes(nks_only)) == 0x0106
    # unsupported flags before the host key
    assert rc_of(guest.add_secret, image.request(flags=1, hosts=[other])) == 0x0107
    # the key before the type: a z16 refuses retrievable secrets only after decrypting
    z16 = Machine([key], Profile.z16()).boot(image.header)
    plain = retrievable_secret("p", "plain", b"x")
    assert rc_of(z16.add_secret, image.request(plain, hosts=[other])) == 0x0108
    assert rc_of(z16.add_secret, elsewhere.request(plain)) == 0x0109
    # the length for the type before the image binding
    bad_length = GuestSecret(SecretType.AES_128, SecretBytes(b"\0" * 17), b"\1" * 32, "bad")
    assert rc_of(guest.add_secret, elsewhere.request(bad_length)) == 0x010A
    # a full store is reported only for requests that are otherwise acceptable
    guest.add_secret(image.association("one"))
    assert rc_of(guest.add_secret, image.association("two", ext=b"\1" * 32)) == 0x010C
    assert rc_of(guest.add_secret, image.association("two")) == 0x010B
    # locked before everything about the request; a dump before the lock
    guest.lock()
    assert rc_of(guest.add_secret, b"") == 0x0102
    dumpable = Machine([key]).boot(make_image(key, pcf=PCF_ALLOW_DUMPING).header)
    dumpable.dump_init()
    dumpable.lock()  # allowed during a dump (modelling default)
    assert rc_of(dumpable.add_secret, b"") == 0x010D


def test_extension_secret_enforced_by_scf(key: ec.EllipticCurvePrivateKey) -> None:
    image = make_image(key, scf=SCF_CCK_EXTENSION_SECRET)
    guest = Machine([key]).boot(image.header)
    assert rc_of(guest.add_secret, image.association("zero")) == 0x010C
    guest.add_secret(image.association("derived", derived=True))
    guest.add_secret(image.request(flags=FLAG_DISABLE_DUMP, derived=True))
    assert len(guest.add_tags) == 2


def test_update_cck(key: ec.EllipticCurvePrivateKey) -> None:
    fixed = make_image(key)
    guest = Machine([key]).boot(fixed.header)
    assert rc_of(guest.add_secret, fixed.request(update_cck_secret(b"\x42" * 32))) == 0x010C
    image = make_image(key, scf=SCF_CCK_UPDATE, pcf=PCF_ALLOW_DUMPING)
    guest = Machine([key]).boot(image.header)
    guest.add_secret(image.request(update_cck_secret(b"\x42" * 32)))
    assert guest.entries() == [] and guest.cck == SecretBytes(b"\x42" * 32)
    guest.dump_init()
    seed, dkey = guest.dump_complete(b"\x07" * 64)
    assert dkey == dump_key(SecretBytes(b"\x42" * 32), seed)
    guest.reboot()
    assert guest.cck == SecretBytes(image.cck)


def test_backup_host_key(key: ec.EllipticCurvePrivateKey) -> None:
    backup = host_key()
    machine = Machine([key, backup])
    only_backup = make_image(backup)
    with pytest.raises(CryptoError, match="backup host key, but PCF bit 62"):
        machine.boot(only_backup.header)
    image = make_image(backup, key, pcf=PCF_BACKUP_TARGET_KEYS)
    guest = machine.boot(image.header)
    assert guest.image_phkh == public(backup).hash
    guest.add_secret(image.association(hosts=[backup]))
    machine.replace_profile(backup_key_requests=False)
    assert rc_of(guest.add_secret, image.association("b", hosts=[backup])) == 0x0108
    with pytest.raises(CryptoError, match="no key slot"):
        Machine([host_key()]).boot(image.header)


def test_z16_profile_has_no_retrieve(key: ec.EllipticCurvePrivateKey, image: Image) -> None:
    guest = Machine([key], Profile.z16()).boot(image.header)
    with pytest.raises(UltravisorError, match="'invalid UV command' \\(0x0002"):
        guest.retrieve(0)
    guest.add_secret(image.association())
    assert [e.secret_type for e in guest.entries()] == [2]


def test_reboot_clears_everything(key: ec.EllipticCurvePrivateKey) -> None:
    image = make_image(key, pcf=PCF_ALLOW_DUMPING)
    guest = Machine([key]).boot(image.header)
    guest.add_secret(image.association(ext=b"\5" * 32, flags=FLAG_DISABLE_DUMP))
    guest.lock()
    guest.reboot()
    assert (guest.store, guest.add_tags, guest.locked, guest.dump_disabled, guest.ext_secret) == \
        ([], [], False, False, None)
    assert guest.dump_status().allowed and guest.boots == 2
    guest.add_secret(image.association(ext=b"\6" * 32))


def test_list_pages_and_the_driver_merge(key: ec.EllipticCurvePrivateKey, image: Image) -> None:
    guest = Machine([key], Profile(max_assoc_secrets=200)).boot(image.header)
    request = image.association("same")  # duplicates are accepted (§3.8)
    for _ in range(100):
        guest.add_secret(request)
    rc, page = guest.list_secrets(0)
    first = parse_secret_list(page)
    assert rc == 0x0100 and len(first) == 85 and first.total == 100 and first.next_index == 85
    rc, page = guest.list_secrets(85)
    assert rc == 0x0001 and [e.index for e in parse_secret_list(page)] == list(range(85, 100))
    device = SimulatedDevice(guest)
    with UvDevice(99, "model", device.ioctl) as uv:
        listed = list_secrets(uv)
        assert len(listed) == 100 and listed.total == 100 and listed.next_index == 0
        one_page = bytearray(4096)
        assert uv.call(UvIoctl.LIST_SECRETS, one_page) == 0x0100
        assert len(parse_secret_list(one_page)) == 85
        with pytest.raises(DeviceIoError) as info:
            uv.call(UvIoctl.LIST_SECRETS, bytearray(100))
        assert info.value.errno == errno.EINVAL
        uv._fd = -1  # nothing to close


def test_driver_info_and_lock(key: ec.EllipticCurvePrivateKey, image: Image) -> None:
    guest = Machine([key], Profile.z16()).boot(image.header)
    with UvDevice(99, "model", SimulatedDevice(guest).ioctl) as uv:
        info = device_info(uv)
        # the driver reports retrieve by the attestation bit (quirk), so a z16 "has" it
        assert info.supports(UvIoctl.RETRIEVE_SECRET) and info.supports(UvIoctl.LOCK_SECRETS)
        with pytest.raises(DeviceIoError):
            uv.call(UvIoctl.LOCK_SECRETS, bytearray(8))
        lock_secret_store(uv)
        with pytest.raises(UltravisorError, match="secret store already locked"):
            lock_secret_store(uv)
        uv._fd = -1


def test_attestation_checks(key: ec.EllipticCurvePrivateKey, image: Image) -> None:
    guest = Machine([key]).boot(image.header)
    arcb = create_attestation_request([HostKey(key.public_key())]).arcb
    assert rc_of(guest.attest, arcb, b"u" * 257) == 0x0102
    assert rc_of(guest.attest, arcb[:-1]) == 0x0107
    assert rc_of(guest.attest, arcb[:0x20]) == 0x0107
    assert rc_of(guest.attest, arcb[:8]) == 0x0106
    bad_version = bytearray(arcb)
    bad_version[0x0B] = 2
    assert rc_of(guest.attest, bytes(bad_version)) == 0x0106
    assert rc_of(guest.attest, arcb, b"", 63) == 0x010D
    flagged = create_attestation_request([HostKey(key.public_key())], 0x7C00000000000000).arcb
    assert rc_of(guest.attest, flagged, b"", 64, 100) == 0x010E
    guest.machine.replace_profile(supp_att_pflags=0x4000000000000000)
    assert rc_of(guest.attest, flagged) == 0x010A
    measurement, additional, cuid = guest.attest(arcb)
    assert len(measurement) == 64 and additional == b"" and cuid == guest.cuid


def test_extension_secret_derivation_matches_builder(key: ec.EllipticCurvePrivateKey) -> None:
    image = make_image(key, scf=SCF_CCK_EXTENSION_SECRET)
    guest = Machine([key]).boot(image.header)
    assert guest.expected_extension_secret() == extension_secret_from_cck(SecretBytes(image.cck),
                                                                          image.tags)
