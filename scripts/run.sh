#!/usr/bin/env bash
# Installs what is missing, builds, and starts resorptiond on its embedded default:
# a RocksDB data directory under the checkout (var/data), listening on 127.0.0.1:50051.
# When that data directory holds no event yet, it is first filled with the realistic demo history
# (resorption-demo, seed 1), so that a newcomer sees real-looking data at once. Set
# RESORPTION_NO_DEMO=1 to start empty. A --data-dir=... argument or RESORPTION_DATA_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
data_dir="${RESORPTION_DATA_DIR:-var/data}"
for arg in "$@"; do
  case "$arg" in --data-dir=*) data_dir="${arg#--data-dir=}" ;; esac
done
if [ "${RESORPTION_NO_DEMO:-0}" != "1" ]; then
  head_position=0
  if [ -d "$data_dir" ]; then
    head_position=$(./build/tools/resorption-audit --data-dir="$data_dir" head --json 2>/dev/null |
      sed -n 's/.*"position":\([0-9]*\).*/\1/p' || true)
    head_position=${head_position:-0}
  fi
  if [ "$head_position" = "0" ]; then
    echo "run.sh: $data_dir holds no event: loading the demo history (resorption-demo --seed=1)" >&2
    mkdir -p "$(dirname "$data_dir")"
    ./build/tools/resorption-demo --data-dir="$data_dir" --seed=1 >&2
  fi
fi
exec ./build/tools/resorptiond "$@"
