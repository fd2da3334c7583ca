"""Constants shared by the attestation tests (their fixtures are in tests/attest/conftest.py)."""

ARPK = b"\x17" * 32
MEASUREMENT_KEY = b"\x77" * 64
NONCE = b"\xab" * 16
