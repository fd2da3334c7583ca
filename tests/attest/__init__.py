"""Attestation: ARCB, exchange format, measurement, verification, check policies."""
