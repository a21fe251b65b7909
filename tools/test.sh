#!/usr/bin/env bash
# Runs every test of the workspace against a local AWS emulator.
#
# 1. creates .venv/ inside the repository and installs the pinned moto server
#    (tools/requirements.txt), only when the pins changed (tools/lib/venv.sh);
# 2. starts moto on a free loopback port, through tools/emulator/moto_server.py (its Kinesis
#    resharding corrected);
# 3. renders the SAM template and runs the checks of the deployment templates
#    (tools/check-infra.sh) in the background; meanwhile validates the OpenAPI documents, runs
#    the Python tests of tools/tests, builds every binary (the local stack's end-to-end tests
#    run them) and runs `cargo test --workspace` with the standard SDK endpoint variables
#    pointing at the emulator;
# 4. stops the emulator on exit, whether the tests passed or not.
#
# Extra arguments go to `cargo test` (e.g. `tools/test.sh -p todo-api`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
source "$root/tools/lib/venv.sh"
ensure_venv tools/requirements.txt

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$root/target"
log="$root/target/moto-server.log"
"$venv/bin/python" tools/emulator/moto_server.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
stop_emulator() {
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
}
trap stop_emulator EXIT

endpoint="http://127.0.0.1:$port"
"$venv/bin/python" - "$endpoint" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
        break
    except Exception:
        if time.monotonic() > deadline:
            sys.exit("moto server did not start; see target/moto-server.log")
        time.sleep(0.1)
PY
echo "==> moto server on $endpoint (log: target/moto-server.log)"

# Only the standard SDK variables: the code under test has no emulator switch of its own.
export AWS_ENDPOINT_URL="$endpoint"
# The local stack's command-line test starts an emulator of its own from here.
export EMULATOR_PYTHON="$venv/bin/python"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE

# The deployment templates (tools/check-infra.sh; its pinned tools live in .venv-infra/ and
# .venv-sam/): they read the SAM template rendered from the manifest, so render it first, then
# run the checks in the background while the workspace builds and tests; their report follows.
echo "==> cargo run -p stack -- sam (as it is, and with --profile low-latency)"
cargo run --quiet -p stack -- sam --out "$root/target/sam/template.json"
cargo run --quiet -p stack -- sam --profile low-latency --out "$root/target/sam/template-low-latency.json"
echo "==> tools/check-infra.sh (in the background; its report comes after the tests)"
infra_log="$root/target/check-infra.log"
# In a process group of its own (set -m), so that an early exit stops its checks with it, not
# only the script: the deploy test then stops terraform, and its emulator goes with it. (No
# terminal input: a background process group reading it would be stopped.)
set -m
TEMPLATE_RENDERED=1 tools/check-infra.sh </dev/null >"$infra_log" 2>&1 &
infra_pid=$!
set +m
stop_background() {
    if [ -n "$infra_pid" ]; then
        kill -- "-$infra_pid" 2>/dev/null || true
        wait "$infra_pid" 2>/dev/null || true
    fi
    stop_emulator
}
trap stop_background EXIT

echo "==> validating OpenAPI documents"
for spec in functions/*/openapi.yaml; do
    [ -e "$spec" ] || continue
    "$venv/bin/openapi-spec-validator" "$spec"
done

results="$root/target/test-output.log"
status=0
# The Python tools' own tests: the smoke-test script's (its checks against the OpenAPI documents
# and the feature spec, whole runs against a fake API; the end-to-end tests run it against the
# local stack) and the cost report's (its arithmetic, charts and missing inputs).
echo "==> python -m unittest discover -s tools/tests"
"$venv/bin/python" -m unittest discover -s tools/tests || status=$?
# The local stack's end-to-end tests run the function binaries, so build them all first.
echo "==> cargo build --workspace --bins"
cargo build --workspace --bins || status=$?
# `--workspace` would override the packages given with -p: then test only those.
packages=(--workspace)
for argument in "$@"; do
    case "$argument" in -p | --package | -p* | --package=*) packages=() ;; esac
done
echo "==> cargo test ${packages[*]} $*"
cargo test "${packages[@]}" "$@" 2>&1 | tee "$results" || status=$?

infra_status=0
wait "$infra_pid" || infra_status=$?
infra_pid=""
echo "==> tools/check-infra.sh"
cat "$infra_log"

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "workspace: %d passed, %d failed\n", p, f }' "$results"
if [ "$status" != 0 ] && ! grep -q '^test result:' "$results"; then
    echo "workspace: the tests did not build or run (see above)"
fi
if [ "$infra_status" != 0 ]; then
    echo "infra checks failed (see above and target/check-infra/)"
    [ "$status" != 0 ] || status="$infra_status"
fi
exit "$status"
