"""Attestation (``pvattest``): requests, the ultravisor's measurement, verification and policies.

* :mod:`.request` -- build an ARCB for 1..255 host keys, open it with the ARPK
  or with a host private key;
* :mod:`.measurement` -- the HMAC-SHA512 measurement and :func:`verify_response`;
* :mod:`.result` -- the ``pvattest verify`` text and YAML;
* :mod:`.check` -- the ``pvattest check`` policies and result document;
* :mod:`.ultravisor` -- a software ultravisor answering an ARCB (tests, demos);
* :mod:`.errors` -- :class:`MeasurementMismatchError`.

Wire formats are in :mod:`secexkit.formats.attestation`.
"""
