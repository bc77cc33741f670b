#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests (root, real kernel) and the compat tests
# with podman, containerd and docker driving kiln-runtime. Installs and builds what it needs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
BUILD_DIR=${KILN_BUILD_DIR:-build}
# The compat tests' busybox image, built offline once.
scripts/build-busybox-image.sh "$BUILD_DIR/test-images" >/dev/null
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 "$@"
