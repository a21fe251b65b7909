#!/usr/bin/env bash
# Builds the deployment zip of every function in infra/stack.json:
#
#   cargo lambda build --release --arm64 --output-format zip -p <function>
#   -> target/lambda/<function>/bootstrap.zip
#
# which is where the SAM template (CodeUri) and the Terraform module (package_dir) look.
#
# cargo-lambda and Zig (its cross linker) are pinned in tools/requirements-package.txt and
# installed into .venv on first use (again only when the pins change). The arm64 build needs the
# Rust target aarch64-unknown-linux-gnu; without it, and if `rustup target add` cannot add it,
# the functions are built for x86_64 instead, and the script says how to deploy them so.
#
# Extra arguments go to every `cargo lambda build` (e.g. `tools/package.sh --verbose`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
requirements="$root/tools/requirements-package.txt"
marker="$venv/.installed-requirements-package"
arm_target=aarch64-unknown-linux-gnu

if ! cmp -s "$requirements" "$marker" 2>/dev/null; then
    echo "==> installing the pinned cargo-lambda and Zig into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$marker"
fi
# cargo finds the `cargo-lambda` subcommand on PATH; cargo-lambda runs Zig as `python3 -m ziglang`.
export PATH="$venv/bin:$PATH"

source "$root/tools/lib/manifest.sh"
mapfile -t functions < <(manifest_functions)
if [ "${#functions[@]}" = 0 ]; then
    echo "infra/stack.json defines no functions" >&2
    exit 1
fi

has_arm_target() {
    [ -d "$(rustc --print sysroot)/lib/rustlib/$arm_target/lib" ]
}

architecture=arm64
flag=--arm64
if ! has_arm_target; then
    echo "==> the Rust target $arm_target is not installed; trying: rustup target add $arm_target"
    if ! { command -v rustup >/dev/null 2>&1 && rustup target add "$arm_target" && has_arm_target; }; then
        architecture=x86_64
        flag=--x86-64
        cat >&2 <<MSG
warning: cannot add the Rust target $arm_target, so the functions are built for x86_64.
         Deploy them as x86_64, or the functions will fail to start:
           SAM:       sam deploy --parameter-overrides Architecture=x86_64 ...
           Terraform: architecture = "x86_64"
         To build for arm64 (the manifest's choice: cheaper per GB-second), run
         'rustup target add $arm_target' where it can be downloaded, then run this script again.
MSG
    fi
fi

for function in "${functions[@]}"; do
    echo "==> cargo lambda build --release $flag --output-format zip -p $function"
    cargo lambda build --release "$flag" --output-format zip -p "$function" "$@"
done

echo "==> deployment zips ($architecture)"
for function in "${functions[@]}"; do
    zip="target/lambda/$function/bootstrap.zip"
    if [ ! -f "$zip" ]; then
        echo "missing: $zip (cargo lambda did not write it)" >&2
        exit 1
    fi
    printf '%s  %s bytes\n' "$zip" "$(wc -c <"$zip" | tr -d ' ')"
done
# What the zips were built for, for whoever reads them next (tools/perf.sh reports it).
echo "$architecture" >target/lambda/architecture
if [ "$architecture" = x86_64 ]; then
    echo "built for x86_64: deploy with Architecture=x86_64 (SAM) or architecture = \"x86_64\" (Terraform)"
fi
