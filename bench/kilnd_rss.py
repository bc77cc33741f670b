#!/usr/bin/env python3
"""Memory with 200 sleeping pods: kilnd, its kiln-monitors and kiln-pause sandboxes, beside
conmon (podman) and an idle containerd, measured in one invocation.

A kilnd of our own (every path in a temp dir, its own cgroup parent; see kilnd_run.py) imports
the busybox image and is measured idle; then 200 detached pods are created with
`kiln run -d --name bench-N --network none busybox sleep 100000` (8 at a time). Each pod is a
kiln-pause sandbox (two processes: the launcher kilnd starts, and the holder of the namespaces,
its child) and one container held by its kiln-monitor. Once every pod is running and a few
seconds have passed, the script reads, from /proc: kilnd's VmRSS and VmHWM (peak), and each
monitor's and each sandbox process's VmRSS, with Pss and private
memory from smaps_rollup (VmRSS counts every resident page a process maps, including pages of a
binary or library shared with every other process that maps it; Pss divides each shared page
among its sharers; private pages are the process's alone).

While the pods still run, a podman with all state in the same temp dir starts a few detached
`sleep` containers (runc; the monitor is the same conmon whichever runtime) and conmon's memory is
read the same way. Last, an idle containerd (temp config, root and state; the CRI plugin off, as
tests/compat/containerd-daemon.sh starts it) is measured after it has answered `ctr version`.

Usage: sudo bench/kilnd_rss.py [--bin build/bin] [--pods 200] [--markdown] [--breakdown]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilnd_run import (IMAGE_REF, REPO, Kilnd, Podman, Scratch, build_image, log, machine_line,  # noqa: E402
                       read_text, run_parallel, tool_version)


def status_kib(pid):
    """The kB fields of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile, ...) and Threads."""
    out = {}
    for line in read_text(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0])
    return out


def rollup_kib(pid):
    out = {}
    for line in read_text(f"/proc/{pid}/smaps_rollup").splitlines()[1:]:
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0])
    out["Private"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    return out


def memory(pid):
    s, r = status_kib(pid), rollup_kib(pid)
    return {"rss": s.get("VmRSS", 0), "hwm": s.get("VmHWM", 0), "anon": s.get("RssAnon", 0),
            "file": s.get("RssFile", 0), "threads": s.get("Threads", 0), "pss": r.get("Pss", 0),
            "private": r.get("Private", 0)}


def breakdown(pid, top=8):
    """Resident KiB per mapping name (file basename, [heap], [stack], [anon]), largest first."""
    groups = {}
    name = None
    for line in read_text(f"/proc/{pid}/smaps").splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            name = os.path.basename(fields[5]) if len(fields) > 5 else "[anon]"
        elif fields and fields[0] in ("Rss:", "Anonymous:"):
            entry = groups.setdefault(name, [0, 0])
            entry[0 if fields[0] == "Rss:" else 1] += int(fields[1])
    rows = sorted(groups.items(), key=lambda kv: -kv[1][0])
    return rows[:top], sum(v[0] for v in groups.values())


def summary(values):
    return statistics.median(values), max(values), min(values)


# ---------------------------------------------------------------------------------------------
# containerd, idle

CONTAINERD_CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd-ttrpc.sock"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"""


def containerd_idle(scratch, settle):
    """VmRSS and VmHWM of an idle containerd, or None (with the reason logged)."""
    if not shutil.which("containerd") or not shutil.which("ctr"):
        log("containerd or ctr is not installed: skipping containerd")
        return None
    d = scratch.path("containerd")
    os.makedirs(d)
    with open(os.path.join(d, "config.toml"), "w") as f:
        f.write(CONTAINERD_CONFIG.format(d=d))
    run_containerd_existed = os.path.exists("/run/containerd")
    with open(os.path.join(d, "containerd.log"), "ab") as logf:
        proc = subprocess.Popen(["containerd", "--config", os.path.join(d, "config.toml")], stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=logf, start_new_session=True)

    def stop():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not run_containerd_existed:  # only what this containerd may have made, and only if empty
            for sub in ("/run/containerd/s", "/run/containerd/runc", "/run/containerd"):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
    scratch.on_cleanup(stop)
    deadline = time.monotonic() + 30
    while subprocess.run(["ctr", "--address", os.path.join(d, "containerd.sock"), "version"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            log(f"containerd did not start: {read_text(os.path.join(d, 'containerd.log'))[-2000:]}")
            stop()
            return None
        time.sleep(0.1)
    time.sleep(settle)
    m = memory(proc.pid)
    m["version"] = tool_version(["containerd", "--version"])
    stop()
    return m


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build/bin"), help="kilnd, kiln, kiln-monitor, ... (build/bin)")
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--threads", type=int, default=8, help="pods created at a time")
    ap.add_argument("--podman-containers", type=int, default=3)
    ap.add_argument("--podman-runtime", default="runc", help="runc, or crun (under bench/private_mounts)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to wait before reading memory")
    ap.add_argument("--no-containerd", action="store_true")
    ap.add_argument("--image-dir", help="busybox image cache (built by scripts/build-busybox-image.sh)")
    ap.add_argument("--breakdown", action="store_true", help="also print resident memory per mapping")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("kilnd_rss.py: needs root")
    for tool in ("podman", "conmon"):
        if shutil.which(tool) is None:
            sys.exit(f"kilnd_rss.py: {tool} is not installed")
    bin_dir = os.path.abspath(args.bin)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = Scratch("kiln-bench-kilnd-rss-")
    try:
        log(f"scratch dir {scratch.dir}, cgroups {scratch.tag}")
        image_dir = build_image(scratch, args.image_dir)
        kilnd = Kilnd(scratch, bin_dir)
        kilnd.start()
        kilnd.import_busybox(image_dir)
        time.sleep(args.settle)
        kilnd_idle = memory(kilnd.proc.pid)

        start = time.monotonic()
        run_parallel([kilnd.cli("run", "-d", "--name", f"bench-{i}", "--network", "none", "busybox", "sleep", "100000")
                      for i in range(args.pods)], args.threads)
        create_s = time.monotonic() - start
        pods = kilnd.pods()
        running = [p for p in pods if p.get("state") == "running"]
        log(f"{len(running)}/{args.pods} pods running after {create_s:.1f} s")
        time.sleep(args.settle)
        pods = kilnd.pods()
        kilnd_busy = memory(kilnd.proc.pid)
        kilnd_map = breakdown(kilnd.proc.pid) if args.breakdown else None

        container_monitors, launchers, pauses = [], [], []
        for p in pods:
            for c in p.get("containers", []):
                if c.get("state") == "running" and c.get("monitorPid"):
                    container_monitors.append(memory(c["monitorPid"]))
            sb = p.get("sandbox") or {}
            if sb.get("state") == "running":
                if sb.get("monitorPid"):
                    launchers.append(memory(sb["monitorPid"]))
                if sb.get("pid"):
                    pauses.append(memory(sb["pid"]))
        first_monitor = next(c["monitorPid"] for p in pods for c in p.get("containers", []) if c.get("monitorPid"))
        monitor_map = breakdown(first_monitor) if args.breakdown else None
        live_monitors = sum(1 for pid in kilnd.children() if read_text(f"/proc/{pid}/comm").strip() == "kiln-monitor")

        # podman: a few detached sleeping containers, while the pods still run.
        podman = Podman(scratch)
        podman.add_runtime(args.podman_runtime, os.path.join(bin_dir, "private_mounts")
                           if args.podman_runtime == "crun" else None)
        podman.load(image_dir)
        for i in range(args.podman_containers):
            subprocess.run(podman.run_cmd(args.podman_runtime, "-d", "--name", f"bench-{i}", IMAGE_REF, "sleep", "100000"),
                           check=True, stdout=subprocess.DEVNULL, env=podman.env)
        time.sleep(args.settle)
        conmons = []
        for i in range(args.podman_containers):
            out = subprocess.run(podman.cmd(args.podman_runtime, "inspect", "--format", "{{.State.ConmonPid}}",
                                            f"bench-{i}"), check=True, capture_output=True, text=True, env=podman.env)
            conmons.append(memory(int(out.stdout.strip())))
        conmon_map = breakdown(int(out.stdout.strip())) if args.breakdown else None
        versions = {"podman": tool_version(["podman", "--version"]), "conmon": tool_version(["conmon", "--version"])}
        podman.remove_all()

        containerd = None if args.no_containerd else containerd_idle(scratch, args.settle)
    finally:
        scratch.cleanup()

    mib = lambda kib: f"{kib / 1024:.1f}"
    mon_rss = summary([m["rss"] for m in container_monitors])
    con_rss = summary([m["rss"] for m in conmons])
    kilnd_ok = kilnd_busy["rss"] <= 20 * 1024
    mon_ok = mon_rss[1] <= con_rss[0]
    verdict = lambda ok: "met" if ok else "**not met**"
    cmd = "sudo bench/kilnd_rss.py " + " ".join(sys.argv[1:])
    kiln_total_pss = kilnd_busy["pss"] + sum(m["pss"] for m in container_monitors + launchers + pauses)

    rows = [("kilnd, idle (image imported, no pod)", [kilnd_idle]),
            (f"kilnd, {len(pods)} pods", [kilnd_busy]),
            (f"kiln-monitor of a container (x{len(container_monitors)})", container_monitors),
            (f"kiln-pause launcher of a sandbox (x{len(launchers)})", launchers),
            (f"kiln-pause holder of a sandbox (x{len(pauses)})", pauses),
            (f"conmon (x{len(conmons)}, podman)", conmons)]
    if containerd:
        rows.append(("containerd, idle", [containerd]))

    if args.markdown:
        print(f"{len(running)} pods running of {args.pods} created ({args.threads} at a time, {create_s:.1f} s); "
              f"{live_monitors} kiln-monitors alive, {len(pauses)} kiln-pause sandboxes; "
              f"{args.podman_containers} podman containers beside them. {machine_line()}. {versions['podman']}, "
              f"{versions['conmon']}" + (f", {containerd['version']}" if containerd else "") +
              f". Command: `{cmd}`\n")
        print("| process | VmRSS MiB (median) | VmRSS MiB (max) | VmHWM MiB (max) | Pss MiB (median) | "
              "private MiB (median) | threads |")
        print("|---|---|---|---|---|---|---|")
        for label, ms in rows:
            med = lambda k: statistics.median(m[k] for m in ms)
            mx = lambda k: max(m[k] for m in ms)
            print(f"| {label} | {mib(med('rss'))} | {mib(mx('rss'))} | {mib(mx('hwm'))} | {mib(med('pss'))} | "
                  f"{mib(med('private'))} | {mx('threads')} |")
        print()
        print(f"- kilnd with {len(pods)} pods: VmRSS **{mib(kilnd_busy['rss'])} MiB** (target at most 20 MiB): "
              f"{verdict(kilnd_ok)}; peak (VmHWM) {mib(kilnd_busy['hwm'])} MiB; of its VmRSS, "
              f"{mib(kilnd_busy['anon'])} MiB anonymous and {mib(kilnd_busy['file'])} MiB file-backed")
        print(f"- largest kiln-monitor VmRSS / median conmon VmRSS: **{mon_rss[1] / con_rss[0]:.2f}x** "
              f"({mib(mon_rss[1])} / {mib(con_rss[0])} MiB; target at most 1x): {verdict(mon_ok)}; median kiln-monitor "
              f"Pss / conmon Pss {statistics.median(m['pss'] for m in container_monitors) / statistics.median(m['pss'] for m in conmons):.2f}x, "
              f"private {statistics.median(m['private'] for m in container_monitors) / statistics.median(m['private'] for m in conmons):.2f}x")
        if containerd:
            print(f"- kilnd with {len(pods)} pods / idle containerd, VmRSS: {kilnd_busy['rss'] / containerd['rss']:.2f}x")
        print(f"- everything kiln runs for the {len(pods)} pods (kilnd, {len(container_monitors)} "
              f"monitors, {len(pauses)} sandboxes of two processes), Pss summed: {mib(kiln_total_pss)} MiB, "
              f"{kiln_total_pss / max(1, len(pods)):.0f} KiB a pod")
        if args.breakdown:
            for label, (top, total) in (("kilnd", kilnd_map), ("a kiln-monitor", monitor_map), ("conmon", conmon_map)):
                print(f"- resident KiB by mapping, {label} ({total} KiB): " +
                      ", ".join(f"{name} {rss} ({anon} anon)" for name, (rss, anon) in top))
    else:
        for label, ms in rows:
            print(f"{label:45} rss median {mib(statistics.median(m['rss'] for m in ms))} MiB max "
                  f"{mib(max(m['rss'] for m in ms))} MiB hwm {mib(max(m['hwm'] for m in ms))} MiB "
                  f"pss {mib(statistics.median(m['pss'] for m in ms))} MiB")
        print(f"kilnd <= 20 MiB: {verdict(kilnd_ok).strip('*')}; max monitor <= conmon: {verdict(mon_ok).strip('*')}")
        if args.breakdown:
            for label, (top, total) in (("kilnd", kilnd_map), ("kiln-monitor", monitor_map), ("conmon", conmon_map)):
                print(f"{label} ({total} KiB): " + ", ".join(f"{n} {r} ({a} anon)" for n, (r, a) in top))
        print(f"machine: {machine_line()}")


if __name__ == "__main__":
    main()
