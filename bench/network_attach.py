#!/usr/bin/env python3
"""A pod's network attach plus detach through kiln's cni plugin, against the bridge CNI plugin
called directly with the same conflist.

Both sides run in one invocation, in a network namespace the script creates (so kiln0, the veths
and the iptables rules stay there), round by round in a fresh random order (fixed seed), after a
few warm-up rounds:

- kiln: a pod on kilnd's default network (the embedded default: bridge kiln0, host-local on
  10.88.0.0/16, portmap) is created and deleted over the REST API. The figure is what kilnd
  measures around the network plugin's attach and detach (the pod.network.attached and
  pod.network.detached events, read from GET /v1/events): the cni plugin building each plugin's
  config, one `kiln-runtime exec` of kiln-cni-chain into the plugin's container, the CNI binaries
  themselves, and the result cache.
- direct: the same conflist (only ipam.dataDir moved to the scratch dir) through the same
  binaries (/usr/lib/cni), as a runtime calling CNI itself would: ADD bridge, ADD portmap (with the
  bridge's result), DEL portmap, DEL bridge, each a process with the CNI_* variables and the
  config on stdin, into a netns made beforehand (not timed).

Usage: sudo bench/network_attach.py [--bin build/bin] [--runs 50] [--warmup 3] [--markdown]
"""
import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilnd_run import REPO, Kilnd, Scratch, UnixHTTPConnection, build_image, log, machine_line, pct  # noqa: E402

CNI_BIN = "/usr/lib/cni"


class EventLog:
    """GET /v1/events, read on a thread: the ms of each pod's network attach and detach."""

    def __init__(self, socket_path):
        self.ms = {}  # (pod, type) -> ms
        self.cv = threading.Condition()
        self.conn = UnixHTTPConnection(socket_path, timeout=None)
        self.conn.request("GET", "/v1/events")
        self.resp = self.conn.getresponse()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            line = self.resp.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                e = json.loads(line[6:])
                if e["type"] in ("pod.network.attached", "pod.network.detached"):
                    with self.cv:
                        self.ms[(e["pod"], e["type"])] = e["attributes"]["ms"]
                        self.cv.notify_all()

    def wait(self, pod, kind, timeout=30):
        with self.cv:
            self.cv.wait_for(lambda: (pod, kind) in self.ms, timeout)
            return self.ms.pop((pod, kind))


def kiln_round(kilnd, events, name):
    pod = {"name": name, "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "1000"]}]}
    status, body = kilnd.request("POST", "/v1/pods", pod)
    if status != 201:
        raise RuntimeError(f"POST /v1/pods: {status} {body}")
    status, body = kilnd.request("DELETE", f"/v1/pods/{name}?force=true")
    if status != 204:
        raise RuntimeError(f"DELETE /v1/pods/{name}: {status} {body}")
    return events.wait(name, "pod.network.attached") + events.wait(name, "pod.network.detached")


def cni_call(command, plugin, config, netns, container_id):
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": CNI_BIN, "CNI_ARGS": "", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    r = subprocess.run([os.path.join(CNI_BIN, plugin["type"])], input=json.dumps(config).encode(), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"{plugin['type']} {command}: {r.stdout.decode()} {r.stderr.decode()}")
    return json.loads(r.stdout) if r.stdout.strip() else None


def direct_round(netns_name, conflist, name):
    """ADD through the chain, then DEL in reverse; the netns is made before and deleted after."""
    pod_ns = f"{netns_name}-{name}"
    subprocess.run(["ip", "netns", "add", pod_ns], check=True)
    path = f"/run/netns/{pod_ns}"
    try:
        start = time.perf_counter()
        result = None
        for plugin in conflist["plugins"]:
            config = dict(plugin, name=conflist["name"], cniVersion=conflist["cniVersion"])
            config.pop("capabilities", None)
            if result is not None:
                config["prevResult"] = result
            result = cni_call("ADD", plugin, config, path, name)
        for plugin in reversed(conflist["plugins"]):
            config = dict(plugin, name=conflist["name"], cniVersion=conflist["cniVersion"], prevResult=result)
            config.pop("capabilities", None)
            cni_call("DEL", plugin, config, path, name)
        return (time.perf_counter() - start) * 1000
    finally:
        subprocess.run(["ip", "netns", "del", pod_ns], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build/bin"))
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--direct-round", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.direct_round:
        job = json.loads(args.direct_round)
        print(direct_round(job["netns"], job["conflist"], job["name"]))
        return
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespaces, kilnd)")
    plugins_dir = os.path.join(os.path.dirname(os.path.abspath(args.bin)), "lib/kiln/plugins")
    if not os.path.exists(os.path.join(plugins_dir, "cni/plugin.yaml")):
        raise SystemExit(f"{plugins_dir}/cni is missing: build with `cmake --build build`")

    scratch = Scratch("kiln-bench-net")
    netns = f"kiln-bench-net-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    scratch.on_cleanup(lambda: subprocess.run(["ip", "netns", "del", netns]))
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    try:
        images = build_image(scratch)
        kilnd = Kilnd(scratch, args.bin, config=f"pluginDirs: [{plugins_dir}]\n", netns=netns)
        kilnd.start()
        kilnd.import_busybox(images)
        status, plugin = kilnd.request("GET", "/v1/plugins/cni")
        if status != 200 or plugin.get("state") != "started":
            raise SystemExit(f"the cni plugin did not start: {plugin}")
        # The conflist of kilnd's network "default" (configs/kiln.yaml), host-local's leases moved.
        conflist = {"cniVersion": "1.0.0", "name": "default", "plugins": [
            {"type": "bridge", "bridge": "kiln0", "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}],
                      "dataDir": scratch.path("direct-leases")}},
            {"type": "portmap", "capabilities": {"portMappings": True}}]}
        events = EventLog(kilnd.socket)

        def direct_in_netns(name):
            # The direct calls run in the bench's namespace too (where kiln0 is): this script
            # again under nsenter, which times the round itself (its own start is not timed).
            r = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", sys.executable, os.path.abspath(__file__),
                                "--direct-round", json.dumps({"netns": netns, "conflist": conflist, "name": name})],
                               stdout=subprocess.PIPE, text=True, check=True)
            return float(r.stdout)

        rng = random.Random(7)
        samples = {"kiln": [], "direct": []}
        for i in range(args.warmup + args.runs):
            order = ["kiln", "direct"]
            rng.shuffle(order)
            for who in order:
                name = f"b{i}"
                ms = kiln_round(kilnd, events, name) if who == "kiln" else direct_in_netns(name)
                if i >= args.warmup:
                    samples[who].append(ms)
        leftovers = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "type", "veth"], stdout=subprocess.PIPE,
                                   text=True).stdout
        if leftovers:
            raise SystemExit(f"veths left in {netns}: {leftovers}")
    finally:
        scratch.cleanup()

    rows = []
    for who in ("kiln", "direct"):
        v = samples[who]
        rows.append((who, statistics.median(v), pct(v, 90), min(v)))
    ratio = rows[0][1] / rows[1][1]
    if args.markdown:
        print(machine_line())
        print()
        print(f"{args.runs} rounds (after {args.warmup} warm-up), attach + detach of one pod:")
        print()
        print("| path | median ms | p90 ms | min ms |")
        print("|---|---|---|---|")
        for who, med, p90, mn in rows:
            label = "kiln (cni plugin in its container)" if who == "kiln" else "bridge + portmap called directly"
            print(f"| {label} | {med:.1f} | {p90:.1f} | {mn:.1f} |")
        print()
        print(f"- kiln / direct, median: **{ratio:.2f}x** (target at most 1.2x): {'met' if ratio <= 1.2 else '**not met**'}")
    else:
        for who, med, p90, mn in rows:
            print(f"{who:8} median {med:7.1f} ms  p90 {p90:7.1f} ms  min {mn:7.1f} ms")
        print(f"kiln / direct median: {ratio:.2f}x")


if __name__ == "__main__":
    main()
