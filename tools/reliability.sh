#!/usr/bin/env bash
# Tries what must never work, against the whole stack on this machine, and prints the counts:
#
# 1. installs the pinned emulator into .venv/ (tools/requirements.txt) when the pins changed;
# 2. builds the functions, the model server and the local-stack tool (debug builds, as
#    tools/stack.sh does; STACK_PROFILE=release for optimised ones);
# 3. `local-stack reliability`: fuzzes the event decoders and the HTTP APIs' request parsing
#    from the samples in events/ (no panics; every message, record and request accounted for),
#    then brings the stack up on its own emulator and a free loopback port, runs the checks,
#    prints their counts, stops everything; the exit status is 0 only if every check passed:
#    - isolation: one user's attempts to read, list, page into, update and delete another's
#      tasks through the HTTP API (by id, by cursor, with preconditions, with look-alike token
#      subjects); a success is any answer that shows, changes or confirms the owner's data;
#    - load: every HTTP route, paced to a fixed rate for a fixed time; throughput and p50/p99
#      per route, and every answer must be the status its route documents;
#    - API tests: schemathesis (pinned in tools/requirements.txt, configured by
#      tools/schemathesis/) against each function's OpenAPI document;
#    - faults, crashes and duplicates: two pipeline workloads (every event once, every event
#      twice) under injected throttling, 5xx, slow answers and dropped connections between
#      the functions and the emulator, with the stream functions' processes killed mid-batch;
#      the features and aggregates must equal the reference: zero lost, zero double-counted;
#    - bad input: a catalogue of malformed inputs through every trigger, good ones between
#      them; each must be a reject with its reason or a clear error, and nothing is lost;
#    then one summary of every count;
# 4. once the run has completed (passed or failed), writes what it printed, headed by this
#    command and the date, to docs/results/reliability.md: the counts the docs link to.
#
# Extra arguments go to `local-stack reliability` (see `--help`). CI runs the same checks
# through the end-to-end tests of tools/local-stack (tools/test.sh).
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
# tee ignores Ctrl-C, so local-stack can stop the stack and print what it has before it exits.
"target/$profile/local-stack" reliability --port 0 --functions-dir "target/$profile" \
    --log-file target/local-stack/reliability.log "$@" | (trap '' INT; tee "$report") || status=$?

# 0: every check passed, 1: one failed; anything else (could not start, interrupted) is no run.
if [ "$status" = 0 ] || [ "$status" = 1 ]; then
    write_results_page reliability "Reliability: the latest run" "tools/reliability.sh${*:+ $*}" \
        "$report" "What each check does: [Testing and reliability](../testing.md#reliability)"
fi
exit "$status"
