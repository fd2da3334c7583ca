"""(No tests here.) Building blocks for software-ultravisor tests: host keys, SE headers and
add-secret requests made with secexkit's own builders for a generated machine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from secexkit.addsecret.request import AddSecretRequest, extension_secret_from_cck
from secexkit.addsecret.secrets import GuestSecret, association_secret, meta_secret
from secexkit.formats.request import FLAG_DISABLE_DUMP
from secexkit.formats.se_header import PCF_ALLOW_DUMPING, BootHdrTags, parse_se_header
from secexkit.hostkeys import HostKey
from secexkit.image.header import ComponentDigests, HeaderKeys, HeaderSecrets, build_se_header
from secexkit.secret import SecretBytes

__all__ = ["FLAG_DISABLE_DUMP", "PCF_ALLOW_DUMPING", "Image", "host_key", "make_image"]


def host_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP521R1())


def public(key: ec.EllipticCurvePrivateKey) -> HostKey:
    return HostKey(key.public_key(), "generated host key")


@dataclass
class Image:
    """An SE header for some host keys, and what a request builder needs to know about it."""

    header: bytes
    cck: bytes
    scf: int
    pcf: int
    hosts: list[ec.EllipticCurvePrivateKey] = field(default_factory=list)

    @property
    def tags(self) -> BootHdrTags:
        return parse_se_header(self.header).boot_tags

    def request(self, secret: GuestSecret | None = None, *, flags: int = 0, cuid: bytes | None = None,
                ext: bytes | None = None, derived: bool = False,
                hosts: list[ec.EllipticCurvePrivateKey] | None = None,
                tags: BootHdrTags | None = None) -> bytes:
        """An add-secret request for this image (meta secret unless one is given)."""
        extension: SecretBytes | None = SecretBytes(ext) if ext is not None else None
        if derived:
            extension = extension_secret_from_cck(SecretBytes(self.cck), self.tags)
        req = AddSecretRequest(secret or meta_secret(), tags or self.tags, flags, cuid, extension)
        return req.build([public(k) for k in (hosts or self.hosts)])

    def association(self, name: str = "assoc", **kwargs: object) -> bytes:
        return self.request(association_secret(name), **kwargs)  # type: ignore[arg-type]


def make_image(*hosts: ec.EllipticCurvePrivateKey, pcf: int = 0, scf: int = 0,
               cck: bytes | None = None, seed: bytes | None = None) -> Image:
    """An SE header (random digests) for ``hosts`` with the given flags."""
    cck = cck or os.urandom(32)
    seed = seed or os.urandom(8)
    header = build_se_header(
        host_keys=[public(k) for k in hosts],
        keys=HeaderKeys.generate(),
        secrets=HeaderSecrets(SecretBytes(cck), SecretBytes(os.urandom(64)), psw_mask=0x180000000,
                              psw_address=0x10000, scf=scf),
        digests=ComponentDigests(pld=seed * 8, ald=os.urandom(64), tld=os.urandom(64), page_count=3),
        pcf=pcf,
    )
    return Image(header, cck, scf, pcf, list(hosts))
