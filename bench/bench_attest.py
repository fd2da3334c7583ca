"""Cost of ``pvattest verify`` in one process, next to its cryptographic floor.

    python bench/bench_attest.py [--runs N] [--fresh M]

Byte-compile first (``python -m compileall -q src``) when PYTHONDONTWRITEBYTECODE is set.

Prints, for derived/pvattest/resp_phkh_user.bin with exp/secure_guest.hdr and arpk.bin:
  * verify_response() per call (response parsed, tags known) -- the library core;
  * the whole verify path per call: read the three files, find the header, parse the
    response, open the ARCB, compare, render the YAML;
  * the floor: one AES-256-GCM open and one HMAC-SHA512 over the same sizes with bare
    `cryptography`, and the ratio;
  * the one-time import cost in fresh interpreters: the verify modules vs a bare
    `cryptography` AEAD + HMAC import (what a `pvattest verify` run adds before any work);
  * `pvattest verify ... -o FILE` through the CLI's main() per call in one process;
  * a whole CLI run (`python -m secexkit pvattest verify ... -o FILE`, fresh interpreter) next
    to a fresh interpreter that only imports `cryptography` (AEAD + HMAC), and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(os.environ.get("SECEXKIT_VECTORS", ROOT.parent / "shared" / "vectors" / "s390-tools"))
RESPONSE = VECTORS / "derived" / "pvattest" / "resp_phkh_user.bin"
ARPK = VECTORS / "derived" / "pvattest" / "arpk.bin"
HDR = VECTORS / "exp" / "secure_guest.hdr"


def per_call_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        samples.append((time.perf_counter() - start) / runs * 1000)
    return statistics.median(samples)


def library(runs: int) -> tuple[float, float, float]:
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from secexkit.attest.measurement import read_guest_tags, verify_response
    from secexkit.attest.request import read_arpk
    from secexkit.attest.result import verify_yaml
    from secexkit.formats.attestation import ExchangeResponse, parse_arcb

    response = ExchangeResponse.from_bytes(RESPONSE.read_bytes())
    with open(HDR, "rb") as stream:
        tags = read_guest_tags(stream)
    arpk = read_arpk(ARPK.read_bytes())

    def core() -> object:
        return verify_response(response, tags, arpk)

    def whole() -> object:
        with open(HDR, "rb") as stream:
            guest = read_guest_tags(stream)
        parsed = ExchangeResponse.from_bytes(RESPONSE.read_bytes())
        return verify_yaml(verify_response(parsed, guest, read_arpk(ARPK.read_bytes())))

    arcb = parse_arcb(response.arcb)
    key = arpk.reveal()
    message = bytes(208 + 16 + 8 + 5 + 16 + 64)

    def floor() -> object:
        AESGCM(key).decrypt(arcb.iv, arcb.ciphertext + arcb.tag, arcb.aad)
        mac = hmac.HMAC(b"\x77" * 64, hashes.SHA512())
        mac.update(message)
        return mac.finalize()

    return per_call_ms(core, runs), per_call_ms(whole, runs), per_call_ms(floor, runs)


def import_ms(codes: list[str], fresh: int) -> list[float]:
    """Median wall time of each snippet in fresh interpreters (runs interleaved)."""
    return fresh_ms([[sys.executable, "-c", code] for code in codes], fresh)


def fresh_ms(commands: list[list[str]], fresh: int) -> list[float]:
    """Median wall time of each command line (runs interleaved)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    samples: list[list[float]] = [[] for _ in commands]
    for _ in range(fresh):
        for index, command in enumerate(commands):
            start = time.perf_counter()
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            samples[index].append((time.perf_counter() - start) * 1000)
    return [statistics.median(s) for s in samples]


def verify_argv(output: Path) -> list[str]:
    """``pvattest verify`` on the derived response, YAML to ``output``, quiet."""
    return ["verify", "-q", "-i", str(RESPONSE), "--hdr", str(HDR), "-a", str(ARPK),
            "-o", str(output)]


def cli_per_call_ms(runs: int, directory: Path) -> float:
    """``pvattest verify`` through the CLI's main() in this process (parser, files, output)."""
    from secexkit.cli.pvattest import main as pvattest

    argv = verify_argv(directory / "out.yaml")

    def run() -> object:
        if pvattest(argv) != 0:
            raise SystemExit("pvattest verify failed")
        return None

    return per_call_ms(run, max(1, runs // 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--fresh", type=int, default=15)
    args = parser.parse_args()

    core, whole, floor = library(args.runs)
    print(f"verify_response per call:      {core:.3f} ms")
    print(f"whole verify path per call:    {whole:.3f} ms")
    print(f"floor (GCM open + HMAC-SHA512): {floor:.3f} ms   ratio core/floor {core / floor:.1f}, "
          f"whole/floor {whole / floor:.1f}")

    bare, ours = import_ms(
        ["import cryptography.hazmat.primitives.ciphers.aead, cryptography.hazmat.primitives.hmac",
         "import secexkit.attest.measurement, secexkit.attest.result, secexkit.formats.attestation"],
        args.fresh)
    print(f"fresh interpreter, bare cryptography imports: {bare:.1f} ms")
    print(f"fresh interpreter, secexkit verify imports:   {ours:.1f} ms   ratio {ours / bare:.2f}")

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        print(f"pvattest verify via main() per call:          {cli_per_call_ms(args.runs, directory):.3f} ms")
        bare_run, cli_run = fresh_ms(
            [[sys.executable, "-c", "import cryptography.hazmat.primitives.ciphers.aead, "
              "cryptography.hazmat.primitives.hmac"],
             [sys.executable, "-m", "secexkit", "pvattest", *verify_argv(directory / "run.yaml")]],
            args.fresh)
    print(f"CLI run, bare cryptography import:            {bare_run:.1f} ms")
    print(f"CLI run, python -m secexkit pvattest verify:  {cli_run:.1f} ms   ratio {cli_run / bare_run:.2f}")


if __name__ == "__main__":
    main()
