#!/usr/bin/env bash
# The whole test suite, in release mode (numeric tests are 10-50x slower in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift build -c release
swift test -c release "$@"
