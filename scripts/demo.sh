#!/usr/bin/env bash
# kiln's main job: kilnd on the embedded default config, with a demo pod from a busybox image built
# offline out of busybox-static. kilnd runs in the foreground; Ctrl-C stops it (and, being a demo,
# the demo pod). Meanwhile, from another terminal: build/bin/kiln ps, kiln logs -f demo,
# kiln exec -it demo sh, kiln run --rm busybox echo hi ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >&2
BUILD_DIR=${KILN_BUILD_DIR:-build}
BIN=$(cd "$BUILD_DIR/bin" && pwd)
IMAGES=${KILN_DEMO_IMAGES:-$BUILD_DIR/test-images}
SOCKET=/run/kiln/kiln.sock
mkdir -p "$IMAGES"
scripts/build-busybox-image.sh "$IMAGES" >/dev/null

if [ -S "$SOCKET" ] && "$BIN/kiln" info >/dev/null 2>&1; then
    echo "demo: a kilnd already answers on $SOCKET; stop it first" >&2
    exit 1
fi

# Its own session: a Ctrl-C reaches the script, which deletes the demo pod before stopping kilnd.
setsid "$BIN/kilnd" &
KILND=$!
stop() {
    "$BIN/kiln" rm -f demo >/dev/null 2>&1 || true
    kill -TERM "$KILND" 2>/dev/null || true
    wait "$KILND" 2>/dev/null || true
}
trap stop EXIT INT TERM
for _ in $(seq 100); do
    "$BIN/kiln" info >/dev/null 2>&1 && break
    sleep 0.1
done
"$BIN/kiln" image import --tag busybox "$IMAGES/oci" >&2
"$BIN/kiln" rm -f demo >/dev/null 2>&1 || true
"$BIN/kiln" run -d --name demo --network none busybox \
    sh -c 'echo "hello from a kiln pod: $(hostname), pid $$"; while true; do sleep 5; echo "still here: $(date)"; done' >&2
"$BIN/kiln" ps >&2
echo "demo: kilnd is running on $SOCKET. Try: $BIN/kiln logs -f demo; $BIN/kiln exec -it demo sh" >&2
if [ -t 1 ]; then
    "$BIN/kiln" logs -f demo &
fi
wait "$KILND"
