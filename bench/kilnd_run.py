#!/usr/bin/env python3
"""`kiln run --rm --network none busybox /bin/true` against `podman run --rm --network none`.

Both are timed from the command to its exit code, side by side in one invocation: a kilnd of our
own (every path in a temp dir, its own cgroup parent) with the busybox image imported, and a
podman whose whole state is in the same temp dir with the same image loaded. Each round runs every
contender once in a fresh random order (fixed seed), after a few warm-up rounds.

podman's default runtime, crun, refuses a hybrid cgroup host (v1 controllers plus a cgroup2
mount, as on the machine the README's figures come from), so podman runs twice per
round: with crun under bench/private_mounts (the workaround bench/runtime_run.py uses, through a
two-line /bin/sh wrapper) and with runc. The target is stated against the faster of the two.

Reported per contender: median and p90 wall time; the client's CPU time (user + system of the
command's process tree, RUSAGE_CHILDREN, as bench/runtime_run.py measures it); and the CPU time
of everything the command set going, from cpuacct cgroups: kilnd and its kiln-monitors (for kiln),
conmon and the `podman container cleanup` it runs (for podman), and the container itself. After
each command the script waits until that side is idle again (no container, no monitor, no conmon
left) before it reads the counters and starts the next command; that wait is not timed.

A second pass times kiln's steps over the REST API directly: POST /v1/pods; the container's exit,
seen either by GET /v1/pods/NAME polled every millisecond or by the log stream `kiln run` follows
(GET .../logs?follow=true until it ends); DELETE. It shows where the command's time goes.

Usage: sudo bench/kilnd_run.py [--bin build/bin] [--runs 30] [--warmup 3] [--markdown]

kilnd_rss.py imports the helpers here (Scratch, Kilnd, Podman).
"""
import argparse
import http.client
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_REF = "localhost/kiln-busybox:latest"
# kilnd finds kiln-monitor, kiln-pause and kiln-runtime next to itself.
PROGRAMS = ("kilnd", "kiln", "kiln-monitor", "kiln-pause", "kiln-runtime", "kiln-init")
CGROUP_ROOT = "/sys/fs/cgroup"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def machine_line():
    cpus = os.cpu_count()
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    hybrid = os.path.ismount(os.path.join(CGROUP_ROOT, "unified"))
    cg = "hybrid cgroups (v1 controllers plus a cgroup2 mount)" if hybrid else (
        "cgroup v2" if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")) else "cgroup v1")
    return f"Linux {platform.release()}, {cpus} vCPUs ({model}), {cg}"


def read_text(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


# ---------------------------------------------------------------------------------------------
# cgroup v1 cpuacct: CPU time of a subtree, kept by the parent after its children are removed.

def cpuacct_dir(rel):
    return os.path.join(CGROUP_ROOT, "cpuacct", rel)


def cpuacct_usage(rel):
    """Nanoseconds of CPU time charged to cgroup REL and below; 0 when it does not exist yet."""
    text = read_text(os.path.join(cpuacct_dir(rel), "cpuacct.usage"), "0")
    return int(text.strip() or 0)


def cgroup_procs(rel, controller="cpuacct"):
    """Pids in cgroup REL and every cgroup below it."""
    pids = set()
    top = os.path.join(CGROUP_ROOT, controller, rel)
    for dirpath, _, files in os.walk(top):
        if "cgroup.procs" in files:
            for line in read_text(os.path.join(dirpath, "cgroup.procs")).split():
                pids.add(int(line))
    return pids


def have_cpuacct():
    return os.path.exists(os.path.join(CGROUP_ROOT, "cpuacct", "cpuacct.usage"))


# ---------------------------------------------------------------------------------------------
# A scratch dir that is always cleaned up: processes, mounts and cgroups named after it.

class Scratch:
    def __init__(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.tag = "kiln-bench-%d" % os.getpid()  # names this run's cgroups
        self._cleanups = []
        with open(os.path.join(self.dir, "owner.pid"), "w") as f:
            f.write(str(os.getpid()))

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def on_cleanup(self, fn):
        self._cleanups.append(fn)

    def cleanup(self):
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as e:  # keep cleaning up
                log(f"cleanup step failed: {e}")
        self._kill_leftovers()
        self._unmount_all()
        self._remove_cgroups()
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.dir):
            log(f"LEFTOVER: could not remove {self.dir}")

    def _pids_mentioning_dir(self):
        me = os.getpid()
        found = []
        needle = self.dir.encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read():
                        found.append(int(entry))
            except OSError:
                pass
        return found

    def _kill_leftovers(self):
        for attempt in range(50):  # conmon and monitors leave shortly after their container
            pids = set(self._pids_mentioning_dir()) | cgroup_procs(self.tag, "pids")
            if not pids:
                return
            if attempt >= 30:
                for pid in pids:
                    log(f"LEFTOVER process {pid} ({read_text(f'/proc/{pid}/comm').strip()}), killing it")
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.1)

    def _unmount_all(self):
        for _ in range(3):
            mounts = []
            for line in read_text("/proc/self/mountinfo").splitlines():
                target = line.split()[4].encode().decode("unicode_escape")
                if target == self.dir or target.startswith(self.dir + "/"):
                    mounts.append(target)
            if not mounts:
                return
            for target in sorted(set(mounts), key=len, reverse=True):
                if subprocess.run(["umount", target], stderr=subprocess.DEVNULL).returncode != 0:
                    subprocess.run(["umount", "-l", target], stderr=subprocess.DEVNULL)

    def _remove_cgroups(self):
        for hierarchy in os.listdir(CGROUP_ROOT):
            top = os.path.join(CGROUP_ROOT, hierarchy, self.tag)
            if not os.path.isdir(top):
                continue
            for _ in range(10):
                for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                    try:
                        os.rmdir(dirpath)
                    except OSError:
                        pass
                if not os.path.isdir(top):
                    break
                time.sleep(0.2)
            if os.path.isdir(top):
                log(f"LEFTOVER cgroup (could not remove): {top}")


def build_image(scratch, image_dir=None):
    out = image_dir or scratch.path("images")
    subprocess.run([os.path.join(REPO, "scripts/build-busybox-image.sh"), out], check=True,
                   stdout=subprocess.DEVNULL)
    return out


# ---------------------------------------------------------------------------------------------
# kilnd

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class Kilnd:
    """A kilnd of our own: programs copied into the scratch dir (so that a rebuild of build/bin
    during the run cannot mix versions), state, run dir and socket there too, pods under the
    cgroup parent <tag>/pods. kilnd itself (and so every kiln-monitor it spawns) is moved into the
    cpuacct cgroup <tag>/daemon, in that hierarchy only."""

    def __init__(self, scratch, bin_dir, log_level="info", config="", netns=None):
        self.scratch = scratch
        self.config_text = config
        self.netns = netns
        self.bin = scratch.path("bin")
        os.makedirs(self.bin)
        for name in PROGRAMS:
            src = os.path.join(bin_dir, name)
            if os.path.exists(src):
                shutil.copy2(src, os.path.join(self.bin, name))
            elif name != "kiln-init":
                raise SystemExit(f"{src} is missing: build with `cmake --build build`")
        self.socket = scratch.path("kiln.sock")
        self.cgroup_parent = scratch.tag + "/pods"
        self.daemon_cgroup = scratch.tag + "/daemon"
        self.proc = None
        self.log_level = log_level
        scratch.on_cleanup(self.stop)

    def program(self, name):
        return os.path.join(self.bin, name)

    def start(self):
        config = self.scratch.path("kiln.yaml")
        with open(config, "w") as f:
            f.write(self.config_text)  # empty: the defaults
        # In a network namespace of the bench's own: nsenter --net keeps the mount namespace.
        prefix = ["nsenter", f"--net=/run/netns/{self.netns}"] if self.netns else []
        argv = prefix + [self.program("kilnd"), "--config", config, "--socket", self.socket,
                "--state-dir", self.scratch.path("state"), "--run-dir", self.scratch.path("run"),
                "--cgroup-parent", self.cgroup_parent, "--log-level", self.log_level]
        self.log_path = self.scratch.path("kilnd.log")
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=logf,
                                         start_new_session=True)
        if have_cpuacct():
            os.makedirs(cpuacct_dir(self.daemon_cgroup), exist_ok=True)
            with open(os.path.join(cpuacct_dir(self.daemon_cgroup), "cgroup.procs"), "w") as f:
                f.write(str(self.proc.pid))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kilnd exited at start: {read_text(self.log_path)}")
            try:
                if self.request("GET", "/v1/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"kilnd did not answer on {self.socket}")

    def request(self, method, path, body=None, timeout=120):
        conn = UnixHTTPConnection(self.socket, timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data and r.getheader("Content-Type", "").startswith(
                "application/json") else data)
        finally:
            conn.close()

    def cli(self, *args):
        return [self.program("kiln"), "-H", "unix://" + self.socket, *args]

    def pods(self):
        status, body = self.request("GET", "/v1/pods")
        if status != 200:
            raise RuntimeError(f"GET /v1/pods: {status} {body}")
        return body

    def import_busybox(self, image_dir, tag="busybox"):
        subprocess.run(self.cli("image", "import", "--tag", tag, os.path.join(image_dir, "oci")), check=True,
                       stdout=subprocess.DEVNULL)

    def children(self):
        """Pids of kilnd's children (its kiln-monitors)."""
        pids = []
        for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
            pids += [int(p) for p in read_text(f"/proc/{self.proc.pid}/task/{tid}/children").split()]
        return pids

    def remove_all_pods(self, threads=8):
        names = [p["name"] for p in self.pods()]
        run_parallel([self.cli("rm", "-f", n) for n in names], threads)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.remove_all_pods()
        except Exception as e:
            log(f"removing kilnd's pods failed: {e}")
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            log("kilnd ignored SIGTERM for 30 s, killing it")
            self.proc.kill()
            self.proc.wait()


def run_parallel(argvs, threads, env=None):
    """Runs each command (stdout discarded), THREADS at a time; raises on the first failure."""
    import concurrent.futures
    def one(argv):
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(one, a) for a in argvs]:
            f.result()


# ---------------------------------------------------------------------------------------------
# podman, fully isolated as tests/compat/podman.sh runs it

class Podman:
    """podman with root, runroot, tmpdir, locks, events, volumes and CNI config in the scratch dir;
    containers under the cgroup parent /<tag>/podman. RUNTIME is "runc" or "crun"; crun runs under
    bench/private_mounts (stock crun refuses a hybrid cgroup host). Either runtime keeps its state
    in the scratch dir (--runtime-flag root=...)."""

    def __init__(self, scratch):
        self.scratch = scratch
        d = scratch.path("podman")
        self.dir = d
        for sub in ("root", "runroot", "tmp", "cni", "volumes", "runtime-root"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "containers.conf"), "w") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
lock_type = "file"
num_locks = 2048
tmp_dir = "{d}/tmp"
volume_path = "{d}/volumes"

[network]
network_backend = "cni"
network_config_dir = "{d}/cni"
""")
        with open(os.path.join(d, "storage.conf"), "w") as f:
            f.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{d}/root"\nrunroot = "{d}/runroot"\n')
        with open(os.path.join(d, "registries.conf"), "w") as f:
            f.write("unqualified-search-registries = []\n")
        self.env = dict(os.environ, CONTAINERS_CONF=os.path.join(d, "containers.conf"),
                        CONTAINERS_STORAGE_CONF=os.path.join(d, "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=os.path.join(d, "registries.conf"))
        self.cgroup_parent = scratch.tag + "/podman"
        self.base = ["podman", "--root", f"{d}/root", "--runroot", f"{d}/runroot", "--tmpdir", f"{d}/tmp",
                     "--storage-driver", "overlay"]
        self.runtimes = {}
        self.loaded = False
        scratch.on_cleanup(self.remove_all)

    def add_runtime(self, name, private_mounts=None):
        """Returns the podman global flags selecting runtime NAME (runc or crun)."""
        binary = shutil.which(name)
        if binary is None:
            raise SystemExit(f"{name} is not installed")
        if private_mounts:
            wrapper_dir = os.path.join(self.dir, "wrap")
            os.makedirs(wrapper_dir, exist_ok=True)
            # Named after the runtime: podman passes --log-format=json to runtimes it knows by name.
            wrapper = os.path.join(wrapper_dir, name)
            with open(wrapper, "w") as f:
                f.write(f'#!/bin/sh\nexec {private_mounts} {binary} "$@"\n')
            os.chmod(wrapper, 0o755)
            binary = wrapper
        root = os.path.join(self.dir, "runtime-root", name)
        os.makedirs(root, exist_ok=True)
        self.runtimes[name] = ["--runtime", binary, "--runtime-flag", "root=" + root]
        return self.runtimes[name]

    def cmd(self, runtime, *args):
        return self.base + self.runtimes[runtime] + list(args)

    def run_cmd(self, runtime, *args):
        return self.cmd(runtime, "run", "--cgroup-parent", "/" + self.cgroup_parent, "--network", "none", *args)

    def load(self, image_dir):
        # containers/image tools record blob digests in /var/lib/containers/cache whatever --root
        # says: a private tmpfs on /var/lib keeps that file off the host.
        subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        'mount -t tmpfs -o size=64m kiln-bench /var/lib && exec "$@"', "sh",
                        *self.base, "load", "--quiet", "--input", os.path.join(image_dir, "busybox.oci.tar")],
                       check=True, stdout=subprocess.DEVNULL, env=self.env)
        self.loaded = True

    def remove_all(self):
        # Containers are removed through the runtime that made them (its state is in our root).
        for flags in list(self.runtimes.values()) or [[]]:
            subprocess.run(self.base + flags + ["rm", "--all", "--force", "--time", "0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
        subprocess.run(self.base + ["image", "rm", "--all", "--force"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=self.env)


# ---------------------------------------------------------------------------------------------
# The benchmark

def timed(argv, env=None):
    """Wall seconds and client CPU seconds (RUSAGE_CHILDREN) of one command; raises if it fails."""
    with tempfile.TemporaryFile() as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: {err.read().decode().strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def wait_idle(is_idle, timeout=15.0):
    """Polls until IS_IDLE() holds; returns the seconds it took (None on timeout)."""
    start = time.monotonic()
    while not is_idle():
        if time.monotonic() - start > timeout:
            return None
        time.sleep(0.002)
    return time.monotonic() - start


def rest_phases(kilnd, runs):
    """kiln's steps through the API, milliseconds, medians: create (POST until 201); the
    container's exit as GET /v1/pods/NAME polled every 1 ms sees it; the exit as the log stream
    `kiln run` follows (GET .../logs?follow=true, until the stream ends) sees it, in a second pod;
    delete (DELETE ?force=true until 204)."""
    steps = {"create": [], "exit polled": [], "exit via log stream": [], "delete": []}

    def pod(name):
        return {"name": name, "networks": ["none"],
                "containers": [{"name": name, "image": "busybox", "args": ["/bin/true"]}]}

    for i in range(runs):
        for how in ("exit polled", "exit via log stream"):
            name = f"rest-{i}-{'poll' if how == 'exit polled' else 'logs'}"
            t0 = time.perf_counter()
            status, body = kilnd.request("POST", "/v1/pods", pod(name))
            t1 = time.perf_counter()
            if status != 201:
                raise RuntimeError(f"POST /v1/pods: {status} {body}")
            if how == "exit polled":
                while True:
                    status, body = kilnd.request("GET", f"/v1/pods/{name}")
                    c = body["containers"][0]
                    if c.get("state") != "running" and "exitCode" in c:
                        break
                    time.sleep(0.001)
            else:
                status, body = kilnd.request("GET", f"/v1/pods/{name}/containers/{name}/logs?format=json&follow=true")
            t2 = time.perf_counter()
            status, body = kilnd.request("DELETE", f"/v1/pods/{name}?force=true")
            t3 = time.perf_counter()
            if status != 204:
                raise RuntimeError(f"DELETE /v1/pods/{name}: {status} {body}")
            steps["create"].append(t1 - t0)
            steps[how].append(t2 - t1)
            steps["delete"].append(t3 - t2)
            wait_idle(lambda: not kilnd.children() and not cgroup_procs(kilnd.cgroup_parent))
    return {k: statistics.median(v) for k, v in steps.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build/bin"), help="kilnd, kiln, kiln-monitor, ... (build/bin)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rest-runs", type=int, default=20, help="runs of the REST-steps pass")
    ap.add_argument("--podman-runtimes", default="crun,runc",
                    help="podman contenders, comma separated: crun (under bench/private_mounts), runc")
    ap.add_argument("--private-mounts", help="bench/private_mounts binary (default: next to --bin's kilnd)")
    ap.add_argument("--image-dir", help="busybox image cache (built by scripts/build-busybox-image.sh)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("kilnd_run.py: needs root")
    for tool in ("podman", "conmon"):
        if shutil.which(tool) is None:
            sys.exit(f"kilnd_run.py: {tool} is not installed")
    if not have_cpuacct():
        log("no cgroup v1 cpuacct hierarchy: the total-CPU column will read 0")
    bin_dir = os.path.abspath(args.bin)
    private_mounts = os.path.abspath(args.private_mounts or os.path.join(bin_dir, "private_mounts"))
    podman_runtimes = [r for r in args.podman_runtimes.split(",") if r]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = Scratch("kiln-bench-kilnd-run-")
    try:
        log(f"scratch dir {scratch.dir}, cgroups {scratch.tag}")
        image_dir = build_image(scratch, args.image_dir)
        kilnd = Kilnd(scratch, bin_dir)
        kilnd.start()
        kilnd.import_busybox(image_dir)
        podman = Podman(scratch)
        for r in podman_runtimes:
            podman.add_runtime(r, private_mounts if r == "crun" else None)
        podman.load(image_dir)
        versions = {"podman": tool_version(["podman", "--version"]), "conmon": tool_version(["conmon", "--version"]),
                    "crun": tool_version(["crun", "--version"]), "runc": tool_version(["runc", "--version"])}

        # name -> (argv, env, cgroups charged, idle check)
        contenders = {"kiln": (kilnd.cli("run", "--rm", "--network", "none", "busybox", "/bin/true"), None,
                               [kilnd.daemon_cgroup, kilnd.cgroup_parent],
                               lambda: not kilnd.children() and not cgroup_procs(kilnd.cgroup_parent))}
        for r in podman_runtimes:
            contenders[f"podman ({r})"] = (podman.run_cmd(r, "--rm", IMAGE_REF, "/bin/true"), podman.env,
                                           [podman.cgroup_parent],
                                           lambda: not cgroup_procs(podman.cgroup_parent))
        names = list(contenders)
        walls = {n: [] for n in names}
        client_cpu = {n: [] for n in names}
        total_cpu = {n: [] for n in names}
        slow_settle = 0
        rng = random.Random(args.seed)
        load_before = os.getloadavg()
        for i in range(args.warmup + args.runs):
            order = list(names)
            rng.shuffle(order)
            for n in order:
                argv, env, cgroups, idle = contenders[n]
                before = sum(cpuacct_usage(c) for c in cgroups)
                wall, cpu = timed(argv, env)
                if wait_idle(idle) is None:
                    slow_settle += 1
                after = sum(cpuacct_usage(c) for c in cgroups)
                if i >= args.warmup:
                    walls[n].append(wall)
                    client_cpu[n].append(cpu)
                    total_cpu[n].append(cpu + (after - before) / 1e9)
            log(f"round {i + 1}/{args.warmup + args.runs}")
        load_after = os.getloadavg()
        phases = rest_phases(kilnd, args.rest_runs) if args.rest_runs > 0 else None
    finally:
        scratch.cleanup()

    med = {n: statistics.median(walls[n]) for n in names}
    p90 = {n: pct(walls[n], 90) for n in names}
    ccpu = {n: statistics.median(client_cpu[n]) for n in names}
    tcpu = {n: statistics.median(total_cpu[n]) for n in names}
    podmans = [n for n in names if n.startswith("podman")]
    best = min(podmans, key=lambda n: med[n]) if podmans else None
    ms = lambda s: f"{s * 1000:.1f}"
    ratio = med["kiln"] / med[best] if best else float("nan")
    met = "met" if ratio <= 0.2 else "**not met**"
    cmd = "sudo bench/kilnd_run.py " + " ".join(sys.argv[1:])
    if args.markdown:
        print(f"{args.runs} interleaved rounds (after {args.warmup} warm-up rounds), each command run once per round "
              f"in a random order; {machine_line()}; load average {load_before[0]:.2f} before, "
              f"{load_after[0]:.2f} after. {versions['podman']}, {versions['conmon']}, {versions['crun']}, "
              f"{versions['runc']}. Command: `{cmd}`\n")
        print("| contender | median wall ms | p90 wall ms | median client CPU ms | median total CPU ms |")
        print("|---|---|---|---|---|")
        for n in names:
            print(f"| {n} | {ms(med[n])} | {ms(p90[n])} | {ms(ccpu[n])} | {ms(tcpu[n])} |")
        print()
        if best:
            print(f"- kiln / {best}, median wall: **{ratio:.2f}x** (target at most 0.2x): {met}")
            for n in podmans:
                print(f"- kiln / {n}: median wall {med['kiln'] / med[n]:.2f}x, median client CPU "
                      f"{ccpu['kiln'] / ccpu[n]:.2f}x, median total CPU {tcpu['kiln'] / tcpu[n]:.2f}x")
        if phases:
            print(f"- kiln's steps over the REST API ({args.rest_runs} runs each, medians): create (POST until 201) "
                  f"{ms(phases['create'])} ms; the container's exit seen by GET polled every 1 ms "
                  f"{ms(phases['exit polled'])} ms, seen by the log stream `kiln run` follows "
                  f"{ms(phases['exit via log stream'])} ms; delete {ms(phases['delete'])} ms")
        if slow_settle:
            print(f"- {slow_settle} command(s) left work running for more than 15 s after they returned")
    else:
        for n in names:
            print(f"{n:14} wall median {ms(med[n])} ms p90 {ms(p90[n])} ms  client cpu {ms(ccpu[n])} ms  "
                  f"total cpu {ms(tcpu[n])} ms")
        if best:
            print(f"kiln / {best} median wall {ratio:.2f}x (target at most 0.2x: {met.strip('*')})")
        if phases:
            print("kiln over REST: " + ", ".join(f"{k} {ms(v)} ms" for k, v in phases.items()))
        print(f"machine: {machine_line()}; load {load_before[0]:.2f} -> {load_after[0]:.2f}")


if __name__ == "__main__":
    main()
