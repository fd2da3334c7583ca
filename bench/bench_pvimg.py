"""Benchmark ``pvimg create`` on a large random ramdisk beside its floor.

Floor = what any implementation must at least do, in this process, one thread:
read the ramdisk, AES-256-XTS over the same bytes (16 MiB per call, so no
per-page overhead), one SHA-512 pass over the output.

Usage: python bench/bench_pvimg.py [--size-mib 1024] [--dir DIR]
Prints seconds, the ratio, and the peak RSS of the create step; the fsync run is
repeated without write-behind (ADR 0024) for comparison.  Needs 4x the size in
free disk space.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from secexkit.crypto.xts import page_cipher
from secexkit.hostkeys import HostKey
from secexkit.image import components
from secexkit.image.bootloader import find_boot_loaders
from secexkit.image.builder import ImageInputs, ImageOptions, create_image
from secexkit.secret import SecretBytes

CHUNK = 16 << 20


def make_inputs(directory: Path, size: int) -> ImageInputs:
    kernel = bytearray(0x20000)
    kernel[0x10008:0x1000E] = b"S390EP"
    (directory / "kernel").write_bytes(bytes(kernel))
    with open(directory / "ramdisk", "wb") as stream:
        left = size
        while left:
            block = min(left, CHUNK)
            stream.write(os.urandom(block))
            left -= block
    boot = directory / "boot"
    boot.mkdir()
    (boot / "stage3a.bin").write_bytes(b"\xa5" * 11320)
    (boot / "stage3b_reloc.bin").write_bytes(b"\x5a" * 0x1800)
    return ImageInputs(directory / "kernel", directory / "ramdisk", None)


def floor(path: Path, key: bytes) -> float:
    start = time.perf_counter()
    digest = hashlib.sha512()
    buffer = bytearray(CHUNK)
    out = bytearray(CHUNK + 16)
    with open(path, "rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            # one XTS data unit per 16 MiB chunk (fresh context: OpenSSL caps a unit);
            # output into a reused buffer so the floor pays no allocations
            tweak = count.to_bytes(16, "big")
            encryptor = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
            done = encryptor.update_into(memoryview(buffer)[:count], out)
            digest.update(memoryview(out)[:done])
    digest.digest()
    return time.perf_counter() - start


def per_page_overhead(key: bytes) -> tuple[float, float]:
    """Microseconds per 4 KiB page: our page function, and the plain public API."""
    page = memoryview(os.urandom(4096))
    out = memoryview(bytearray(4096 + 16))
    fast = page_cipher(SecretBytes(key))
    n = 20000
    start = time.perf_counter()
    for i in range(n):
        fast(i.to_bytes(16, "big"), page, out)
    ours = (time.perf_counter() - start) / n * 1e6
    algorithm = algorithms.AES(key)
    start = time.perf_counter()
    for i in range(n):
        ctx = Cipher(algorithm, modes.XTS(i.to_bytes(16, "big"))).encryptor()
        ctx.update_into(page, out)
        ctx.finalize()
    public = (time.perf_counter() - start) / n * 1e6
    return ours, public


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-pvimg-", dir=args.dir))
    try:
        size = args.size_mib << 20
        inputs = make_inputs(directory, size)
        loaders = find_boot_loaders(directory / "boot")
        host = HostKey(ec.generate_private_key(ec.SECP521R1()).public_key(), "bench")
        key = os.urandom(64)
        # the fresh input must not be dirty (the kernel would throttle our writes
        # for its writeback); then warm the page cache for both runs alike
        os.sync()
        with open(inputs.ramdisk, "rb") as stream:  # type: ignore[arg-type]
            while stream.read(CHUNK):
                pass
        write_behind_bytes = components.WRITE_BEHIND_BYTES
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # first run: a fresh VM pays for touching new guest memory (page cache of
        # the output); the steady-state runs are what we compare with the floor.
        # Outputs are removed only at the end: unlinking a 1 GiB file on a file
        # system mounted with 'discard' keeps the disk busy for the next run.
        times = {}
        runs = (("first", True, True), ("steady", False, True), ("steady+fsync", True, True),
                ("steady+fsync, no write-behind", True, False))
        for number, (label, sync, write_behind) in enumerate(runs):
            window = write_behind_bytes if write_behind else 1 << 62
            setattr(components, "WRITE_BEHIND_BYTES", window)  # noqa: B010
            start = time.perf_counter()
            create_image(directory / f"image{number}.se", inputs,
                         ImageOptions(host_keys=[host], image_key=SecretBytes(key), sync=sync),
                         loaders)
            times[label] = time.perf_counter() - start
            os.sync()
        setattr(components, "WRITE_BEHIND_BYTES", write_behind_bytes)  # noqa: B010
        created = times["steady"]
        rss_create = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        floor_time = floor(inputs.ramdisk, key)  # type: ignore[arg-type]
        ours, public = per_page_overhead(key)
        print(f"ramdisk: {args.size_mib} MiB (random), output on {directory}")
        print(f"pvimg create: {created:.2f} s ({size / created / 1e6:.0f} MB/s) without the final "
              f"fsync; {times['steady+fsync']:.2f} s with it (CLI default), "
              f"{times['steady+fsync, no write-behind']:.2f} s with it but without write-behind; "
              f"first run {times['first']:.2f} s")
        print(f"floor (read + bulk AES-XTS + SHA-512, 1 thread): {floor_time:.2f} s")
        print(f"ratio create/floor: {created / floor_time:.2f}")
        print(f"peak RSS: {rss_create / 1024:.1f} MiB (before create: {rss_before / 1024:.1f} MiB)")
        print(f"per-page XTS call: {ours:.2f} us (ours), {public:.2f} us (public Cipher API)")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
