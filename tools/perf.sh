#!/usr/bin/env bash
# Measures what the functions cost and writes the report:
#
# 1. installs the pinned emulator into .venv/ (tools/requirements.txt) when the pins changed;
# 2. builds every function and perf-report with the release profile (what Lambda runs);
# 3. builds the deployment zips with tools/package.sh, unless PERF_SKIP_PACKAGE=1 (then the
#    zips already in target/lambda/ are measured, or reported as not built);
# 4. the benchmarks of event-router, stream-enrichment and feature-updates (warm CPU per event);
# 5. target/release/perf-report: init time and CPU of each function against a stub Runtime API,
#    a reference workload through the batch handlers against its own moto server, the cold path
#    of every function (init plus a first event whose AWS calls go over TLS, through terminators
#    whose certificate openssl makes here), zip sizes -> target/perf/measurements.json;
# 6. tools/perf/cost_report.py: the cost model at the prices in tools/perf/prices.json
#    -> target/perf/report.json, summary.md, cost-per-million.svg, init-time.svg;
# 7. the summary, headed by this command and the date, and both charts into docs/results/
#    (performance.md, cost-per-million.svg, init-time.svg): the figures the docs link to.
#
# Extra arguments go to perf-report (e.g. `tools/perf.sh --runs 50 --events 20000`).
# A benchmark, not a test: figures depend on the machine and are reported, never asserted.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
source "$root/tools/lib/venv.sh"
ensure_venv tools/requirements.txt

source "$root/tools/lib/manifest.sh"
mapfile -t functions < <(manifest_functions)

packages=()
for function in "${functions[@]}"; do
    packages+=(-p "$function")
done
# Two builds: in one, cargo would unify the shared crate's features across perf and the
# functions, and the measured binaries would carry perf's test-support code.
echo "==> cargo build --release ${packages[*]}"
cargo build --release "${packages[@]}"
# The model server answers inference's cold path; it is not measured.
echo "==> cargo build --release -p perf -p model"
cargo build --release -p perf -p model

if [ "${PERF_SKIP_PACKAGE:-0}" != 1 ]; then
    echo "==> tools/package.sh"
    tools/package.sh
fi

# The cold path's TLS terminator: a throwaway CA and a certificate for 127.0.0.1 it signs; the
# function trusts the system's roots plus that CA, so loading roots costs what it costs in AWS.
tls=target/perf/tls
rm -rf "$tls"
mkdir -p "$tls"
system_roots=/etc/ssl/certs/ca-certificates.crt
[ -f "$system_roots" ] || system_roots=/etc/pki/tls/certs/ca-bundle.crt
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=perf-report test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/key.pem" -out "$tls/leaf.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/leaf.ext"
openssl x509 -req -in "$tls/leaf.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
    -days 2 -extfile "$tls/leaf.ext" -out "$tls/certificate.pem" 2>/dev/null
cat "$system_roots" "$tls/ca.pem" >"$tls/bundle.pem"

# Warm CPU per event: the pipeline functions' benchmarks (pure work, no I/O), as JSON lines.
mkdir -p target/perf
bench_report="$root/target/perf/bench.jsonl"
rm -f "$bench_report"
echo "==> cargo bench -p event-router -p stream-enrichment -p feature-updates"
BENCH_REPORT="$bench_report" cargo bench -p event-router -p stream-enrichment -p feature-updates --benches

echo "==> perf-report"
target/release/perf-report --functions-dir target/release --emulator-python "$venv/bin/python" \
    --tls-certificate "$tls/certificate.pem" --tls-key "$tls/key.pem" --ca-bundle "$tls/bundle.pem" \
    --bench-report "$bench_report" --out target/perf/measurements.json "$@"

echo "==> cost report"
"$venv/bin/python" tools/perf/cost_report.py --measurements target/perf/measurements.json \
    --prices tools/perf/prices.json --out target/perf

# The report the docs link to, written here rather than pasted by hand.
results=docs/results
mkdir -p "$results"
command="tools/perf.sh${*:+ $*}"
[ "${PERF_SKIP_PACKAGE:-0}" = 1 ] && command="PERF_SKIP_PACKAGE=1 $command"
{
    printf '_Written by `%s` on %s; do not edit by hand. What is measured and why:\n' \
        "$command" "$(date -u +%Y-%m-%d)"
    printf '[Performance and cost](../performance.md)._\n\n'
    cat target/perf/summary.md
} >"$results/performance.md"
cp target/perf/cost-per-million.svg target/perf/init-time.svg target/perf/capacity-modes.svg "$results/"
echo "==> wrote $results/performance.md and its charts (cost-per-million, init-time, capacity-modes)"
