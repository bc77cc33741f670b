#!/usr/bin/env python3
"""Pull and unpack of a multi-layer image from a local registry: `kiln pull` against
`skopeo copy` followed by `umoci unpack`, side by side in one invocation.

The image: busybox plus LAYERS layers of LAYER_MIB MiB of random (incompressible) bytes each,
built with umoci, pushed with skopeo to a docker-registry of our own on 127.0.0.1
(tests/fixtures/registry.sh). kiln: a kilnd of our own (see kilnd_run.py); each round
`kiln pull -q` is timed from the command to its exit (every blob fetched, verified and unpacked
into snapshots), then the image is deleted, which removes its blobs and snapshots, so every
round starts empty. The peers: `skopeo copy docker://... oci:DIR:tag` then `umoci unpack
--image DIR:tag BUNDLE`, timed together, their directories removed after. Each round runs the
two in a fresh random order (fixed seed), after a warm-up round.

Reported: median and p90 wall time; unpack throughput (the layers' uncompressed bytes over the
time from the first layer's "unpacking" to the last "unpacked" in kilnd's progress stream, for
kiln; over umoci unpack's wall time, for the peers); peak RSS (kilnd's VmHWM during a pull, its
peak reset before each through /proc/PID/clear_refs, and the CLI's; the larger of skopeo's and
umoci's own peaks).

Usage: sudo bench/image_pull.py [--bin build/bin] [--runs 5] [--layers 5] [--layer-mib 10] [--markdown]
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilnd_run import REPO, Kilnd, Scratch, log, machine_line, pct, tool_version, UnixHTTPConnection  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "fixtures")


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def timed_rss(argv):
    """Wall seconds and peak RSS (KiB) of one command. The peak comes from GNU time, whose child
    is small before it execs the command; a child of this Python process would report Python's
    own size as its peak."""
    with tempfile.NamedTemporaryFile("r") as out:
        start = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, *argv], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {r.stderr.strip()}")
        return wall, int(out.read().strip().splitlines()[-1])


def build_image(scratch, base_layout, layers, layer_mib):
    """An OCI layout with tag "bench": busybox and `layers` layers of random bytes."""
    lay = scratch.path("image")
    run(["skopeo", "copy", "-q", f"oci:{base_layout}:latest", f"oci:{lay}:bench"])
    bundle = scratch.path("build-bundle")
    for i in range(layers):
        shutil.rmtree(bundle, ignore_errors=True)
        run(["umoci", "unpack", "--image", f"{lay}:bench", bundle])
        data = os.path.join(bundle, "rootfs", "data")
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, f"layer{i}.bin"), "wb") as f:
            for _ in range(layer_mib):
                f.write(os.urandom(1 << 20))
        run(["umoci", "repack", "--image", f"{lay}:bench", bundle])
    shutil.rmtree(bundle, ignore_errors=True)
    run(["umoci", "gc", "--layout", lay])
    index = json.load(open(os.path.join(lay, "index.json")))
    digest = next(m["digest"] for m in index["manifests"]
                  if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "bench")
    manifest = json.load(open(os.path.join(lay, "blobs", "sha256", digest[7:])))
    return lay, manifest


def uncompressed_bytes(layout, manifest):
    config = json.load(open(os.path.join(layout, "blobs", "sha256", manifest["config"]["digest"][7:])))
    total = 0
    for layer in manifest["layers"]:
        out = subprocess.run(f"gzip -dc {os.path.join(layout, 'blobs', 'sha256', layer['digest'][7:])} | wc -c",
                             shell=True, capture_output=True, text=True, check=True).stdout
        total += int(out)
    return total, len(config["rootfs"]["diff_ids"])


def kiln_pull_rest(kilnd, ref):
    """POST /v1/images/pull; the seconds from the first "unpacking" line to the last "unpacked"."""
    conn = UnixHTTPConnection(kilnd.socket, 600)
    first = last = None
    try:
        conn.request("POST", "/v1/images/pull", body=json.dumps({"reference": ref}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        for raw in r:
            line = json.loads(raw)
            now = time.perf_counter()
            if line.get("status") == "unpacking" and first is None:
                first = now
            if line.get("status") == "unpacked":
                last = now
            if "error" in line:
                raise RuntimeError(line["error"]["message"])
    finally:
        conn.close()
    return (last - first) if first and last else None


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--layer-mib", type=int, default=10)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    scratch = Scratch("kiln-bench-pull-")
    log(f"scratch dir {scratch.dir}")
    reg_dir = scratch.path("registry")
    scratch.on_cleanup(lambda: subprocess.run([os.path.join(FIXTURES, "registry.sh"), "stop", reg_dir]))
    try:
        image_dir = os.path.join(REPO, "build", "test-images")
        run([os.path.join(REPO, "scripts", "build-busybox-image.sh"), image_dir])
        layout, manifest = build_image(scratch, os.path.join(image_dir, "oci"), args.layers, args.layer_mib)
        raw_bytes, n_layers = uncompressed_bytes(layout, manifest)
        blob_bytes = sum(l["size"] for l in manifest["layers"])
        port = run([os.path.join(FIXTURES, "registry.sh"), "start", reg_dir, "none"]).strip()
        ref = f"127.0.0.1:{port}/bench/image:1"
        run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-no-creds", f"oci:{layout}:bench", f"docker://{ref}"])
        log(f"{ref}: {n_layers} layers, {blob_bytes / 2**20:.1f} MiB of blobs, {raw_bytes / 2**20:.1f} MiB unpacked")

        kilnd = Kilnd(scratch, args.bin)
        kilnd.start()

        def kiln_round():
            with open(f"/proc/{kilnd.proc.pid}/clear_refs", "w") as f:
                f.write("5")
            wall, cli_rss = timed_rss(kilnd.cli("pull", "-q", ref))
            hwm = vm_hwm(kilnd.proc.pid)
            status, body = kilnd.request("DELETE", "/v1/images/" + ref.replace("/", "%2F").replace(":", "%3A"))
            if status != 204:
                raise RuntimeError(f"deleting {ref}: {status} {body}")
            return wall, (hwm, cli_rss)

        peer_oci, peer_bundle = scratch.path("peer-oci"), scratch.path("peer-bundle")

        def peers_round():
            w1, r1 = timed_rss(["skopeo", "copy", "-q", "--src-tls-verify=false", "--src-no-creds",
                                f"docker://{ref}", f"oci:{peer_oci}:bench"])
            w2, r2 = timed_rss(["umoci", "unpack", "--image", f"{peer_oci}:bench", peer_bundle])
            shutil.rmtree(peer_oci)
            shutil.rmtree(peer_bundle)
            return w1 + w2, max(r1, r2), w2

        results = {"kiln": [], "skopeo+umoci": []}
        rss = {"kiln": [], "skopeo+umoci": []}
        umoci_unpack = []
        rng = random.Random(42)
        for round_no in range(args.runs + 1):
            order = ["kiln", "skopeo+umoci"]
            rng.shuffle(order)
            for who in order:
                if who == "kiln":
                    wall, peak = kiln_round()
                else:
                    wall, peak, unpack = peers_round()
                if round_no == 0:
                    continue  # warm-up
                results[who].append(wall)
                rss[who].append(peak)
                if who != "kiln":
                    umoci_unpack.append(unpack)
            log(f"round {round_no}/{args.runs}" + (" (warm-up)" if round_no == 0 else ""))

        kiln_unpack = []
        for _ in range(3):
            kiln_unpack.append(kiln_pull_rest(kilnd, ref))
            kilnd.request("DELETE", "/v1/images/" + ref.replace("/", "%2F").replace(":", "%3A"))
        kiln_unpack = [u for u in kiln_unpack if u]

        versions = f"{tool_version(['skopeo', '--version'])}, {tool_version(['umoci', '--version'])}"
        load = os.getloadavg()[0]
    finally:
        scratch.cleanup()

    ms = lambda s: f"{s * 1000:.0f}"
    mibs = lambda seconds: f"{raw_bytes / 2**20 / seconds:.0f}" if seconds else "?"
    ratio = statistics.median(results["kiln"]) / statistics.median(results["skopeo+umoci"])
    verdict = "met" if ratio <= 0.5 else "**not met**"
    cmd = "sudo bench/image_pull.py " + " ".join(sys.argv[1:])
    if args.markdown:
        print(f"{args.runs} interleaved rounds (after a warm-up round); {n_layers} layers, "
              f"{blob_bytes / 2**20:.1f} MiB of blobs, {raw_bytes / 2**20:.1f} MiB unpacked; {machine_line()}; "
              f"load average {load:.2f} after. {versions}. Command: `{cmd}`\n")
        print("| contender | median wall ms | p90 wall ms | unpack MiB/s (median) | peak RSS MiB (max) |")
        print("|---|---|---|---|---|")
    for who in ("kiln", "skopeo+umoci"):
        unpack = statistics.median(kiln_unpack) if who == "kiln" and kiln_unpack else (
            statistics.median(umoci_unpack) if who != "kiln" else None)
        if who == "kiln":
            peak = (f"{max(h for h, _ in rss[who]) / 1024:.1f} (kilnd) + "
                    f"{max(c for _, c in rss[who]) / 1024:.1f} (kiln CLI)")
        else:
            peak = f"{max(rss[who]) / 1024:.1f}"
        row = [who, ms(statistics.median(results[who])), ms(pct(results[who], 90)), mibs(unpack), peak]
        print("| " + " | ".join(row) + " |" if args.markdown else "  ".join(row))
    print()
    print(f"- kiln / (skopeo copy + umoci unpack), median wall: **{ratio:.2f}x** (target at most 0.5x): {verdict}")


if __name__ == "__main__":
    main()
