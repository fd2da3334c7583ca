"""secexkit: IBM Secure Execution for Linux tooling (pvsecret, pvimg, host-key verification).

The public API is re-exported here and loaded on first use, so that importing
``secexkit`` stays cheap for the command-line tools::

    from secexkit import AddSecretRequest, meta_secret, parse_host_key_document, read_se_header
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    CryptoError,
    FetchError,
    FormatError,
    InputError,
    NotAvailableError,
    SecexError,
    UltravisorError,
    UsageError,
    VerificationError,
)

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "AddSecretRequest": "addsecret.request",
    "FLAG_DISABLE_DUMP": "addsecret.request",
    "RequestKeys": "addsecret.request",
    "UserData": "addsecret.request",
    "build_request": "addsecret.request",
    "extension_secret_from_cck": "addsecret.request",
    "open_request": "addsecret.request",
    "parse_request": "formats.request",
    "SecretType": "formats.request",
    "UserDataType": "formats.request",
    "BootHdrTags": "formats.se_header",
    "SeHeader": "formats.se_header",
    "parse_se_header": "formats.se_header",
    "read_se_header": "formats.se_header",
    "GuestSecret": "addsecret.secrets",
    "association_secret": "addsecret.secrets",
    "meta_secret": "addsecret.secrets",
    "update_cck_secret": "addsecret.secrets",
    "retrievable_secret": "addsecret.retrievable",
    "HostKey": "hostkeys",
    "HostKeyDocument": "hostkeys",
    "parse_host_key_document": "hostkeys",
    "SecretBytes": "secret",
    "load_signing_key": "addsecret.user_data",
    "make_user_data": "addsecret.user_data",
    "verify_request_user_data": "addsecret.user_data",
    "establish_trust": "trust.verifier",
    "load_trust_inputs": "trust.sources",
    "verify_host_key_documents": "trust.api",
    "check_host_key_documents": "trust.api",
    "DocumentResult": "trust.api",
    "FetchLimits": "trust.fetch",
    "RequestFlags": "addsecret.request",
    "decode_request_flags": "addsecret.request",
    "ImageFlags": "image.flags",
    "ImageInputs": "image.builder",
    "ImageOptions": "image.builder",
    "ImageResult": "image.builder",
    "create_image": "image.builder",
    "BootLoaders": "image.bootloader",
    "find_boot_loaders": "image.bootloader",
}

__all__ = [
    "FLAG_DISABLE_DUMP",
    "AddSecretRequest",
    "BootHdrTags",
    "BootLoaders",
    "CryptoError",
    "DocumentResult",
    "FetchError",
    "FetchLimits",
    "FormatError",
    "GuestSecret",
    "HostKey",
    "HostKeyDocument",
    "ImageFlags",
    "ImageInputs",
    "ImageOptions",
    "ImageResult",
    "InputError",
    "NotAvailableError",
    "RequestFlags",
    "RequestKeys",
    "SeHeader",
    "SecexError",
    "SecretBytes",
    "SecretType",
    "UltravisorError",
    "UsageError",
    "UserData",
    "UserDataType",
    "VerificationError",
    "__version__",
    "association_secret",
    "build_request",
    "check_host_key_documents",
    "create_image",
    "decode_request_flags",
    "establish_trust",
    "extension_secret_from_cck",
    "find_boot_loaders",
    "load_signing_key",
    "load_trust_inputs",
    "make_user_data",
    "meta_secret",
    "open_request",
    "parse_host_key_document",
    "parse_request",
    "parse_se_header",
    "read_se_header",
    "retrievable_secret",
    "update_cck_secret",
    "verify_host_key_documents",
    "verify_request_user_data",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'secexkit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:
    from .addsecret.request import (
        FLAG_DISABLE_DUMP,
        AddSecretRequest,
        RequestFlags,
        RequestKeys,
        UserData,
        build_request,
        decode_request_flags,
        extension_secret_from_cck,
        open_request,
    )
    from .addsecret.retrievable import retrievable_secret
    from .addsecret.secrets import GuestSecret, association_secret, meta_secret, update_cck_secret
    from .addsecret.user_data import load_signing_key, make_user_data, verify_request_user_data
    from .formats.request import SecretType, UserDataType, parse_request
    from .formats.se_header import BootHdrTags, SeHeader, parse_se_header, read_se_header
    from .hostkeys import HostKey, HostKeyDocument, parse_host_key_document
    from .image.bootloader import BootLoaders, find_boot_loaders
    from .image.builder import ImageInputs, ImageOptions, ImageResult, create_image
    from .image.flags import ImageFlags
    from .secret import SecretBytes
    from .trust.api import DocumentResult, check_host_key_documents, verify_host_key_documents
    from .trust.fetch import FetchLimits
    from .trust.sources import load_trust_inputs
    from .trust.verifier import establish_trust
