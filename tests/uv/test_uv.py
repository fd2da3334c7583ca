"""The /dev/uv ioctl layer against a fake ultravisor (spec §16)."""

from __future__ import annotations

import errno
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from secexkit.addsecret.request import AddSecretRequest
from secexkit.addsecret.retrievable import retrievable_secret
from secexkit.addsecret.secrets import association_secret, meta_secret, update_cck_secret
from secexkit.errors import FormatError, InputError, NotAvailableError, UltravisorError
from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey
from secexkit.uv.device import (
    IOCTL_CB,
    DeviceIoError,
    UvDevice,
    UvIoctl,
    add_secret,
    device_info,
    ioctl_request,
    is_se_guest,
    list_secrets,
    lock_secret_store,
    rc_message,
    retrieve_secret,
    secret_id_of_request,
)
from tests.support.fake_uv import FakeUltravisor

TAGS = BootHdrTags(b"\x01" * 64, b"\x02" * 64, b"\x03" * 64, b"\x04" * 16)


@pytest.fixture(scope="module")
def host_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP521R1())


@pytest.fixture
def fake(host_key: ec.EllipticCurvePrivateKey) -> FakeUltravisor:
    return FakeUltravisor(host_key=host_key)


@pytest.fixture
def device(tmp_path: Path, fake: FakeUltravisor) -> Iterator[UvDevice]:
    path = tmp_path / "uv"
    path.write_bytes(b"")
    with UvDevice.open(str(path), ioctl=fake.ioctl, machine="s390x") as dev:
        yield dev


def _request(secret: object, host: ec.EllipticCurvePrivateKey) -> bytes:
    return AddSecretRequest(secret, TAGS).build([HostKey(host.public_key())])  # type: ignore[arg-type]


def test_ioctl_numbers_and_layout() -> None:
    assert IOCTL_CB.size == 0x40
    assert [ioctl_request(n) for n in UvIoctl] == [0xC0407500 + n for n in range(6)]


def test_not_available_off_s390x(tmp_path: Path) -> None:
    with pytest.raises(NotAvailableError) as err:
        UvDevice.open(str(tmp_path / "uv"), what="pvsecret list", machine="x86_64")
    assert str(err.value).startswith(
        "pvsecret list needs an s390x Secure Execution guest (/dev/uv)")
    assert "x86_64" in str(err.value)
    with pytest.raises(NotAvailableError, match="does not exist"):
        UvDevice.open(str(tmp_path / "missing"), machine="s390x")


def test_default_machine_is_this_one() -> None:
    import platform

    if platform.machine() == "s390x":
        pytest.skip("running on s390x")
    with pytest.raises(NotAvailableError, match="needs an s390x Secure Execution guest"):
        UvDevice.open()


def test_info(device: UvDevice, fake: FakeUltravisor) -> None:
    info = device_info(device)
    assert info.supp_uvio_cmds == 0x3F and info.supp_uv_cmds == 0x3E
    assert info.supports(UvIoctl.INFO) and info.supports(UvIoctl.RETRIEVE_SECRET)
    fake.info = (0x3F, 0x0E)
    assert not device_info(device).supports(UvIoctl.LOCK_SECRETS)
    fake.info = None  # old driver: ENOTTY
    old = device_info(device)
    assert old.supports(UvIoctl.ATTESTATION) and not old.supports(UvIoctl.ADD_SECRET)


def test_add_list_retrieve(device: UvDevice, fake: FakeUltravisor,
                           host_key: ec.EllipticCurvePrivateKey) -> None:
    secret = retrievable_secret("my aes", "aes", b"\x33" * 32)
    add_secret(device, _request(secret, host_key))
    add_secret(device, _request(meta_secret(), host_key))
    add_secret(device, _request(association_secret("assoc", b"\x44" * 32), host_key))
    lst = list_secrets(device)
    assert lst.total == 2
    assert [(e.index, e.secret_type, e.length) for e in lst] == [(0, 6, 32), (1, 2, 32)]
    assert lst.entries[0].secret_id == hashlib.sha256(b"my aes").digest()
    assert retrieve_secret(device, lst.entries[0]).reveal() == b"\x33" * 32
    with pytest.raises(UltravisorError) as err:
        retrieve_secret(device, lst.entries[1])
    assert str(err.value) == "Ultravisor: 'the secret is not retrievable' (0x0111,0x0000)"
    # every call went through the control block with a buffer of the right size
    assert (UvIoctl.LIST_SECRETS, 0x4000) in fake.calls
    assert (UvIoctl.RETRIEVE_SECRET, 32) in fake.calls


def test_duplicate_ids(device: UvDevice, fake: FakeUltravisor,
                       host_key: ec.EllipticCurvePrivateKey,
                       caplog: pytest.LogCaptureFixture) -> None:
    request = _request(retrievable_secret("dup", "plain", b"x"), host_key)
    add_secret(device, request)
    with pytest.raises(InputError, match="Unable to add the secret due to duplicated IDs"):
        add_secret(device, request)
    assert len(fake.secrets) == 1
    with caplog.at_level(logging.WARNING):
        add_secret(device, request, force=True)
    assert len(fake.secrets) == 2
    assert "'--force' specified" in caplog.text
    # meta and update-cck requests have no ID: never a duplicate
    cck = _request(update_cck_secret(b"\x01" * 32), host_key)
    assert secret_id_of_request(cck) is None
    add_secret(device, cck)
    add_secret(device, cck)


def test_secret_id_of_request(host_key: ec.EllipticCurvePrivateKey) -> None:
    secret = association_secret("n", b"\x01" * 32)
    assert secret_id_of_request(_request(secret, host_key)) == secret.secret_id
    assert secret_id_of_request(_request(meta_secret(), host_key)) is None
    assert secret_id_of_request(b"asrcbM\0\0garbage") is None


def test_add_checks(device: UvDevice) -> None:
    with pytest.raises(FormatError, match="Input does not contain an add-secret request"):
        add_secret(device, b"IBMSecEx")
    with pytest.raises(FormatError, match="does not contain"):
        add_secret(device, b"")
    with pytest.raises(InputError, match="larger than the ultravisor accepts"):
        add_secret(device, b"asrcbM" + bytes(0x100000))


def test_locked_store(device: UvDevice, fake: FakeUltravisor,
                      host_key: ec.EllipticCurvePrivateKey) -> None:
    lock_secret_store(device)
    assert fake.locked and fake.calls[-1] == (UvIoctl.LOCK_SECRETS, 0)
    with pytest.raises(UltravisorError) as err:
        lock_secret_store(device)
    assert str(err.value) == "Ultravisor: 'secret store already locked' (0x0102,0x0000)"
    with pytest.raises(UltravisorError) as err:
        add_secret(device, _request(meta_secret(), host_key))
    assert str(err.value) == "Ultravisor: 'secret store locked' (0x0102,0x0000)"
    assert err.value.rc == 0x102


def test_list_fallback_to_one_page(device: UvDevice, fake: FakeUltravisor,
                                   caplog: pytest.LogCaptureFixture) -> None:
    fake.max_list_bytes = 0x1000
    for i in range(100):
        fake.store(3, i.to_bytes(32, "big"), bytes(16))
    with caplog.at_level(logging.INFO):
        lst = list_secrets(device)
    assert [c for c in fake.calls if c[0] == UvIoctl.LIST_SECRETS] == [(3, 0x4000), (3, 0x1000)]
    assert "Fallback to one page list" in caplog.text
    # one page holds 84 entries: the rest is "more data"
    assert len(lst) == (0x1000 - 16) // 48 and lst.total == 100
    assert "cannot show all" in caplog.text


def test_other_ioctl_errors(device: UvDevice, fake: FakeUltravisor) -> None:
    def failing(fd: int, request: int, control: bytearray) -> int:
        raise OSError(errno.EACCES, "Permission denied")

    device._ioctl = failing
    with pytest.raises(DeviceIoError) as err:
        list_secrets(device)
    assert err.value.errno == errno.EACCES
    assert "list secrets ioctl" in str(err.value)


@pytest.mark.parametrize(
    ("command", "rc", "text"),
    [
        (UvIoctl.ADD_SECRET, 0x0108, "unable to decrypt the request"),
        (UvIoctl.ADD_SECRET, 0x010D, "dump in progress, try again later"),
        (UvIoctl.RETRIEVE_SECRET, 0x0009, "the allocated buffer is to small to store the secret"),
        (UvIoctl.LIST_SECRETS, 0x0005, "request has an invalid size"),
        (UvIoctl.LIST_SECRETS, 0x0101, "unexpected error-code"),
        (UvIoctl.LOCK_SECRETS, 0x0031, "address translation exception. This may be due to a "
         "corrupted host or a guest kernel bug. STOP using this guest"),
    ],
)
def test_rc_messages(command: UvIoctl, rc: int, text: str) -> None:
    assert rc_message(command, rc) == text


def test_forced_rc_reaches_the_user(device: UvDevice, fake: FakeUltravisor) -> None:
    fake.forced_rc[UvIoctl.LIST_SECRETS] = (0x0002, 0x0007)
    with pytest.raises(UltravisorError) as err:
        list_secrets(device)
    assert str(err.value) == "Ultravisor: 'invalid UV command' (0x0002,0x0007)"


def test_retrieve_too_large(device: UvDevice) -> None:
    from secexkit.formats.secret_list import SecretEntry

    with pytest.raises(InputError, match="too large"):
        retrieve_secret(device, SecretEntry(0, 3, 0x2001, bytes(32)))


def test_closed_device(tmp_path: Path, fake: FakeUltravisor) -> None:
    path = tmp_path / "uv"
    path.write_bytes(b"")
    dev = UvDevice.open(str(path), ioctl=fake.ioctl, machine="s390x")
    dev.close()
    with pytest.raises(ValueError):
        list_secrets(dev)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"1\n", True), (b"1", True), (b"0\n", False), (b"", False), (b"10", True),
     (b"x", False)],
)
def test_se_guest_detection(tmp_path: Path, content: bytes, expected: bool) -> None:
    flag = tmp_path / "prot_virt_guest"
    flag.write_bytes(content)
    assert is_se_guest(str(flag), machine="s390x") is expected
    assert is_se_guest(str(flag), machine="x86_64") is False


def test_se_guest_missing_file(tmp_path: Path) -> None:
    assert is_se_guest(str(tmp_path / "nope"), machine="s390x") is False


# --- the control block and argument buffers, byte by byte (not through our Layouts) ---------


def test_control_block_bytes_as_the_kernel_reads_them(tmp_path: Path) -> None:
    """``struct uvio_ioctl_cb``: u32 flags, u16 rc, u16 rrc, u64 address, u32 length, 44 zero."""
    import ctypes
    import struct

    seen: list[tuple[int, bytes, bytes]] = []

    def ioctl(fd: int, request: int, control: bytearray) -> int:
        flags, rc, rrc, addr, length = struct.unpack(">IHHQI", control[:20])
        assert (flags, rc, rrc) == (0, 0, 0) and control[20:] == bytes(44)
        argument = ctypes.string_at(addr, length) if length else b""
        seen.append((request, bytes(control[:20]), argument))
        if length:
            ctypes.memmove(addr, b"\xab" * length, length)
        control[4:8] = struct.pack(">HH", 0x0001, 0x1234)
        return 0

    path = tmp_path / "uv"
    path.write_bytes(b"")
    with UvDevice.open(str(path), ioctl=ioctl, machine="s390x") as dev:
        argument = bytearray(b"\x01\x02\x03")
        assert dev.call(UvIoctl.ADD_SECRET, argument) == 1
        assert argument == b"\xab" * 3  # written back in place
        assert dev.call(UvIoctl.LOCK_SECRETS) == 1
        from secexkit.formats.secret_list import SecretEntry

        secret = retrieve_secret(dev, SecretEntry(0x0102, 4, 16, bytes(32)))
        assert secret.reveal() == b"\xab" * 16
    (add_req, add_cb, add_arg), (lock_req, lock_cb, lock_arg), (retr_req, _, retr_arg) = seen
    assert add_req == 0xC0407502 and add_arg == b"\x01\x02\x03"
    assert struct.unpack(">I", add_cb[16:20]) == (3,) and add_cb[8:16] != bytes(8)
    assert lock_req == 0xC0407504 and lock_cb[8:20] == bytes(12) and lock_arg == b""
    # the retrieve buffer: entry length bytes, the index (u16 BE) in the first two
    assert retr_req == 0xC0407505 and retr_arg == b"\x01\x02" + bytes(14)


def test_retrieve_buffer_is_at_least_two_bytes(device: UvDevice, fake: FakeUltravisor) -> None:
    entry = fake.store(3, b"z" * 32, b"\x07")  # 1-byte secret: the index still fits
    assert retrieve_secret(device, entry).reveal() == b"\x07"
    assert fake.calls[-1] == (UvIoctl.RETRIEVE_SECRET, 2)


@settings(max_examples=200, deadline=None)
@given(rc=st.integers(0, 0xFFFF), rrc=st.integers(0, 0xFFFF),
       command=st.sampled_from(list(UvIoctl)))
def test_every_return_code(tmp_path_factory: pytest.TempPathFactory, rc: int, rrc: int,
                           command: UvIoctl) -> None:
    def ioctl(fd: int, request: int, control: bytearray) -> int:
        control[4:8] = rc.to_bytes(2, "big") + rrc.to_bytes(2, "big")
        return 0

    path = tmp_path_factory.mktemp("rc") / "uv"
    path.write_bytes(b"")
    with UvDevice.open(str(path), ioctl=ioctl, machine="s390x") as dev:
        if rc in (0x0001, 0x0100):
            assert dev.call(command, bytearray(4)) == rc
            return
        with pytest.raises(UltravisorError) as err:
            dev.call(command, bytearray(4))
    assert str(err.value) == f"Ultravisor: '{rc_message(command, rc)}' ({rc:#06x},{rrc:#06x})"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=0x200))
def test_arbitrary_list_buffers(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """Whatever the device writes into the list buffer ends in a list or a FormatError."""
    import ctypes

    def ioctl(fd: int, request: int, control: bytearray) -> int:
        addr = int.from_bytes(control[8:16], "big")
        length = int.from_bytes(control[16:20], "big")
        ctypes.memmove(addr, data[:length], min(len(data), length))
        control[4:6] = b"\x00\x01"
        return 0

    path = tmp_path_factory.mktemp("list") / "uv"
    path.write_bytes(b"")
    with UvDevice.open(str(path), ioctl=ioctl, machine="s390x") as dev:
        try:
            secrets = list_secrets(dev)
        except FormatError:
            return
    assert len(secrets) == int.from_bytes(data[:2].ljust(2, b"\0"), "big")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500))
def test_add_arbitrary_requests(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """The duplicate-ID check parses whatever it gets: a result or our error, nothing else."""
    from secexkit.errors import SecexError

    fake = FakeUltravisor()
    path = tmp_path_factory.mktemp("add") / "uv"
    path.write_bytes(b"")
    for candidate in (data, b"asrcbM" + data):
        secret_id = secret_id_of_request(candidate)
        assert secret_id is None or len(secret_id) == 32
        with UvDevice.open(str(path), ioctl=fake.ioctl, machine="s390x") as dev:
            try:
                add_secret(dev, candidate)
            except SecexError:
                continue
        assert candidate.startswith(b"asrcbM")
