#!/usr/bin/env bash
# One command for a fresh Debian machine: installs what is missing, builds in release mode, runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift build -c release
.build/release/workbench run Examples/quickstart.lua
