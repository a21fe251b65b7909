# Sourced by the tools/*.sh scripts: what infra/stack.json defines, for shell loops.
#
#   manifest_functions    the manifest's function keys, one per line (also their package and
#                         binary names)

manifest_functions() {
    python3 -c '
import json, sys
print("\n".join(json.load(open(sys.argv[1]))["functions"]))
' "$root/infra/stack.json"
}
