"""Request creation speed: library vs the OpenSSL floor, and one CLI run vs a bare import.

Run: python bench/bench_request.py [--vectors DIR] [--rounds N]
The floor is the same primitive calls made directly: one P-521 key generation,
one ECDH + SHA-256 + AES-GCM wrap per host key, one AES-GCM seal of the request.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secexkit.addsecret.request import FLAG_DISABLE_DUMP, AddSecretRequest, RequestKeys
from secexkit.addsecret.secrets import meta_secret
from secexkit.formats.se_header import BootHdrTags
from secexkit.hostkeys import HostKey, parse_host_key_document

ROOT = Path(__file__).resolve().parent.parent


def floor_once(host_keys: list[ec.EllipticCurvePublicKey]) -> bytes:
    customer = ec.generate_private_key(ec.SECP521R1())
    protection_key = os.urandom(32)
    iv = os.urandom(12)
    slots = b""
    for host in host_keys:
        kek = hashlib.sha256(customer.exchange(ec.ECDH(), host) + b"\0\0\0\1").digest()
        slots += AESGCM(kek).encrypt(bytes(12), protection_key, None)
    return AESGCM(protection_key).encrypt(iv, bytes(32), slots)


def rate(fn: object, rounds: int) -> float:
    """Requests per second: the best of five batches."""
    best = float("inf")
    batch = max(1, rounds // 5)
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            fn()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - start) / batch)
    return 1.0 / best


def median_times(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU (user + system) seconds per command, runs interleaved."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            walls[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name]))
            for name in commands}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=Path,
                        default=ROOT.parent / "shared" / "vectors" / "s390-tools")
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--cli-runs", type=int, default=30)
    args = parser.parse_args()
    hkd = args.vectors / "cert" / "host.crt"
    host = parse_host_key_document(hkd.read_bytes(), str(hkd)).host_key
    tags = BootHdrTags(b"\1" * 64, b"\2" * 64, b"\3" * 64, b"\4" * 16)
    request = AddSecretRequest(meta_secret(), tags, flags=FLAG_DISABLE_DUMP)
    for count in (1, 10):
        keys = [HostKey(host.public_key, f"k{i}") for i in range(count)]
        raw = [k.public_key for k in keys]
        lib = rate(lambda keys=keys: request.build(keys, RequestKeys.generate()), args.rounds)
        flo = rate(lambda raw=raw: floor_once(raw), args.rounds)
        print(f"{count:2d} host key(s): library {lib:8.0f} req/s, floor {flo:8.0f} req/s, "
              f"ratio {lib / flo:.2f}")

    # what a user runs: the installed console script, with compiled bytecode
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    script = Path(sysconfig.get_path("scripts")) / "pvsecret"
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-request.bin"
    commands = {
        "bare import": [sys.executable, "-c",
                        "from cryptography.hazmat.primitives.asymmetric import ec"],
        "stdlib floor": [sys.executable, "-c",
                         "import argparse, logging\n"
                         "from cryptography.hazmat.primitives.asymmetric import ec\n"
                         "from cryptography.hazmat.primitives.ciphers.aead import AESGCM"],
        "pvsecret create": [str(script), "create", "meta", "-k", str(hkd), "--hdr",
                            str(args.vectors / "exp" / "secure_guest.hdr"), "-o", str(out),
                            "--no-verify", "--flags", "disable-dump"],
    }
    times = median_times(commands, args.cli_runs)
    bare = times["bare import"]
    for name, (wall, cpu) in times.items():
        print(f"{name:16s} wall {wall * 1000:6.1f} ms ({wall / bare[0]:.2f}x)  "
              f"cpu {cpu * 1000:6.1f} ms ({cpu / bare[1]:.2f}x)")


if __name__ == "__main__":
    main()
