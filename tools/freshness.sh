#!/usr/bin/env bash
# Measures how fresh the features are through the local stack, under load, and writes the result:
#
# 1. installs the pinned emulator into .venv/ (tools/requirements.txt) when the pins changed;
# 2. builds the functions, the model server and the local-stack tool (debug builds, as
#    tools/stack.sh does; STACK_PROFILE=release for optimised ones);
# 3. `local-stack freshness` twice, the manifest as it is and with `--profile low-latency`: each
#    brings the stack up on its own emulator, publishes a steady background workload, and times
#    probe events from their PutEvents to a `POST /predict` that counts them (p50, p99);
# 4. once both have run, writes what they printed, headed by this command and the date, to
#    docs/results/freshness.md, beside the cost report's freshness modelled for AWS.
#
# Extra arguments go to both `local-stack freshness` runs (see `--help`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source tools/lib/stack_build.sh
source tools/lib/results.sh
ensure_venv tools/requirements.txt
build_stack_binaries

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
# $profile is the build's (stack_build.sh); $variant the manifest's profile, "" for none.
for variant in "" low-latency; do
    run=0
    "target/$profile/local-stack" freshness --port 0 --functions-dir "target/$profile" \
        --log-file "target/local-stack/freshness${variant:+-$variant}.log" \
        ${variant:+--profile "$variant"} "$@" | tee -a "$report" || run=$?
    # A run that could not happen (2, 130) outweighs one whose probes failed (1).
    case "$status/$run" in
        */0 | 2/* | 130/*) ;;
        *) status=$run ;;
    esac
done

# 0: every probe saw its event, 1: one did not; anything else (could not start, interrupted)
# is no run.
if [ "$status" = 0 ] || [ "$status" = 1 ]; then
    write_results_page freshness "Freshness: the latest local run" "tools/freshness.sh${*:+ $*}" \
        "$report" "What it measures, and the freshness modelled for AWS: [Performance and cost](../performance.md#freshness)"
fi
exit "$status"
