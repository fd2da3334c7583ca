"""Cost of signed user data and of the secret-list parser.

Run: python bench/bench_user_data.py [--rounds N]
Prints the median time of building a request with each kind of user data
(unsigned, ECDSA P-521, RSA-2048, RSA-3072; keys generated here), of verifying
the signed ones, and of parsing/rendering a full 4-page secret list.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from secexkit.addsecret.request import AddSecretRequest, UserData
from secexkit.addsecret.secrets import meta_secret
from secexkit.addsecret.user_data import make_user_data, verify_request_user_data
from secexkit.formats.request import UserDataType
from secexkit.formats.se_header import BootHdrTags
from secexkit.formats.secret_list import SecretEntry, SecretList, parse_secret_list
from secexkit.hostkeys import HostKey


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    tags = BootHdrTags(b"\1" * 64, b"\2" * 64, b"\3" * 64, b"\4" * 16)
    host = [HostKey(ec.generate_private_key(ec.SECP521R1()).public_key())]
    keys: dict[str, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None] = {
        "unsigned": None,
        "ecdsa-p521": ec.generate_private_key(ec.SECP521R1()),
        "rsa-2048": rsa.generate_private_key(65537, 2048),
        "rsa-3072": rsa.generate_private_key(65537, 3072),
    }
    for name, key in keys.items():
        user_data = (UserData(UserDataType.UNSIGNED, b"x" * 100) if key is None
                     else make_user_data(b"x" * 100, key))
        request = AddSecretRequest(meta_secret(), tags, user_data=user_data)
        built = request.build(host)
        build = median_ms(partial(request.build, host), rounds)
        public = None if key is None else key.public_key()
        verify = median_ms(partial(verify_request_user_data, built, public), rounds)
        print(f"{name:11s} build {build:7.2f} ms  verify {verify:6.2f} ms")

    entries = [SecretEntry(i, 3, 16, os.urandom(32)) for i in range((0x4000 - 16) // 48)]
    blob = SecretList.of(entries).to_bytes().ljust(0x4000, b"\0")
    parse = median_ms(lambda: parse_secret_list(blob), rounds)
    lst = parse_secret_list(blob)
    render = median_ms(lambda: (lst.human(), lst.yaml()), rounds)
    print(f"secret list ({len(entries)} entries) parse {parse:6.2f} ms  "
          f"human+yaml {render:6.2f} ms")


if __name__ == "__main__":
    main()
