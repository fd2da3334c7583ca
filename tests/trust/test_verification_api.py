"""The public verification API: one call verifies host-key documents completely (the
DER key equals the verified certificate's key), a second builds the request; per-document
results for reports; library messages in library words, the CLI's in option names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import secexkit
from secexkit import (
    AddSecretRequest,
    BootHdrTags,
    HostKeyDocument,
    InputError,
    UsageError,
    VerificationError,
    check_host_key_documents,
    meta_secret,
    verify_host_key_documents,
)
from secexkit.cli._hostkeys import cli_message
from secexkit.trust import Check, Term, TrustError


@pytest.fixture
def cert(vectors: Path) -> Path:
    return vectors / "cert"


def _trust(cert: Path) -> dict[str, object]:
    return {"certificates": [cert / "ibm.crt", cert / "inter_ca.crt"],
            "crls": [cert / "ibm.crl", cert / "inter_ca.crl"],
            "root_ca": cert / "root_ca.chained.crt", "offline": True}


def test_two_calls_verify_then_build(cert: Path) -> None:
    keys = verify_host_key_documents([cert / "host.crt"], **_trust(cert))  # type: ignore[arg-type]
    assert [k.hash.hex()[:8] for k in keys] == ["24933f75"]
    tags = BootHdrTags(b"\x01" * 64, b"\x02" * 64, b"\x03" * 64, b"\x04" * 16)
    request = AddSecretRequest(meta_secret(), tags).build(keys)
    assert len(request) > 0


def test_inputs_as_bytes_and_objects(cert: Path) -> None:
    from secexkit.trust._load import parse_certificates, parse_crls

    keys = verify_host_key_documents(
        [(cert / "host.crt").read_bytes()],
        [(cert / "ibm.crt").read_bytes(), *parse_certificates((cert / "inter_ca.crt").read_bytes())],
        [(cert / "ibm.crl").read_bytes(), *parse_crls((cert / "inter_ca.crl").read_bytes())],
        (cert / "root_ca.chained.crt").read_bytes(), offline=True,
        now=dt.datetime.now(dt.UTC))
    assert keys[0].source == "<document 1>"


def test_der_key_differing_from_the_certificate_key_is_refused(cert: Path) -> None:
    document = secexkit.parse_host_key_document((cert / "host.crt").read_bytes(), "host.crt")
    assert isinstance(document, HostKeyDocument)
    other = secexkit.parse_host_key_document((cert / "host2.crt").read_bytes(), "host2.crt")
    document.__dict__["host_key"] = other.host_key  # as if our DER walker read another key
    with pytest.raises(InputError, match="ambiguous"):
        verify_host_key_documents([document], **_trust(cert))  # type: ignore[arg-type]
    (result,) = check_host_key_documents([document], **_trust(cert))  # type: ignore[arg-type]
    assert not result.ok and result.host_key is None


def test_per_document_results(cert: Path) -> None:
    results = check_host_key_documents(
        [cert / "host.crt", cert / "host_rev.crt", cert / "missing.crt", cert / "host2.crt"],
        **_trust(cert))  # type: ignore[arg-type]
    assert [r.ok for r in results] == [True, False, False, True]
    assert isinstance(results[1].error, TrustError) and results[1].error.check == Check.REVOKED
    assert isinstance(results[2].error, InputError)
    with pytest.raises(TrustError, match="revoked"):
        verify_host_key_documents([cert / "host.crt", cert / "host_rev.crt"],
                                  **_trust(cert))  # type: ignore[arg-type]


def test_setup_failure_raises_in_library_words(cert: Path) -> None:
    trust = _trust(cert) | {"crls": [cert / "ibm.crl"]}
    with pytest.raises(TrustError) as info:
        check_host_key_documents([cert / "host.crt"], **trust)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, VerificationError) and err.check == "chain"
    assert "--" not in str(err) and "with the CRLs" in str(err) and "allow downloads" in str(err)
    assert "with --crl" in cli_message(err) and "drop --offline" in cli_message(err)
    assert Term.CRLS in err.parts


def test_arguments_are_checked(cert: Path) -> None:
    from secexkit.trust import CrlFetcher

    class Never(CrlFetcher):
        pass

    with pytest.raises(UsageError):
        verify_host_key_documents([cert / "host.crt"], [cert / "ibm.crt"], offline=True,
                                  fetcher=Never())
    with pytest.raises(UsageError):
        verify_host_key_documents([cert / "host.crt"], [cert / "ibm.crt"],
                                  now=dt.datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        from secexkit.trust.verifier import CrlDownloads

        CrlDownloads(object())  # type: ignore[arg-type]


def test_trust_package_exports_few_names() -> None:
    import secexkit.trust as trust

    assert len(trust.__all__) <= 12
    assert not any(name.startswith("_") for name in trust.__all__)


def test_checks_are_an_enum() -> None:
    assert tuple(c.value for c in Check) == TrustError.CHECKS
    assert Check("no-crl") is Check.NO_CRL and str(Check.NO_CRL) == "no-crl"


def test_readme_library_example_compiles() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Library", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    compile(code, "README.md", "exec")
    assert "verify_host_key_documents(" in code and ".build(keys)" in code
