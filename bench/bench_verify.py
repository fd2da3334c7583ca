"""Cost of host-key verification: the library path and the whole pvsecret CLI.

    python bench/bench_verify.py [--runs N] [--cli-runs M]

Byte-compile first (``python -m compileall -q src``) when PYTHONDONTWRITEBYTECODE is set,
or the figures include compiling our sources.

Prints, for the reference vectors (cert/host.crt, ibm.crt + inter_ca.crt,
root_ca.chained.crt, ibm.crl + inter_ca.crl, offline):
  * load_host_keys() per call, verified vs --no-verify (in-process, warm);
  * the one-time imports the verification path adds (fresh interpreters):
    cryptography.x509 and then secexkit.trust;
  * wall time of `pvsecret create ... meta` verified vs --no-verify and the ratio
    (target: <= 1.3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(os.environ.get("SECEXKIT_VECTORS", ROOT.parent / "shared" / "vectors" / "s390-tools"))
CERT = VECTORS / "cert"
HDR = VECTORS / "exp" / "secure_guest.hdr"


def namespace(verify: bool) -> argparse.Namespace:
    return argparse.Namespace(
        host_key_document=[str(CERT / "host.crt")], no_verify=not verify,
        cert=[str(CERT / "ibm.crt"), str(CERT / "inter_ca.crt")] if verify else [],
        crl=[str(CERT / "ibm.crl"), str(CERT / "inter_ca.crl")] if verify else [],
        offline=True, root_ca=str(CERT / "root_ca.chained.crt") if verify else None)


def per_call(verify: bool, runs: int) -> float:
    import logging

    from secexkit.cli._hostkeys import load_host_keys

    logging.getLogger("secexkit").setLevel(logging.ERROR)
    args = namespace(verify)
    load_host_keys(args, "secret")  # warm up (imports)
    start = time.perf_counter()
    for _ in range(runs):
        load_host_keys(args, "secret")
    return (time.perf_counter() - start) / runs


_IMPORTS = """
import time
import secexkit.cli._hostkeys
t0 = time.perf_counter()
import cryptography.x509
t1 = time.perf_counter()
import secexkit.trust
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def import_costs(runs: int) -> tuple[float, float]:
    """(cryptography.x509, secexkit.trust after it), each on top of the --no-verify imports,
    timed inside fresh interpreters; medians."""
    x509, trust = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _IMPORTS], check=True, capture_output=True,
                             text=True).stdout.split()
        x509.append(float(out[0]))
        trust.append(float(out[1]))
    return statistics.median(x509), statistics.median(trust)


def cli_times(runs: int) -> tuple[list[float], list[float]]:
    common = ["-k", str(CERT / "host.crt"), "--hdr", str(HDR)]
    verified = ["--cert", str(CERT / "ibm.crt"), "--cert", str(CERT / "inter_ca.crt"),
                "--root-ca", str(CERT / "root_ca.chained.crt"), "--crl", str(CERT / "ibm.crl"),
                "--crl", str(CERT / "inter_ca.crl"), "--offline"]
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "req.bin")
        for i in range(runs * 2):
            verify = i % 2 == 0  # interleave to share machine noise
            argv = ["pvsecret", "create", *common, "-o", out,
                    *(verified if verify else ["--no-verify"]), "meta"]
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times[verify].append(time.perf_counter() - start)
    return times[True], times[False]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cli-runs", type=int, default=20)
    options = parser.parse_args()
    if not CERT.is_dir():
        sys.exit(f"vectors not found at {VECTORS}")
    verified = per_call(True, options.runs)
    plain = per_call(False, options.runs)
    print(f"load_host_keys verified : {verified * 1e3:8.3f} ms/call ({options.runs} runs)")
    print(f"load_host_keys no-verify: {plain * 1e3:8.3f} ms/call")
    x509_cost, trust_cost = import_costs(9)
    print(f"import cryptography.x509: {x509_cost * 1e3:8.3f} ms (once per process; the "
          "--no-verify path does not need it)")
    print(f"import secexkit.trust   : {trust_cost * 1e3:8.3f} ms (once per process, after it)")
    with_v, without = cli_times(options.cli_runs)
    med_v, med_n = statistics.median(with_v), statistics.median(without)
    print(f"pvsecret create verified : median {med_v * 1e3:7.1f} ms, "
          f"mean {statistics.mean(with_v) * 1e3:7.1f} ms ({options.cli_runs} runs)")
    print(f"pvsecret create no-verify: median {med_n * 1e3:7.1f} ms, "
          f"mean {statistics.mean(without) * 1e3:7.1f} ms")
    print(f"ratio verified/no-verify (median): {med_v / med_n:.3f} (target <= 1.3)")


if __name__ == "__main__":
    main()
