#!/usr/bin/env bash
# Installs what is missing, builds, and starts resorptiond on its embedded default:
# a RocksDB data directory under the checkout (var/data), listening on 127.0.0.1:50051.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec ./build/tools/resorptiond "$@"
