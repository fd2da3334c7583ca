"""Every PEM/DER parser is linear in its input (issue: 391 KiB of BEGIN lines without END
took minutes).  The sizes here would take days with a rescan per BEGIN line; the check is
a bounded join, far above the linear cost, not a timing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from secexkit.crypto import der
from secexkit.hostkeys import parse_host_key_document
from secexkit.trust._crl import CrlPool
from secexkit.trust._load import parse_certificates, parse_crls, parse_pem
from secexkit.trust._x509 import SourcedCrl
from tests.support import pki

BOUND = 60.0
MiB = 1024 * 1024


def _ends(work: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(BOUND)
    assert not worker.is_alive(), "a parser did not end: superlinear work"


@pytest.mark.parametrize("line", [b"-----BEGIN X509 CRL-----\n", b"-----BEGIN CERTIFICATE-----\r\n",
                                  b"-----BEGIN A-----\n-----END B-----\n"])
@pytest.mark.parametrize("size", [1 * MiB, 4 * MiB])
def test_begin_lines_without_end(line: bytes, size: int) -> None:
    data = line * (size // len(line))
    _ends(lambda: list(der.iter_pem(data)))
    _ends(lambda: parse_pem(data))
    _ends(lambda: parse_crls(data))
    _ends(lambda: parse_certificates(data))
    _ends(lambda: list(der.iter_pem(data, strict=False)))
    _ends(lambda: parse_host_key_document(data, "big.pem"))


def test_scan_work_grows_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Count the regex searches: one per BEGIN line, whatever the input size."""
    calls = {"search": 0}
    real = der._PEM_BEGIN

    class Counting:
        def search(self, data: bytes, pos: int = 0) -> object:
            calls["search"] += 1
            return real.search(data, pos)

    monkeypatch.setattr(der, "_PEM_BEGIN", Counting())
    for count in (1000, 10000, 100000):
        calls["search"] = 0
        list(der.iter_pem(b"-----BEGIN X509 CRL-----\n" * count))
        assert calls["search"] == count + 1


def test_blocks_still_found_around_unterminated_ones(pki_set: pki.PkiSet) -> None:
    data = (b"-----BEGIN A-----\n" * 1000 + pki.pem(pki_set.root_crl)
            + b"-----BEGIN B-----\n" * 1000 + pki.pem(pki_set.root.cert))
    found = parse_pem(data)
    assert found.crls == [pki_set.root_crl] and found.certificates == [pki_set.root.cert]


def test_crl_pool_deduplicates_by_content(pki_set: pki.PkiSet) -> None:
    pool = CrlPool(SourcedCrl(pki_set.root_crl, f"copy{i}") for i in range(5000))
    pool.add(SourcedCrl(pki_set.inter_crl, "other"))
    assert len(pool) == 2 and [c.source for c in pool] == ["copy0", "other"]
