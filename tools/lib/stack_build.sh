# Sourced by tools/stack.sh and tools/reliability.sh from the repository root: the build
# profile of the local stack's binaries, from STACK_PROFILE (debug, the default, or release),
# and the build of everything the stack runs.

source tools/lib/venv.sh
source tools/lib/manifest.sh

profile="${STACK_PROFILE:-debug}"
case "$profile" in
    debug) cargo_profile=() ;;
    release) cargo_profile=(--release) ;;
    *) echo "STACK_PROFILE must be debug or release, not $profile" >&2; exit 2 ;;
esac

# Every manifest function, the model server and local-stack, into target/$profile.
build_stack_binaries() {
    local packages=(-p local-stack -p model)
    for function in $(manifest_functions); do
        packages+=(-p "$function")
    done
    echo "==> building ${packages[*]} ($profile)" >&2
    cargo build --quiet "${cargo_profile[@]}" "${packages[@]}"
}
