"""DeviceIoError belongs to the library's error tree (one import path, one base class)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import secexkit.errors
from secexkit.errors import DeviceIoError, SecexError
from secexkit.formats import uvio
from secexkit.uv import device


def test_one_class_reexported() -> None:
    assert device.DeviceIoError is DeviceIoError
    assert issubclass(DeviceIoError, SecexError)
    assert "DeviceIoError" in secexkit.errors.__all__


def test_failed_ioctl_is_a_secex_error_with_errno(tmp_path: Path) -> None:
    path = tmp_path / "uv"
    path.write_bytes(b"")

    def failing(fd: int, request: int, control: bytearray) -> int:
        raise OSError(errno.EIO, "Input/output error")

    with device.UvDevice.open(str(path), ioctl=failing, machine="s390x") as dev, \
            pytest.raises(SecexError) as caught:
        dev.call(uvio.UvIoctl.LOCK_SECRETS)
    assert isinstance(caught.value, DeviceIoError)
    assert caught.value.errno == errno.EIO
    assert str(caught.value) == f"The lock secrets ioctl on {path} failed: Input/output error"


def test_device_layer_uses_the_wire_tables() -> None:
    # the control block and argument layouts are the formats/ tables, not copies
    assert device.IOCTL_CB is uvio.IOCTL_CB
    assert device.DEVICE_INFO is uvio.DEVICE_INFO
    assert device.RETRIEVE_ARGUMENT is uvio.RETRIEVE_ARGUMENT
    assert device.ioctl_request is uvio.ioctl_request
