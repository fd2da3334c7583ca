"""pvsecret plan reproduces, request by request, what single ``pvsecret create`` runs
write with the same injected randomness (same verification inputs, same options)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secexkit.addsecret.request import open_request
from secexkit.addsecret.user_data import verify_request_user_data
from secexkit.formats.request import USER_DATA_OFFSET
from tests.support import pki
from tests.support.fleet import World, build_world, every_request, fix_randomness, guest
from tests.support.pvsecret import cli


@pytest.fixture
def fixed_randomness(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request gets the same IV, customer key and protection key (see
    :func:`tests.support.fleet.fix_randomness`)."""
    fix_randomness(monkeypatch)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki_set: pki.PkiSet, vectors: Path) -> World:
    return build_world(tmp_path_factory.mktemp("fleet"), pki_set,
                       vectors / "exp" / "secure_guest.hdr")


def _single_commands(world: World, out: Path, guest_options: list[str]) -> list[list[str]]:
    """The ``pvsecret create`` command lines of :func:`every_request`, one per request."""
    trust = [a for c in world.certs for a in ("--cert", str(c))]
    trust += [a for c in world.crls for a in ("--crl", str(c))]
    trust += ["--root-ca", str(world.root_ca), "--offline"]
    hosts = [a for h in world.hosts for a in ("-k", str(h))]
    common = [*hosts, *trust, "--hdr", str(world.hdr), *guest_options]
    commands = []
    for number, request in enumerate(every_request(world), start=1):
        [(kind, options)] = request.items()
        canonical = {"retr": "retrievable", "cck": "update-cck"}.get(kind, kind)
        argv = ["create", kind]
        output = options.get("output", f"{number:02d}-{canonical}.bin")
        argv += ["-o", str(out / output)]
        for key, value in options.items():
            if key == "output":
                continue
            if key in ("name",):
                argv.append(value)
            elif key == "use-name":
                argv.append("--use-name")
            elif key == "flags":
                argv += ["--flags", ",".join(value)]
            elif key == "output-secret":
                argv += ["--output-secret", str(out / value)]
            else:
                argv += [f"--{key}", str(value)]
        commands.append(argv + common)
    return commands


def _mask_signature(raw: bytes) -> bytes:
    """A signed request without its signature area and GCM tag (ECDSA is randomised)."""
    start = USER_DATA_OFFSET + 256
    return raw[:start] + bytes(256) + raw[start + 256:-16]


@pytest.mark.usefixtures("fixed_randomness", "not_a_guest")
def test_every_request_type_matches_the_single_commands(
        world: World, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    extra = {"cuid": str(world.files["cuid"]), "cck": str(world.files["cck"])}
    plan = world.write_plan([guest(world, "g", every_request(world), options=extra)],
                            name="equivalence.yaml")
    code, out, err = cli(capsysbinary, "plan", plan, "-o", tmp_path / "fleet", "-j", "1",
                         "--no-sync")
    assert code == 0, err
    assert b'"written": 1' in out
    single = tmp_path / "single"
    single.mkdir()
    for argv in _single_commands(world, single, ["--cuid", extra["cuid"], "--cck", extra["cck"]]):
        code, _, err = cli(capsysbinary, *argv)
        assert code == 0, (argv, err)
    fleet_files = sorted(p.name for p in (tmp_path / "fleet" / "g").iterdir())
    assert fleet_files == sorted(p.name for p in single.iterdir())
    assert len(fleet_files) == 17
    for name in fleet_files:
        ours = (tmp_path / "fleet" / "g" / name).read_bytes()
        theirs = (single / name).read_bytes()
        mode = (tmp_path / "fleet" / "g" / name).stat().st_mode & 0o777
        assert mode == (single / name).stat().st_mode & 0o777, name
        if name == "signed.bin":
            assert _mask_signature(ours) == _mask_signature(theirs)
            from cryptography.hazmat.primitives import serialization

            key: Any = serialization.load_pem_private_key(world.files["sign"].read_bytes(), None)
            verify_request_user_data(ours, key.public_key())
            assert open_request(ours, world.host_keys[2]).payload == \
                open_request(theirs, world.host_keys[2]).payload
        else:
            assert ours == theirs, name
    # every request is usable by every host, and bound to the CUID of the attestation result
    for name in fleet_files:
        if name.endswith((".bin", ".req")):
            opened = open_request((tmp_path / "fleet" / "g" / name).read_bytes(),
                                  world.host_keys[1])
            assert opened.parsed.cuid == bytes.fromhex("00112233445566778899aabbccddeeff")
