"""The software ultravisor behind UvDevice: SECEXKIT_UV switches UvDevice.open, the attestation
ioctl as ``pvattest perform`` drives it, and the driver's own checks."""

from __future__ import annotations

import ctypes
import errno
from pathlib import Path

import pytest

from secexkit.attest.measurement import verify_response
from secexkit.attest.perform import pack_attest_argument, response_from_device
from secexkit.attest.request import add_data_flags, create_attestation_request
from secexkit.errors import DeviceIoError, UltravisorError
from secexkit.formats.attestation import parse_additional_data
from secexkit.hostkeys import HostKey
from secexkit.uv import device
from secexkit.uv.device import UvDevice, UvIoctl, list_secrets, simulated_keys_all
from secexkit.uv.softuv import Machine
from secexkit.uv.softuv.kernel import SimulatedDevice
from secexkit.uv.softuv.state import StateError, create_state, open_state
from tests.support.softuv import host_key, make_image


def _attest_through_ioctl(uv: UvDevice, arcb: bytes, flags: int, user: bytes, add_size: int
                          ) -> tuple[bytes, bytes, bytes]:
    from secexkit.formats.attestation import ExchangeRequest

    request = ExchangeRequest(arcb, 64, add_size)
    arcb_buf = ctypes.create_string_buffer(arcb, len(arcb))
    meas_buf = ctypes.create_string_buffer(64)
    add_buf = ctypes.create_string_buffer(max(add_size, 1))
    argument = pack_attest_argument(
        request, user, arcb_address=ctypes.addressof(arcb_buf),
        measurement_address=ctypes.addressof(meas_buf),
        additional_address=ctypes.addressof(add_buf) if add_size else 0)
    uv.call(UvIoctl.ATTESTATION, argument)
    response = response_from_device(request, user, argument, meas_buf.raw, add_buf.raw[:add_size])
    return response.measurement, response.additional or b"", response.cuid


def test_attestation_ioctl_round_trip() -> None:
    key = host_key()
    image = make_image(key)
    guest = Machine([key]).boot(image.header)
    guest.add_secret(image.association())
    flags = add_data_flags(["phkh-img", "secret-store-hash"])
    request = create_attestation_request([HostKey(key.public_key())], flags)
    with UvDevice(99, "model", SimulatedDevice(guest).ioctl) as uv:
        measurement, additional, cuid = _attest_through_ioctl(
            uv, request.arcb, request.flags, b"nonce-like user data", request.expected_additional_size)
        assert cuid == guest.cuid
        fields = parse_additional_data(additional, request.flags)
        assert fields.secret_store_hash == guest.secret_store_hash()
        from secexkit.formats.attestation import ExchangeResponse

        verify_response(ExchangeResponse(request.arcb, measurement, additional,
                                         b"nonce-like user data", cuid), image.tags, request.arpk)
        other = create_attestation_request([HostKey(host_key().public_key())])
        with pytest.raises(UltravisorError, match="Unable to decrypt attestation request"):
            _attest_through_ioctl(uv, other.arcb, other.flags, b"", 0)
        with pytest.raises(DeviceIoError) as info:
            uv.call(UvIoctl.ATTESTATION, bytearray(0x100))
        assert info.value.errno == errno.EINVAL
        uv._fd = -1


def test_open_switches_on_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    key = host_key()
    image = make_image(key)
    folder = str(tmp_path / "m")
    create_state(folder, [key])
    with open_state(folder) as state:
        state.machine.boot(image.header)
        state.current_guest = "guest"
        state.save()
    monkeypatch.setenv("SECEXKIT_UV", folder)
    monkeypatch.setattr(device, "_announced", set())
    with UvDevice.open(machine="x86_64") as uv:  # no s390x, no /dev/uv needed
        assert list_secrets(uv).total == 0
        with pytest.raises(StateError, match="is busy"):  # the device holds the state lock
            open_state(folder, timeout=0.05)
    with UvDevice.open(machine="x86_64") as uv:
        device.add_secret(uv, image.association())
    with open_state(folder) as state:
        assert len(state.guest().store) == 1
    warnings = [r.getMessage() for r in caplog.records if "software ultravisor" in r.getMessage()]
    assert warnings == [f"Using the software ultravisor in '{folder}' (SECEXKIT_UV is set): this is "
                        "NOT an IBM Secure Execution guest"]
    keys_all = simulated_keys_all()
    assert keys_all is not None
    lines = Path(keys_all).read_text().splitlines()
    assert len(lines) == 15 and lines[0] == HostKey(key.public_key()).hash.hex()
    assert set(lines[1:]) == {"00" * 32}
    # an injected ioctl (the fake-device tests) wins over the variable
    calls: list[int] = []

    def fake(fd: int, request: int, control: bytearray) -> int:
        calls.append(request)
        control[4:6] = b"\x00\x01"
        return 0

    with pytest.raises(Exception, match="s390x"):
        UvDevice.open(ioctl=fake, machine="x86_64")
    monkeypatch.delenv("SECEXKIT_UV")
    assert simulated_keys_all() is None
    with pytest.raises(Exception, match="s390x"):
        UvDevice.open(machine="x86_64")
