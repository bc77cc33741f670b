#!/usr/bin/env bash
# kiln's main job, for now: kiln-runtime runs a demo container from a bundle built offline out of
# busybox-static. With a terminal you get an interactive shell in the container.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >&2
BUILD_DIR=${KILN_BUILD_DIR:-build}
RUNTIME=$BUILD_DIR/bin/kiln-runtime
BUNDLE=${KILN_DEMO_BUNDLE:-/var/lib/kiln-demo/bundle}
scripts/make-demo-bundle.sh "$BUNDLE" "$RUNTIME" >&2
if [ -t 0 ] && [ -t 1 ]; then
    # Interactive: the runtime holds the pty and proxies it.
    sed -i 's/"terminal": false/"terminal": true/' "$BUNDLE/config.json"
    set -- sh
else
    sed -i 's/"terminal": true/"terminal": false/' "$BUNDLE/config.json"
fi
python3 - "$BUNDLE/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
if args:
    c["process"]["args"] = args
json.dump(c, open(path, "w"), indent=4)
PY
exec "$RUNTIME" run --bundle "$BUNDLE" "kiln-demo-$$"
