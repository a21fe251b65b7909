# Sourced by tools/reliability.sh and tools/freshness.sh (after tools/lib/stack_build.sh, for
# $profile): the page a run's report goes to in docs/results/, so the figures the docs link to
# are the tool's, never typed by hand.
#
#   write_results_page NAME TITLE COMMAND REPORT LINK
#
# writes docs/results/NAME.md: "# TITLE", a line saying COMMAND wrote it (with the date, the
# build profile and the cores) and that LINK (markdown) explains it, then REPORT (a file) as text.
write_results_page() {
    local name="$1" title="$2" command="$3" report="$4" link="$5"
    [ "$profile" = release ] && command="STACK_PROFILE=release $command"
    mkdir -p docs/results
    {
        printf '# %s\n\n' "$title"
        printf '_Written by `%s` on %s (%s builds, %s cores); do not edit by hand. %s._\n\n' \
            "$command" "$(date -u +%Y-%m-%d)" "$profile" "$(nproc)" "$link"
        printf '```text\n'
        cat "$report"
        printf '```\n'
    } >"docs/results/$name.md"
    echo "==> wrote docs/results/$name.md"
}
