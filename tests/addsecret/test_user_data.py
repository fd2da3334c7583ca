"""User data: signing keys, layouts, two-pass signing and verification (spec §5, §13)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secexkit.addsecret.request import NO_USER_DATA, AddSecretRequest, RequestKeys, UserData
from secexkit.addsecret.secrets import meta_secret
from secexkit.addsecret.user_data import (
    EC_USER_DATA,
    NO_VERIFICATION_KEY,
    SIGNATURE_FAILED,
    UNSUPPORTED_SIGNING_KEY,
    load_signing_key,
    load_verification_certificate,
    make_user_data,
    policy_reference,
    policy_reference_from_stream,
    signer_for,
    user_data_type_for_key,
    verify_request_user_data,
)
from secexkit.errors import FormatError, InputError, SecexError, VerificationError
from secexkit.formats.request import USER_DATA_OFFSET, UserDataType, parse_request
from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey
from secexkit.secret import SecretBytes


@pytest.fixture
def fixed_keys(test_customer_key: ec.EllipticCurvePrivateKey) -> RequestKeys:
    return RequestKeys(b"\x55" * 12, test_customer_key, SecretBytes(b"\x17" * 32))


def _request(
    user_data: UserData, host: HostKey, tags: BootHdrTags, keys: RequestKeys
) -> bytes:
    """The reference's ``null_none_default_ncuid_one`` request with user data."""
    return AddSecretRequest(meta_secret(), tags, user_data=user_data).build([host], keys)


def _rsa(vectors: Path, bits: int) -> rsa.RSAPrivateKey:
    key = load_signing_key((vectors / "keys" / f"rsa{bits}key.pem").read_bytes(), "key")
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


# --- the reference's round trips (rust/pv/tests/add_secret_request.rs) -------------


def test_user_unsigned_round_trip(
    vector_host_key: HostKey, vector_tags: BootHdrTags, fixed_keys: RequestKeys
) -> None:
    data = b"\x56" * 0x183
    req = _request(make_user_data(data), vector_host_key, vector_tags, fixed_keys)
    assert req[6:8] == b"\x00\x01"
    result = verify_request_user_data(req)
    assert result.kind == UserDataType.UNSIGNED
    assert result.data == data.ljust(512, b"\0")


def test_user_ec_round_trip(
    vector_host_key: HostKey,
    vector_tags: BootHdrTags,
    fixed_keys: RequestKeys,
    test_customer_key: ec.EllipticCurvePrivateKey,
) -> None:
    data = b"\x56" * 0x100
    req = _request(
        make_user_data(data, test_customer_key), vector_host_key, vector_tags, fixed_keys
    )
    assert req[6:8] == b"\x00\x02"
    field = req[USER_DATA_OFFSET : USER_DATA_OFFSET + 512]
    values = EC_USER_DATA.unpack(field)
    size = int(values["signature_size"])
    assert 0 < size <= 139
    sig_field = bytes(values["signature"])
    assert sig_field[0] == 0x30 and not any(sig_field[size:])
    assert not any(field[0x18B:0x190]) and not any(field[0x192:])
    result = verify_request_user_data(req, test_customer_key.public_key())
    assert result.data == data


@pytest.mark.parametrize(("bits", "size", "kind"), [(2048, 0x100, 3), (3072, 0x80, 4)])
def test_user_rsa_round_trip(
    vectors: Path,
    vector_host_key: HostKey,
    vector_tags: BootHdrTags,
    fixed_keys: RequestKeys,
    bits: int,
    size: int,
    kind: int,
) -> None:
    key = _rsa(vectors, bits)
    data = b"\x56" * size
    req = _request(make_user_data(data, key), vector_host_key, vector_tags, fixed_keys)
    assert int.from_bytes(req[6:8], "big") == kind
    cert_key = load_verification_certificate(
        (vectors / "keys" / f"rsa{bits}.crt").read_bytes(), "cert"
    )
    assert verify_request_user_data(req, cert_key).data == data
    pub = serialization.load_pem_public_key(
        (vectors / "keys" / f"rsa{bits}key.pub.pem").read_bytes()
    )
    assert isinstance(pub, rsa.RSAPublicKey)
    assert verify_request_user_data(req, pub).data == data


def test_signed_request_is_a_valid_gcm_request(
    vectors: Path,
    vector_host_key: HostKey,
    vector_tags: BootHdrTags,
    fixed_keys: RequestKeys,
) -> None:
    """The second pass re-seals: the tag covers the signature, the ciphertext is unchanged."""
    from secexkit import crypto

    unsigned = _request(NO_USER_DATA, vector_host_key, vector_tags, fixed_keys)
    signed = _request(
        make_user_data(b"x", _rsa(vectors, 2048)), vector_host_key, vector_tags, fixed_keys
    )
    parsed = parse_request(signed)
    plain = crypto.gcm_open(
        fixed_keys.protection_key, parsed.iv, parsed.aad, parsed.ciphertext + parsed.tag
    )
    assert plain == bytes(32)
    assert parsed.ciphertext == parse_request(unsigned).ciphertext


def test_vectors_have_no_user_data(vectors: Path) -> None:
    for path in sorted((vectors / "exp" / "asrcb").iterdir()):
        result = verify_request_user_data(path.read_bytes())
        assert result.kind == UserDataType.NULL and result.data is None
        # a given certificate is ignored for requests without user data
        assert verify_request_user_data(path.read_bytes(), _ec_key().public_key()).data is None


# --- signing keys ---------------------------------------------------------------------


def _ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP521R1())


@pytest.mark.parametrize(("name", "held"), [("rsa4096key.pem", "an RSA 4096-bit key"),
                                           ("ecsecp256k1.pem", "an EC secp256k1 key")])
def test_unsupported_signing_keys(vectors: Path, name: str, held: str) -> None:
    with pytest.raises(InputError) as err:
        load_signing_key((vectors / "keys" / name).read_bytes(), name)
    # the reference's text, then which file holds what
    assert str(err.value) == f"{UNSUPPORTED_SIGNING_KEY} (`{name}` holds {held})"


def test_signing_key_kinds(vectors: Path) -> None:
    assert user_data_type_for_key(_rsa(vectors, 2048)) == UserDataType.SIGNED_RSA_2048
    assert user_data_type_for_key(_rsa(vectors, 3072)) == UserDataType.SIGNED_RSA_3072
    assert user_data_type_for_key(_ec_key()) == UserDataType.SIGNED_EC_SECP521R1
    assert user_data_type_for_key(ec.generate_private_key(ec.SECP384R1())) is None
    assert user_data_type_for_key(ed25519.Ed25519PrivateKey.generate()) is None


def test_signing_key_der_and_pem(vectors: Path) -> None:
    key = _ec_key()
    for encoding, fmt in [
        (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
        (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),
        (serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL),
        (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),
    ]:
        blob = key.private_bytes(encoding, fmt, serialization.NoEncryption())
        loaded = load_signing_key(blob, "k")
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        assert loaded.private_numbers() == key.private_numbers()
    rsa_der = _rsa(vectors, 3072).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert user_data_type_for_key(load_signing_key(rsa_der, "k")) == UserDataType.SIGNED_RSA_3072


def test_signing_key_garbage_and_encrypted() -> None:
    with pytest.raises(InputError, match=r"Cannot read sk\.pem as private key from PEM or DER"):
        load_signing_key(b"not a key", "sk.pem")
    enc = _ec_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(InputError, match="as private key"):
        load_signing_key(enc, "sk.pem")


# --- sizes and layouts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bits", "limit", "display"), [(2048, 256, "RSA 2048 signed"), (3072, 128, "RSA 3072 signed")]
)
def test_signed_size_limits(vectors: Path, bits: int, limit: int, display: str) -> None:
    key = _rsa(vectors, bits)
    make_user_data(b"a" * limit, key)
    with pytest.raises(InputError) as err:
        make_user_data(b"a" * (limit + 1), key)
    assert str(err.value) == (
        f"Invalid {display} user-data for signing provided. Max {limit} bytes allowed"
    )


def test_ec_and_unsigned_size_limits() -> None:
    make_user_data(b"a" * 256, _ec_key())
    with pytest.raises(InputError, match=r"Invalid ECDSA signed user-data .* Max 256 bytes"):
        make_user_data(b"a" * 257, _ec_key())
    assert make_user_data(b"a" * 512).kind == UserDataType.UNSIGNED
    with pytest.raises(InputError, match=r"Invalid unsigned user-data .* Max 512 bytes"):
        make_user_data(b"a" * 513)


def test_empty_user_data_is_unsigned() -> None:
    ud = make_user_data(b"")
    assert ud.kind == UserDataType.UNSIGNED and ud.field_bytes == bytes(512)


def test_key_without_data_signs_empty_data(vectors: Path) -> None:
    ud = make_user_data(None, _rsa(vectors, 2048))
    assert ud.kind == UserDataType.SIGNED_RSA_2048 and ud.data == b""


def test_signature_area_sizes(vectors: Path) -> None:
    assert len(signer_for(_ec_key())(b"m")) == 256
    assert len(signer_for(_rsa(vectors, 2048))(b"m")) == 256
    assert len(signer_for(_rsa(vectors, 3072))(b"m")) == 384


def test_policy_reference() -> None:
    digest, field = policy_reference(b"hello", "ud")
    assert digest.hex() == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert field == (digest + b"ud").ljust(512, b"\0")
    _, long_field = policy_reference(b"", "p" * 600)
    assert len(long_field) == 512 and long_field[32:] == b"p" * 480


# --- verification failures ------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_requests(
    vectors: Path,
) -> dict[str, tuple[bytes, object]]:
    """One signed request per key type (random keys), with the verifying public key."""
    tags = BootHdrTags(b"\x01" * 64, b"\x02" * 64, b"\x03" * 64, b"\x04" * 16)
    host = HostKey(ec.generate_private_key(ec.SECP521R1()).public_key())
    out: dict[str, tuple[bytes, object]] = {}
    for name, key in [
        ("ec", _ec_key()),
        ("rsa2048", _rsa(vectors, 2048)),
        ("rsa3072", _rsa(vectors, 3072)),
    ]:
        assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        req = AddSecretRequest(
            meta_secret(), tags, user_data=make_user_data(b"hello", key)
        ).build([host])
        out[name] = (req, key.public_key())
    return out


def test_other_keys_fail(signed_requests: dict[str, tuple[bytes, object]], vectors: Path) -> None:
    for name, (req, _) in signed_requests.items():
        with pytest.raises(VerificationError) as err:
            verify_request_user_data(req, None)
        assert str(err.value) == NO_VERIFICATION_KEY
        for other, (_, pub) in signed_requests.items():
            if other == name:
                verify_request_user_data(req, pub)  # type: ignore[arg-type]
                continue
            with pytest.raises(VerificationError, match="does not match with the user-data"):
                verify_request_user_data(req, pub)  # type: ignore[arg-type]
    # same type, other key
    req, _ = signed_requests["ec"]
    with pytest.raises(VerificationError) as err:
        verify_request_user_data(req, _ec_key().public_key())
    assert str(err.value) == SIGNATURE_FAILED


def test_mismatch_messages(
    signed_requests: dict[str, tuple[bytes, object]], vectors: Path
) -> None:
    rsa3072 = load_verification_certificate(
        (vectors / "keys" / "rsa3072.crt").read_bytes(), "c"
    )
    rsa2048 = load_verification_certificate(
        (vectors / "keys" / "rsa2048.crt").read_bytes(), "c"
    )
    with pytest.raises(VerificationError) as err:
        verify_request_user_data(signed_requests["rsa2048"][0], rsa3072)
    assert str(err.value) == (
        "Provided user-data key type (RSA 3072) does not match with the user-data (RSA 2048 signed)"
    )
    unsigned = bytearray(signed_requests["rsa2048"][0])
    unsigned[7] = 1
    with pytest.raises(VerificationError) as err:
        verify_request_user_data(bytes(unsigned), rsa2048)
    assert str(err.value) == (
        "Provided user-data key type (RSA 2048) does not match with the user-data (unsigned)"
    )
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match=r"\(EC\) does not match .*ECDSA signed"):
        verify_request_user_data(signed_requests["rsa2048"][0][:6] + b"\0\2"
                                 + signed_requests["rsa2048"][0][8:], p256)


def test_every_single_byte_change_fails(
    signed_requests: dict[str, tuple[bytes, object]],
) -> None:
    """Flip each byte before the tag: verification must fail (or the frame be rejected)."""
    for req, pub in signed_requests.values():
        for pos in range(len(req) - 16):
            bad = bytearray(req)
            bad[pos] ^= 0x01
            with pytest.raises(SecexError):
                verify_request_user_data(bytes(bad), pub)  # type: ignore[arg-type]


def test_unsigned_and_truncated_inputs() -> None:
    with pytest.raises(FormatError, match="does not contain an add-secret request"):
        verify_request_user_data(b"IBMSecEx" + bytes(600))
    with pytest.raises(FormatError, match="unsupported user-data type: 0x0005"):
        verify_request_user_data(b"asrcbM\x00\x05" + bytes(600))


def test_certificate_loading(vectors: Path, tmp_path: Path) -> None:
    pem = (vectors / "keys" / "rsa2048.crt").read_bytes()
    from cryptography import x509

    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert isinstance(load_verification_certificate(der, "c"), rsa.RSAPublicKey)
    with pytest.raises(InputError, match="does not contain a X509 certificate"):
        load_verification_certificate(b"garbage", "c")


@pytest.fixture(scope="module")
def fuzz_key() -> ec.EllipticCurvePublicKey:
    """A P-521 verification key for the fuzzing examples (generated once, not at import)."""
    return ec.generate_private_key(ec.SECP521R1()).public_key()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1400))
def test_fuzz_verify_raises_only_our_errors(fuzz_key: ec.EllipticCurvePublicKey, data: bytes) -> None:
    for candidate in (data, b"asrcbM\x00" + bytes([data[0] % 5 if data else 2]) + data):
        with contextlib.suppress(SecexError):
            verify_request_user_data(candidate, fuzz_key)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(area=st.binary(min_size=256, max_size=256), which=st.sampled_from(["ec", "rsa2048"]))
def test_fuzz_signature_area(
    signed_requests: dict[str, tuple[bytes, object]], area: bytes, which: str
) -> None:
    """Arbitrary signature areas (length fields included) end in our errors only."""
    req, pub = signed_requests[which]
    start = USER_DATA_OFFSET + 0x100
    bad = req[:start] + area + req[start + 256 :]
    with pytest.raises(VerificationError):
        verify_request_user_data(bad, pub)  # type: ignore[arg-type]


# --- loaders and the policy reference under arbitrary input --------------------------------

_PEM_HEADS = st.sampled_from([b"", b"-----BEGIN PRIVATE KEY-----\n", b"-----BEGIN CERTIFICATE-----\n",
                              b"-----BEGIN EC PRIVATE KEY-----\n", b"\x30\x82\x01\x00"])


@settings(max_examples=300, deadline=None)
@given(head=_PEM_HEADS, body=st.binary(max_size=300))
def test_fuzz_key_and_certificate_loaders(head: bytes, body: bytes) -> None:
    """Arbitrary bytes end in a one-line InputError naming the file, never another exception."""
    for load in (load_signing_key, load_verification_certificate):
        with pytest.raises(InputError) as err:
            load(head + body, "in.file")
        assert "in.file" in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=100, deadline=None)
@given(policy=st.binary(max_size=5000), chunk=st.integers(1, 700),
       path=st.binary(min_size=1, max_size=600))
def test_policy_reference_streamed_equals_whole(policy: bytes, chunk: int, path: bytes) -> None:
    import hashlib
    import io

    whole = policy_reference(policy, path)
    assert policy_reference_from_stream(io.BytesIO(policy), path, chunk) == whole
    digest, data = whole
    assert digest == hashlib.sha256(policy).digest()
    assert data == (digest + path[:480]).ljust(512, b"\0") and len(data) == 512


@pytest.mark.parametrize("which", ["ec", "rsa2048", "rsa3072"])
def test_signature_checked_without_our_verifier(
    vectors: Path, vector_host_key: HostKey, vector_tags: BootHdrTags, fixed_keys: RequestKeys,
    test_customer_key: ec.EllipticCurvePrivateKey, which: str,
) -> None:
    """Absolute offsets of spec §5.1 and pyca only: the message is the request without its
    tag and with the whole signature area zero; RSA uses PSS/SHA-512 with a 64-byte salt."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = test_customer_key if which == "ec" else _rsa(vectors, int(which[3:]))
    area_start = {"ec": 0x318, "rsa2048": 0x318, "rsa3072": 0x298}[which]
    req = _request(make_user_data(b"\x42" * 20, key), vector_host_key, vector_tags, fixed_keys)
    message = req[:area_start] + bytes(0x418 - area_start) + req[0x418:-16]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = int.from_bytes(req[0x3A8:0x3AA], "big")
        assert not any(req[0x318 + size : 0x3A8]) and not any(req[0x3AA:0x418])
        key.public_key().verify(req[0x318 : 0x318 + size], message, ec.ECDSA(hashes.SHA512()))
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        key.public_key().verify(
            req[area_start:0x418], message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64), hashes.SHA512())


def test_rsa_signature_with_the_maximum_salt_verifies(
    vectors: Path, vector_host_key: HostKey, vector_tags: BootHdrTags, fixed_keys: RequestKeys,
) -> None:
    """A reference built against OpenSSL 3.0 signs with the maximum salt (ADR 0030)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = _rsa(vectors, 2048)
    req = _request(make_user_data(b"m", key), vector_host_key, vector_tags, fixed_keys)
    message = req[:0x318] + bytes(0x100) + req[0x418:-16]
    signature = key.sign(message, padding.PSS(mgf=padding.MGF1(hashes.SHA512()),
                                              salt_length=padding.PSS.MAX_LENGTH), hashes.SHA512())
    resigned = req[:0x318] + signature + req[0x418:]
    assert verify_request_user_data(resigned, key.public_key()).data == b"m".ljust(256, b"\0")
    with pytest.raises(VerificationError):
        verify_request_user_data(resigned[:0x318] + bytes(256) + resigned[0x418:], key.public_key())
