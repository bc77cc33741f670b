#!/usr/bin/env bash
# make-demo-bundle.sh DIR RUNTIME: an OCI bundle with a busybox-static rootfs and a config from
# `RUNTIME spec`, running a short script that shows the container it is in. Offline.
set -euo pipefail
DIR=$1
RUNTIME=$2
mkdir -p "$DIR/rootfs"
R=$DIR/rootfs
mkdir -p "$R"/{bin,etc,proc,sys,dev,tmp,root}
chmod 1777 "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
for applet in $("$R/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$R/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"
cat >"$R/bin/kiln-demo" <<'SH'
#!/bin/sh
echo "hello from a kiln container"
echo "  hostname:     $(hostname)"
echo "  user:         $(id)"
echo "  pid 1:        $(cat /proc/1/cmdline | tr '\0' ' ')"
echo "  processes:    $(ls -d /proc/[0-9]* | wc -l)"
echo "  capabilities: $(grep CapEff /proc/self/status | cut -f2)"
echo "  memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max 2>/dev/null)"
echo "  mounts:       $(wc -l < /proc/self/mountinfo)"
SH
chmod 755 "$R/bin/kiln-demo"
rm -f "$DIR/config.json"
"$RUNTIME" spec --bundle "$DIR"
python3 - "$DIR/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/kiln-demo"]
c["hostname"] = "kiln-demo"
c["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
c["linux"]["resources"]["pids"] = {"limit": 64}
json.dump(c, open(path, "w"), indent=4)
PY
