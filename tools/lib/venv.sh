# Sourced by the tools/*.sh scripts: the repository's Python environment, .venv/, with the
# pinned packages of the given requirements files, reinstalled only when a pin changes.
#
#   ensure_venv tools/requirements.txt [more requirement files...]

ensure_venv() {
    local venv="$root/.venv" stamp="$root/.venv/.installed-requirements"
    local wanted
    wanted="$(cat "$@")"
    if [ ! -x "$venv/bin/python" ] || [ "$wanted" != "$(cat "$stamp" 2>/dev/null)" ]; then
        echo "==> installing pinned Python tools into .venv ($*)" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check $(printf -- '-r %s ' "$@")
        printf '%s' "$wanted" >"$stamp"
    fi
}
