"""Fleet plans for tests and bench/bench_fleet.py: a generated PKI on disk (host-key
documents signed by the test IBM Z signing key, local CRLs), input files for every
request type, and plan files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import pki


@dataclass
class World:
    """Files of a fleet: trust inputs, host-key documents, header, secrets."""

    root: Path
    hdr: Path
    certs: list[Path]
    crls: list[Path]
    root_ca: Path
    hosts: list[Path]
    host_keys: list[ec.EllipticCurvePrivateKey]
    revoked: Path
    files: dict[str, Path] = field(default_factory=dict)

    def trust(self) -> dict[str, Any]:
        """The plan's trust section: verification on, local CRLs, offline."""
        return {"cert": [str(p) for p in self.certs], "crl": [str(p) for p in self.crls],
                "root-ca": str(self.root_ca), "offline": True}

    def write_plan(self, guests: list[dict[str, Any]], name: str = "plan.yaml",
                   trust: dict[str, Any] | None = None) -> Path:
        """A version-1 plan with these guests."""
        path = self.root / name
        path.write_text(yaml.safe_dump({"version": 1, "trust": trust or self.trust(),
                                        "guests": guests}, sort_keys=False))
        return path


def _pem_key(key: Any) -> bytes:
    data: bytes = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return data


def build_world(root: Path, pki_set: pki.PkiSet, hdr: Path, hosts: int = 3,
                host_dist_points: tuple[str, ...] = ()) -> World:
    """Write the PKI and input files under ``root`` (host documents with these CRL
    distribution points)."""
    root.mkdir(parents=True, exist_ok=True)
    certs = [Path(pki.write(root / "inter.crt", pki_set.inter)),
             Path(pki.write(root / "signing.crt", pki_set.signing))]
    crls = [Path(pki.write(root / "crls.pem", pki_set.root_crl, pki_set.inter_crl,
                           pki_set.signing_crl))]
    root_ca = Path(pki.write(root / "root.crt", pki_set.root))
    host_paths: list[Path] = []
    host_keys: list[ec.EllipticCurvePrivateKey] = []
    for number in range(hosts):
        key = pki.ec_key(ec.SECP521R1())
        entity = pki.issue(pki_set.signing, pki.HOST_SUBJECT, pki.host_spec(dist_points=host_dist_points),
                           key=key)
        host_paths.append(Path(pki.write(root / f"host-{number}.crt", entity)))
        host_keys.append(key)
    revoked = Path(pki.write(root / "host-revoked.crt", pki_set.host_revoked))
    files = {
        "assoc": root / "assoc.bin", "cck": root / "cck.bin", "new-cck": root / "new-cck.bin",
        "ext": root / "ext.bin", "aes": root / "aes.bin", "plain": root / "plain.txt",
        "ec": root / "ec.pem", "user-data": root / "user-data.bin", "sign": root / "sign.pem",
        "cuid": root / "attest.yaml",
    }
    for name in ("assoc", "cck", "new-cck", "ext", "aes"):
        files[name].write_bytes(os.urandom(32))
    files["plain"].write_bytes(b"a plain secret\n")
    files["ec"].write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    files["user-data"].write_bytes(b"user data for the guest")
    files["sign"].write_bytes(_pem_key(ec.generate_private_key(ec.SECP521R1())))
    files["cuid"].write_text("cuid: '0x00112233445566778899aabbccddeeff'\n"
                             "add: 'e66a0a6c9a1bc3aa4ef3e8a2c3a9dc4ba83f4f8f1e5f7e2c'\n")
    return World(root, hdr, certs, crls, root_ca, host_paths, host_keys, revoked, files)


def every_request(world: World) -> list[dict[str, Any]]:
    """One request of every type and option (plan form)."""
    f = world.files
    return [
        {"meta": {"flags": ["disable-dump"]}},
        {"meta": {"output": "meta-ud.bin", "user-data": str(f["user-data"])}},
        {"association": {"name": "db key", "input-secret": str(f["assoc"])}},
        {"association": {"name": "random", "output-secret": "random.secret",
                         "flags": ["disable-dump"]}},
        {"association": {"name": "short", "use-name": True, "input-secret": str(f["assoc"])}},
        {"retrievable": {"name": "aes-key", "secret": str(f["aes"]), "type": "aes"}},
        {"retr": {"name": "plain", "secret": str(f["plain"]), "type": "plain"}},
        {"retrievable": {"name": "ec-key", "secret": str(f["ec"]), "type": "ec",
                         "output": "ec.req"}},
        {"update-cck": {"secret": str(f["new-cck"])}},
        {"meta": {"output": "signed.bin", "user-data": str(f["user-data"]),
                  "user-sign-key": str(f["sign"])}},
    ]


def guest(world: World, name: str, requests: list[dict[str, Any]], *, hosts: int = 3,
          options: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A plan guest with ``hosts`` host-key documents and more guest ``options``."""
    entry: dict[str, Any] = {"name": name, "hdr": str(world.hdr),
                             "host-key-document": [str(p) for p in world.hosts[:hosts]]}
    entry.update(options or {})
    entry.update(extra)
    entry["requests"] = requests
    return entry


FIXED_ASSOCIATION = b"\x5a" * 32


def fix_randomness(monkeypatch: Any) -> None:
    """Every request gets the same IV, customer key and protection key; every random
    association secret the same bytes (plan runs and single commands then agree)."""
    from secexkit.addsecret import secrets as guest_secret
    from secexkit.crypto.keyslots import EnvelopeKeys
    from secexkit.secret import SecretBytes

    customer = ec.derive_private_key(12345, ec.SECP521R1())
    keys = EnvelopeKeys(b"\x11" * 12, customer, SecretBytes(b"\x22" * 32))
    monkeypatch.setattr(EnvelopeKeys, "generate", classmethod(lambda cls, pk=None: keys))
    original = guest_secret.association_secret

    def association(name: str, secret: Any = None, *, use_name: bool = False) -> Any:
        return original(name, FIXED_ASSOCIATION if secret is None else secret, use_name=use_name)

    monkeypatch.setattr(guest_secret, "association_secret", association)


def create_argv(request: dict[str, Any], number: int, out: Path) -> list[str]:
    """The ``pvsecret create`` arguments of one plan request (without the guest's and the
    trust options): output files go to ``out``, other paths stay as written."""
    [(kind, options)] = request.items()
    options = options or {}
    canonical = {"retr": "retrievable", "cck": "update-cck"}.get(kind, kind)
    argv = ["create", kind, "-o", str(out / options.get("output", f"{number:02d}-{canonical}.bin"))]
    for key, value in options.items():
        if key == "output":
            continue
        if key == "name":
            argv.append(value)
        elif key == "use-name":
            argv.append("--use-name")
        elif key == "flags":
            argv += ["--flags", ",".join(value)]
        elif key in ("output-secret", "toc-policy"):
            argv += [f"--{key}", str(out / value)]
        else:
            argv += [f"--{key}", str(value)]
    return argv
