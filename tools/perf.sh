#!/usr/bin/env bash
# Measures what the functions cost and writes the report:
#
# 1. installs the pinned emulator into .venv/ (tools/requirements.txt) when the pins changed;
# 2. builds every function and perf-report with the release profile (what Lambda runs);
# 3. builds the deployment zips with tools/package.sh, unless PERF_SKIP_PACKAGE=1 (then the
#    zips already in target/lambda/ are measured, or reported as not built);
# 4. target/release/perf-report: init time and CPU of each function against a stub Runtime API,
#    a reference workload through the batch handlers against its own moto server, zip sizes
#    -> target/perf/measurements.json;
# 5. tools/perf/cost_report.py: the cost model at the prices in tools/perf/prices.json
#    -> target/perf/report.json, summary.md, cost-per-million.svg, init-time.svg.
#
# Extra arguments go to perf-report (e.g. `tools/perf.sh --runs 50 --events 20000`).
# A benchmark, not a test: figures depend on the machine and are reported, never asserted.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
source "$root/tools/lib/venv.sh"
ensure_venv tools/requirements.txt

functions=()
while IFS= read -r function; do
    functions+=("$function")
done < <("$venv/bin/python" -c 'import json; print("\n".join(json.load(open("infra/stack.json"))["functions"]))')

packages=()
for function in "${functions[@]}"; do
    packages+=(-p "$function")
done
# Two builds: in one, cargo would unify the shared crate's features across perf and the
# functions, and the measured binaries would carry perf's test-support code.
echo "==> cargo build --release ${packages[*]}"
cargo build --release "${packages[@]}"
echo "==> cargo build --release -p perf"
cargo build --release -p perf

if [ "${PERF_SKIP_PACKAGE:-0}" != 1 ]; then
    echo "==> tools/package.sh"
    tools/package.sh
fi

mkdir -p target/perf
echo "==> perf-report"
target/release/perf-report --functions-dir target/release --moto-server "$venv/bin/moto_server" \
    --out target/perf/measurements.json "$@"

echo "==> cost report"
"$venv/bin/python" tools/perf/cost_report.py --measurements target/perf/measurements.json \
    --prices tools/perf/prices.json --out target/perf
