"""One host-key count check for requests and SE headers (same error class, own limits)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from secexkit.addsecret import request as addsecret_request
from secexkit.crypto import keyslots
from secexkit.errors import InputError
from secexkit.formats.request import MAX_HOST_KEYS
from secexkit.formats.se_header import MAX_SE_HEADER_KEY_SLOTS
from secexkit.image import header as image_header


def test_one_function() -> None:
    assert addsecret_request.check_host_key_count is keyslots.check_host_key_count
    # the SE header binds the same function to its own limit; no second implementation
    assert getattr(image_header, "check_host_key_count", None) in (
        None, keyslots.check_host_key_count)


@pytest.mark.parametrize(("check", "limit"), [
    (keyslots.check_host_key_count, MAX_HOST_KEYS),
    (image_header.check_header_host_key_count, MAX_SE_HEADER_KEY_SLOTS),
])
def test_limits_and_error_class(check: Callable[[int], None], limit: int) -> None:
    check(1)
    check(limit)
    with pytest.raises(InputError, match="No host-key provided"):
        check(0)
    with pytest.raises(InputError, match=f"{limit + 1} > {limit}"):
        check(limit + 1)


def test_request_builder_refuses_before_any_work() -> None:
    from secexkit.addsecret.secrets import meta_secret
    from secexkit.formats.se_header import BootHdrTags

    request = addsecret_request.AddSecretRequest(
        meta_secret(), BootHdrTags(bytes(64), bytes(64), bytes(64), bytes(16)))
    with pytest.raises(InputError, match="No host-key provided"):
        request.build([])
