"""Scenario 7 of ultravisor.md §8.4 through the CLI: ``pvattest create`` for cert/host.crt,
``pvattest perform`` on the software ultravisor (host key cert/host.key, a guest with the tags
of exp/secure_guest.hdr), ``pvattest verify --hdr`` exit 0; one tampered byte, exit 2.

Skipped while the pvattest CLI is not in the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from secexkit.attest.measurement import read_guest_tags
from secexkit.cli import uvmodel
from secexkit.formats.attestation import ExchangeResponse
from secexkit.uv.softuv.state import open_state

pvattest = pytest.importorskip("secexkit.cli.pvattest")


def test_scenario_7_attestation_round_trip(vectors: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    header = vectors / "exp" / "secure_guest.hdr"
    machine = str(tmp_path / "machine")
    assert uvmodel.main(["-d", machine, "init", "-k", str(vectors / "cert" / "host.key")]) == 0
    with header.open("rb") as stream:
        tags = read_guest_tags(stream)
    with open_state(machine) as state:
        state.machine.boot_from_tags(tags, name="vector")  # nobody can decrypt this header
        state.current_guest = "vector"
        state.save()
    request, arpk, response = tmp_path / "req.bin", tmp_path / "arpk", tmp_path / "resp.bin"
    assert pvattest.main(["create", "-k", str(vectors / "cert" / "host.crt"), "--no-verify",
                          "-o", str(request), "--arpk", str(arpk),
                          "--add-data", "phkh-img,phkh-att,secret-store-hash"]) == 0
    monkeypatch.setenv("SECEXKIT_UV", machine)
    assert pvattest.main(["perform", str(request), str(response)]) == 0
    monkeypatch.delenv("SECEXKIT_UV")
    verify = ["verify", "--arpk", str(arpk), "--hdr", str(header), "-i"]
    assert pvattest.main([*verify, str(response)]) == 0
    parsed = ExchangeResponse.from_bytes(response.read_bytes())
    tampered = bytearray(parsed.measurement)
    tampered[17] ^= 0x01
    bad = tmp_path / "bad.bin"
    bad.write_bytes(parsed._replace(measurement=bytes(tampered)).to_bytes())
    assert pvattest.main([*verify, str(bad)]) == 2
