#!/usr/bin/env bash
# Configures and builds the project into build/ (Release with debug info, Ninja).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
werror=OFF; [ "${CI:-}" = "true" ] && werror=ON
cmake -S . -B build -G Ninja -DRB_WERROR=$werror >/dev/null
cmake --build build -j"$(nproc)"
