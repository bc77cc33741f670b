#!/usr/bin/env python3
"""`run` of /bin/true in a busybox bundle: kiln-runtime, runc and crun side by side.

Each round runs every contender once, in a fresh random order (fixed seed), so that drift on
the machine and the work one run leaves to the kernel (network namespace cleanup, RCU) fall on
every contender alike, whoever ran before it. Every command runs
under the same wrapper: a private mount namespace with /sys/fs/cgroup/unified unmounted, which
stock crun needs on a hybrid cgroup host; the bare namespace floor (unshare + chroot) runs under
it too. Reported per contender: median and p90 wall time, median CPU time (user + system of the
whole process tree), and the ratios the targets are stated in.

Also measured, in separate passes: create and start latency (create returning, then start
returning) and peak RSS (max resident set of the runtime and its waited-for children).

Usage: bench/runtime_run.py --runtime build/bin/kiln-runtime [--runs 100] [--markdown]
           [--wrapper build/bin/private_mounts]
"""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

WRAPPER = []  # set in main(): build/bin/private_mounts, or --wrapper


def make_bundle(root):
    rootfs = os.path.join(root, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
    for applet in ("true", "sh"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    # runc's default config, the same file for every runtime.
    subprocess.run(["runc", "spec", "--bundle", root], check=True)
    path = os.path.join(root, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    return rootfs


def timed(argv):
    """Wall seconds and CPU seconds (children) of one command; raises if it fails."""
    # stderr goes to a file, not a pipe: a created container holds the runtime's stdio open.
    with tempfile.TemporaryFile() as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=err)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} failed: {err.read().decode().strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def pct(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True, help="kiln-runtime binary")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--gap-ms", type=float, default=0,
                    help="pause between runs, so that the kernel's deferred work from one run (network "
                         "namespace cleanup, RCU callbacks) is not charged to the next")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--wrapper", help="the private-mount-namespace wrapper (default: next to --runtime's build)")
    args = ap.parse_args()
    wrapper = args.wrapper or os.path.join(os.path.dirname(os.path.abspath(args.runtime)), "private_mounts")
    WRAPPER[:] = [os.path.abspath(wrapper)]
    if os.geteuid() != 0:
        sys.exit("runtime_run.py: needs root")

    kiln = os.path.abspath(args.runtime)
    work = tempfile.mkdtemp(prefix="kiln-bench-")
    try:
        bundle = os.path.join(work, "bundle")
        os.makedirs(bundle)
        rootfs = make_bundle(bundle)
        roots = {name: os.path.join(work, "root-" + name) for name in ("kiln", "runc", "crun")}
        binaries = {"kiln": kiln, "runc": shutil.which("runc"), "crun": shutil.which("crun")}
        contenders = {
            name: (lambda i, name=name: WRAPPER + [binaries[name], "--root", roots[name], "run", "--bundle", bundle,
                                                  f"bench-{name}-{i}"])
            for name in binaries
        }
        contenders["floor"] = lambda i: WRAPPER + ["unshare", "--mount", "--pid", "--ipc", "--uts", "--net",
                                                   "--cgroup", "--fork", "chroot", rootfs, "/bin/true"]
        names = list(contenders)
        walls = {n: [] for n in names}
        cpus = {n: [] for n in names}
        rng = random.Random(1)
        for i in range(args.warmup + args.runs):
            order = list(names)
            rng.shuffle(order)
            for n in order:
                time.sleep(args.gap_ms / 1000.0)
                w, c = timed(contenders[n](i))
                if i >= args.warmup:
                    walls[n].append(w)
                    cpus[n].append(c)

        # create and start, each timed on its own (every command under the wrapper); then peak
        # RSS of a whole run through GNU time.
        latency = {}
        rss = {}
        for name in ("kiln", "runc", "crun"):
            base = WRAPPER + [binaries[name], "--root", roots[name]]
            creates, starts = [], []
            for i in range(max(20, args.runs // 5)):
                cid = f"lat-{name}-{i}"
                time.sleep(args.gap_ms / 1000.0)
                creates.append(timed(base + ["create", "--bundle", bundle, cid])[0])
                starts.append(timed(base + ["start", cid])[0])
                while "stopped" not in subprocess.run(base + ["state", cid], capture_output=True, text=True).stdout:
                    time.sleep(0.001)
                subprocess.run(base + ["delete", cid], check=True, stdout=subprocess.DEVNULL)
            latency[name] = (statistics.median(creates), statistics.median(starts))
            peak = 0
            for i in range(10):
                out = subprocess.run(WRAPPER + ["/usr/bin/time", "-f", "%M", binaries[name], "--root", roots[name],
                                                "run", "--bundle", bundle, f"rss-{name}-{i}"],
                                     check=True, capture_output=True, text=True)
                peak = max(peak, int(out.stderr.strip().splitlines()[-1]))
            rss[name] = peak
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {n: statistics.median(walls[n]) for n in names}
    cpu = {n: statistics.median(cpus[n]) for n in names}
    ms = lambda s: f"{s * 1000:.2f}"
    if args.markdown:
        print(f"{args.runs} interleaved runs each, under the same wrapper (bench/private_mounts: a private mount "
              f"namespace without /sys/fs/cgroup/unified).\n")
        print("| contender | median wall ms | p90 wall ms | median CPU ms | create ms | start ms | peak RSS KiB |")
        print("|---|---|---|---|---|---|---|")
        for n in names:
            lat = latency.get(n)
            print(f"| {n} | {ms(med[n])} | {ms(pct(walls[n], 90))} | {ms(cpu[n])} | "
                  f"{ms(lat[0]) if lat else '-'} | {ms(lat[1]) if lat else '-'} | {rss.get(n, '-')} |")
        print()
        print(f"- kiln / crun, median wall: **{med['kiln'] / med['crun']:.2f}x** (target at most 0.7x)")
        print(f"- kiln / crun, median CPU: **{cpu['kiln'] / cpu['crun']:.2f}x** (target at most 0.7x)")
        print(f"- kiln / floor, median wall: **{med['kiln'] / med['floor']:.2f}x** (target at most 2x)")
        print(f"- kiln / runc, median wall: {med['kiln'] / med['runc']:.2f}x")
    else:
        for n in names:
            print(f"{n:6} wall median {ms(med[n])} ms p90 {ms(pct(walls[n], 90))} ms  cpu median {ms(cpu[n])} ms"
                  + (f"  create {ms(latency[n][0])} ms start {ms(latency[n][1])} ms rss {rss[n]} KiB"
                     if n in latency else ""))
        print(f"kiln/crun wall {med['kiln'] / med['crun']:.2f}x cpu {cpu['kiln'] / cpu['crun']:.2f}x  "
              f"kiln/floor wall {med['kiln'] / med['floor']:.2f}x")


if __name__ == "__main__":
    main()
