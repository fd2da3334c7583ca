"""Fleet provisioning speed: one ``pvsecret plan`` run vs the OpenSSL floor and vs a loop of
single ``pvsecret create`` processes; and one ``pvsecret create meta --no-verify`` start-up
vs a bare ``cryptography`` ``ec`` import (ADR 0122).

Run: python bench/bench_fleet.py [--guests 1000] [--sample 200] [--jobs N]

The plan: GUESTS guests x 10 requests (meta, 3 association, 3 retrievable, update-cck,
2 meta with user data), 3 host-key documents each, verification on with local CRLs
(offline), generated test PKI.  The floor is bench_request.py's: the same primitive calls
made directly, single core, 3 host keys; the target is 0.8 x cores x floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]

from bench_request import floor_once, median_times, rate  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from tests.support import pki  # noqa: E402
from tests.support.fleet import World, build_world, every_request, guest  # noqa: E402

CLI = [sys.executable, "-c", "import sys\nfrom secexkit.cli.pvsecret import main\nsys.exit(main())"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}


def ten_requests(world: World) -> list[dict[str, Any]]:
    """Ten requests of the plan (the signed one of every_request replaced by a meta)."""
    requests = every_request(world)[:9]
    requests.append({"meta": {"output": "last.bin"}})
    return requests


def run_plan(plan: Path, out: Path, jobs: int, *extra: str
             ) -> tuple[float, int, int, dict[str, Any]]:
    """(wall seconds, parent peak RSS KiB, largest worker peak RSS KiB, summary).

    The parent's peak is VmHWM (ru_maxrss would carry this benchmark's own size over exec).
    """
    probe = (
        "import json, resource, sys\n"
        "from secexkit.cli.pvsecret import main\n"
        "code = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps([code, int(hwm),\n"
        "                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]),"
        " file=sys.stderr)\n")
    summary = out.parent / "summary.json"
    os.sync()  # flush earlier runs' files and deletions: syncfs would pay for them (ADR 0150)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, "plan", str(plan), "-o", str(out),
                           "-j", str(jobs), "-f", "-q", "--summary", str(summary), *extra],
                          env=ENV, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    code, parent, children = json.loads(done.stderr.strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"pvsecret plan failed: {done.stderr}")
    return wall, parent, children, json.loads(summary.read_text())


def single_commands(world: World, out: Path, sample: int) -> list[list[str]]:
    """``sample`` single ``pvsecret create`` command lines, cycling through the 10 requests."""
    trust = [a for c in world.certs for a in ("--cert", str(c))]
    trust += [a for c in world.crls for a in ("--crl", str(c))]
    trust += ["--root-ca", str(world.root_ca), "--offline"]
    hosts = [a for h in world.hosts for a in ("-k", str(h))]
    requests = ten_requests(world)
    commands = []
    for number in range(sample):
        [(kind, options)] = requests[number % len(requests)].items()
        argv = ["create", kind, "-o", str(out / f"{number}.bin"), "--hdr", str(world.hdr),
                *hosts, *trust, "-f"]
        for key, value in options.items():
            if key == "name":
                argv.append(f"{value}-{number}")
            elif key == "use-name":
                argv.append("--use-name")
            elif key == "flags":
                argv += ["--flags", ",".join(value)]
            elif key == "output-secret":
                argv += ["--output-secret", str(out / f"{number}.secret")]
            elif key != "output":
                argv += [f"--{key}", str(value)]
        commands.append(argv)
    return commands


_HOSTS: list[ec.EllipticCurvePublicKey] = []  # inherited by the forked floor workers


def _floor_batch(count: int) -> None:
    for _ in range(count):
        floor_once(_HOSTS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=200, help="single runs of the loop")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--startup-runs", type=int, default=30)
    parser.add_argument("--dir", help="where inputs and outputs go (default: the temporary "
                        "folder); /dev/shm separates our work from the disk's speed")
    parser.add_argument("--repeat", type=int, default=1,
                        help="plan runs, each paired with floors measured just before it")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the start-up comparison: a clean virtualenv "
                             "with secexkit installed gives the honest ratio (a site-packages "
                             "whose .pth files preload modules inflates the bare import)")
    parser.add_argument("--startup-only", action="store_true",
                        help="only the start-up comparison")
    parser.add_argument("--vectors", type=Path,
                        default=ROOT.parent / "shared" / "vectors" / "s390-tools")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-", dir=args.dir))
    if args.startup_only:
        startup(args, work)
        return
    world = build_world(work / "inputs", pki.build_pki(), args.vectors / "exp" / "secure_guest.hdr")
    guests = [guest(world, f"guest-{i:05d}", ten_requests(world)) for i in range(args.guests)]
    plan = world.write_plan(guests)
    del guests
    requests = 10 * args.guests

    # the single-core floor with 3 host keys (bench_request.py's floor_once)
    from secexkit.hostkeys import parse_host_key_document

    hosts: list[ec.EllipticCurvePublicKey] = [
        parse_host_key_document(p.read_bytes(), str(p)).host_key.public_key for p in world.hosts]
    import multiprocessing

    _HOSTS[:] = hosts

    def floors() -> tuple[float, float]:
        single = rate(lambda: floor_once(hosts), 300)
        with multiprocessing.get_context("fork").Pool(cores) as pool:
            start = time.perf_counter()
            pool.map(_floor_batch, [500] * cores)
            return single, 500 * cores / (time.perf_counter() - start)

    # on a shared machine the speed drifts: each plan run is paired with floors measured
    # just before it, and the ratios of each pair are reported
    ratios = []
    for _ in range(args.repeat):
        floor, parallel = floors()
        target = 0.8 * cores * floor
        print(f"floor (1 core, 3 host keys): {floor:7.0f} req/s; target 0.8 x {cores} cores x "
              f"floor = {target:7.0f} req/s; floor in {cores} processes at once: "
              f"{parallel:7.0f} req/s ({parallel / floor:.2f} x one core)")
        shutil.rmtree(work / "out", ignore_errors=True)
        wall, parent, children, summary = run_plan(plan, work / "out", args.jobs)
        assert summary["counts"] == {"written": args.guests}, summary["counts"]
        ratios.append(requests / wall / target)
        print(f"  pvsecret plan -j {args.jobs}: {requests} requests ({args.guests} guests) in "
              f"{wall:6.2f} s = {requests / wall:7.0f} req/s ({requests / wall / target:.2f} x "
              f"target, {requests / wall / parallel:.2f} x the parallel floor); peak RSS parent "
              f"{parent / 1024:5.1f} MB, largest worker {children / 1024:5.1f} MB")
    if args.repeat > 1:
        print(f"x target over {args.repeat} pairs: best {max(ratios):.2f}, "
              f"median {statistics.median(ratios):.2f}")

    for jobs, extra in ((args.jobs, ("--no-sync",)), (1, ("--no-sync",)), (args.jobs, ("--dry-run",))):
        shutil.rmtree(work / "out2", ignore_errors=True)
        wall2, parent2, _, _ = run_plan(plan, work / "out2", jobs, *extra)
        print(f"pvsecret plan -j {jobs} {' '.join(extra)}: {wall2:6.2f} s = "
              f"{requests / wall2:7.0f} req/s; peak RSS parent {parent2 / 1024:5.1f} MB")

    loop_out = work / "loop"
    loop_out.mkdir()
    commands = single_commands(world, loop_out, args.sample)
    start = time.perf_counter()
    for argv in commands:
        subprocess.run([*CLI, *argv], env=ENV, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    loop = time.perf_counter() - start
    per = loop / args.sample
    print(f"loop of single pvsecret create (verification on): {args.sample} runs in {loop:6.2f} s "
          f"= {per * 1000:5.1f} ms/request; {requests} requests scaled: {per * requests:7.1f} s "
          f"({per * requests / wall:.0f}x the plan run)")

    startup(args, work)


def startup(args: argparse.Namespace, work: Path) -> None:
    """``pvsecret create meta --no-verify`` vs a bare ``ec`` import and the stdlib floor."""
    python = args.python
    cli = [python, *CLI[1:]]
    hkd = args.vectors / "cert" / "host.crt"
    out = work / "startup.bin"
    commands_startup = {
        "bare import": [python, "-c",
                        "from cryptography.hazmat.primitives.asymmetric import ec"],
        "stdlib floor": [python, "-c",
                         "import argparse, logging, signal\n"
                         "from cryptography.hazmat.primitives.asymmetric import ec\n"
                         "from cryptography.hazmat.primitives.ciphers.aead import AESGCM"],
        "pvsecret create": [*cli, "create", "meta", "-k", str(hkd), "--hdr",
                            str(args.vectors / "exp" / "secure_guest.hdr"), "-o", str(out),
                            "--no-verify", "--flags", "disable-dump", "-f"],
    }
    subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    os.environ["PYTHONPATH"] = ENV["PYTHONPATH"]
    times = median_times(commands_startup, args.startup_runs)
    bare = times["bare import"]
    for name, (wall_s, cpu) in times.items():
        print(f"{name:16s} wall {wall_s * 1000:6.1f} ms ({wall_s / bare[0]:.2f}x)  "
              f"cpu {cpu * 1000:6.1f} ms ({cpu / bare[1]:.2f}x)")
    print("where pvsecret create's start-up goes (-X importtime, cumulative us, top-level):")
    trace = subprocess.run([python, "-X", "importtime", *CLI[1:],
                            *commands_startup["pvsecret create"][len(cli):]],
                           env=ENV, capture_output=True, text=True, check=True).stderr
    top: list[tuple[int, str]] = []
    for line in trace.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, total, module = line[len("import time:"):].split("|")
        if total.strip().isdigit() and not module[1:].startswith(" "):  # top-level imports
            top.append((int(total), module.strip()))
    for micros, module in sorted(top, reverse=True)[:12]:
        print(f"  {micros / 1000:6.1f} ms  {module}")


if __name__ == "__main__":
    main()
