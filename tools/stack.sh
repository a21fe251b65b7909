#!/usr/bin/env bash
# Runs the whole stack on this machine.
#
#   tools/stack.sh                  bring it up, run the checked demo, then serve until Ctrl-C
#   tools/stack.sh up [options]     bring it up as asked (tools/stack.sh up --help)
#   tools/stack.sh token <user>     print a token the local HTTP API accepts for <user>
#
# Installs the pinned emulator into .venv/ (once), builds the functions named in
# infra/stack.json and the local-stack tool (debug; STACK_PROFILE=release for optimised
# builds), then runs target/<profile>/local-stack, which starts the emulator, creates the
# resources, runs the functions and serves the HTTP API. Ctrl-C stops everything.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source tools/lib/stack_build.sh

[ $# -eq 0 ] && set -- up --demo

if [ "$1" = up ]; then
    ensure_venv tools/requirements.txt
    build_stack_binaries
    shift
    set -- up --functions-dir "target/$profile" "$@"
else
    cargo build --quiet "${cargo_profile[@]}" -p local-stack
fi

exec "target/$profile/local-stack" "$@"
