"""cli._hostkeys.load_host_keys with verification (as pvsecret/pvimg create call it)."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from secexkit.cli._hostkeys import load_host_keys
from secexkit.errors import InputError, VerificationError
from secexkit.hostkeys import parse_host_key_document


def namespace(cert_dir: Path, hkds: list[str], *, certs: tuple[str, ...] = ("ibm.crt", "inter_ca.crt"),
              crls: tuple[str, ...] = ("ibm.crl", "inter_ca.crl"),
              root: str | None = "root_ca.chained.crt", offline: bool = True) -> argparse.Namespace:
    return argparse.Namespace(
        host_key_document=[str(cert_dir / h) for h in hkds], no_verify=False,
        cert=[str(cert_dir / c) for c in certs], crl=[str(cert_dir / c) for c in crls],
        offline=offline, root_ca=str(cert_dir / root) if root else None)


@pytest.fixture(scope="module")
def cert_dir(vectors: Path) -> Path:
    return vectors / "cert"


def test_verified_keys_in_order(cert_dir: Path) -> None:
    keys = load_host_keys(namespace(cert_dir, ["host.crt", "host2.crt", "host_armonk.crt"]),
                          "secret")
    expected = [parse_host_key_document((cert_dir / h).read_bytes(), h).host_key.hash
                for h in ("host.crt", "host2.crt", "host_armonk.crt")]
    assert [k.hash for k in keys] == expected
    assert keys[0].hash.hex() == "24933f75ee107c806fe602a7da7b610e54369af96a847f2dcc4fcfdbd81fbc05"


@pytest.mark.parametrize(("hkd", "reason"), [
    ("host_rev.crt", "Host-key document is revoked."),
    ("host_crt_expired.crt", "After validity period"),
    ("fake_host.crt", "Authority Key Id mismatch"),
])
def test_failing_document_named_in_one_line(cert_dir: Path, hkd: str, reason: str) -> None:
    with pytest.raises(VerificationError) as info:
        load_host_keys(namespace(cert_dir, ["host.crt", hkd]), "secret")
    message = str(info.value)
    assert message.startswith(f"Host-key verification failed for '{cert_dir / hkd}': {reason}")
    assert "\n" not in message and "; " in message  # the hint follows


def test_online_without_network_uses_local_crls(cert_dir: Path) -> None:
    # The test URIs are bare file names: downloads fail fast, the local CRLs do the job.
    keys = load_host_keys(namespace(cert_dir, ["host.crt"], offline=False), "secret")
    assert len(keys) == 1


def test_missing_crl_offline(cert_dir: Path) -> None:
    with pytest.raises(VerificationError, match="No valid CRL found"):
        load_host_keys(namespace(cert_dir, ["host.crt"], crls=("inter_ca.crl",)), "secret")


def test_chain_failure(cert_dir: Path) -> None:
    with pytest.raises(VerificationError) as info:
        load_host_keys(namespace(cert_dir, ["host.crt"], root="root_ca.crt"), "secret")
    assert "The IBM Z signing key could not be verified. Error occurred at level 1" \
        in str(info.value)
    assert info.value.details


def test_verifier_errors_come_before_document_errors(cert_dir: Path) -> None:
    with pytest.raises(InputError, match="Cannot load CRL from"):
        load_host_keys(namespace(cert_dir, ["missing.crt"], crls=("missing.crl",)), "secret")
    with pytest.raises(InputError, match="Cannot read host-key document at"):
        load_host_keys(namespace(cert_dir, ["missing.crt"]), "secret")


def test_several_certificates_in_a_document(cert_dir: Path, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    both = tmp_path / "both.crt"
    both.write_bytes((cert_dir / "host_rev.crt").read_bytes() + (cert_dir / "host.crt").read_bytes())
    args = namespace(cert_dir, ["host.crt"])
    args.host_key_document = [str(both)]
    with caplog.at_level(logging.WARNING), pytest.raises(VerificationError, match="revoked"):
        load_host_keys(args, "secret")
    assert "contains more than one certificate" in caplog.text


def test_no_verify_does_not_import_the_trust_package(cert_dir: Path) -> None:
    code = (
        "import argparse, sys\n"
        "from secexkit.cli._hostkeys import load_host_keys\n"
        f"a = argparse.Namespace(host_key_document=[{str(cert_dir / 'host.crt')!r}],"
        " no_verify=True, cert=[], crl=[], offline=False, root_ca=None)\n"
        "assert len(load_host_keys(a, 'secret')) == 1\n"
        "assert not any(m.startswith('secexkit.trust') for m in sys.modules), 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _pvsecret(cert_dir: Path, vectors: Path, out: Path, hkd: str, *extra: str) -> list[str]:
    return ["create", "-k", str(cert_dir / hkd), "--hdr", str(vectors / "exp" / "secure_guest.hdr"),
            "-o", str(out), "--cert", str(cert_dir / "ibm.crt"), "--cert",
            str(cert_dir / "inter_ca.crt"), "--root-ca", str(cert_dir / "root_ca.chained.crt"),
            "--crl", str(cert_dir / "ibm.crl"), *extra, "--offline", "meta"]


def test_pvsecret_create_verified(cert_dir: Path, vectors: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from secexkit.cli.pvsecret import main

    out = tmp_path / "req.bin"
    code = main(_pvsecret(cert_dir, vectors, out, "host.crt", "--crl", str(cert_dir / "inter_ca.crl")))
    assert code == 0, capsys.readouterr().err
    assert out.stat().st_size > 0


@pytest.mark.parametrize(("hkd", "extra", "text"), [
    ("host_rev.crt", ("--crl", "inter_ca.crl"), "Host-key document is revoked."),
    ("host.crt", (), "Error occurred at level 0"),
])
def test_pvsecret_create_refused(cert_dir: Path, vectors: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str], hkd: str,
                                 extra: tuple[str, ...], text: str) -> None:
    from secexkit.cli.pvsecret import main

    out = tmp_path / "req.bin"
    argv = _pvsecret(cert_dir, vectors, out, hkd, *(str(cert_dir / e) if e.endswith(".crl") else e
                                                    for e in extra))
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and text in errors[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_verified_key_is_the_certificate_key(cert_dir: Path) -> None:
    """The host key used for key slots must be the key of the certificate that was verified;
    a divergence between the two certificate parsers is refused."""
    from secexkit.cli._hostkeys import verified_host_key
    from secexkit.trust import sources, verifier

    args = namespace(cert_dir, ["host.crt"])
    inputs = sources.load_trust_inputs(args.cert, args.crl, args.root_ca)
    import datetime as dt

    verified = verifier.establish_trust(inputs, fetcher=None, now=dt.datetime.now(dt.UTC))
    host = parse_host_key_document((cert_dir / "host.crt").read_bytes(), "host.crt")
    assert verified_host_key(verified, host).hash.hex().startswith("24933f75")
    other = parse_host_key_document((cert_dir / "host2.crt").read_bytes(), "host2.crt")
    assert other.host_key.hash != host.host_key.hash
    forged = parse_host_key_document((cert_dir / "host.crt").read_bytes(), "host.crt")
    forged.__dict__["host_key"] = other.host_key  # as if the SPKI parsers disagreed
    with pytest.raises(InputError, match="ambiguous"):
        verified_host_key(verified, forged)
