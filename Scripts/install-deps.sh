#!/usr/bin/env bash
# Installs the Debian packages SAM2 Workbench builds against, skipping those already present.
# Needs root (or sudo) and apt; the Swift toolchain itself is expected on PATH.
set -euo pipefail
packages=(pkg-config liblua5.4-dev libpng-dev libopenblas-dev libturbojpeg0-dev libedit-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift is not on PATH (install the Swift 6.x toolchain)" >&2; exit 1; }
