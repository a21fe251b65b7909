#!/usr/bin/env bash
# Runs every offline check of the deployment templates; needs no AWS account and, once the
# tools are installed, no network:
#
#   render      the SAM template, from infra/stack.json: target/sam/template.json, and as
#               deployed with the low-latency profile: target/sam/template-low-latency.json
#               (`cargo run -p stack -- sam`, unless TEMPLATE_RENDERED=1 says they were just rendered)
#   cfn-lint    both rendered templates
#   sam         validate --lint of both (pinned aws-sam-cli, in .venv-sam)
#   checkov     target/sam (CloudFormation/SAM) and infra/terraform, with infra/checkov.yaml
#   terraform   fmt -check -recursive infra/terraform (skipped, saying so, without terraform)
#   terraform   validate of infra/terraform/examples/basic, which calls the module, in a copy of
#               infra/ with the AWS provider from a plugin directory, offline (TF_PLUGIN_DIR,
#               default /opt/tf-plugins; skipped, saying so, without terraform or the provider)
#   sam-transform  python -m unittest discover -s infra/tests: what SAM makes of the rendered
#               template (offline samtranslator): tags, authorizer, no generated roles
#   deploy      infra/tests/deploy_test.py: terraform apply of examples/basic, in a copy of infra/,
#               against moto (in-process, no AWS account), every deployed resource read back
#               through the AWS APIs and compared with infra/stack.json, then terraform destroy;
#               about two minutes, mostly the provider's polling. It runs in .venv (moto, boto3:
#               tools/test.sh creates it), not .venv-infra; skipped, saying why, without .venv,
#               terraform or the provider in TF_PLUGIN_DIR (its logs: target/deploy-test/)
#
# 1. creates .venv-infra/ and .venv-sam/ inside the repository and installs the pinned tools
#    (tools/requirements-infra.txt, tools/requirements-sam.txt), only when the pins changed.
#    Three environments because checkov's pins (boto3, networkx) conflict with the emulator's in
#    tools/requirements.txt and with the SAM CLI's;
# 2. runs the checks in parallel, prints one PASS/FAIL line per check (with the output of a
#    failed one; SKIP with the reasons for a test run whose every test was skipped) and a
#    closing `infra: N passed, N failed`; exits non-zero if any failed.
#
# Logs of the last run: target/check-infra/<check>.log
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
venv="$root/.venv-infra"
sam_venv="$root/.venv-sam"

# install_pinned VENV REQUIREMENTS: a venv with exactly these pins, reinstalled when they change.
install_pinned() {
    if ! cmp -s "$2" "$1/.installed-requirements" 2>/dev/null; then
        echo "==> installing the pinned tools of ${2#"$root"/} into ${1#"$root"/}"
        python3 -m venv "$1" || return 1
        "$1/bin/pip" install --quiet --disable-pip-version-check -r "$2" || return 1
        cp "$2" "$1/.installed-requirements"
    fi
}
install_pinned "$venv" "$root/tools/requirements-infra.txt" || exit 1
install_pinned "$sam_venv" "$root/tools/requirements-sam.txt" || exit 1

# The template is a build output of the manifest (never committed): rendered here, unless the
# caller just rendered it (tools/test.sh sets TEMPLATE_RENDERED=1 and builds in parallel).
template="target/sam/template.json"
profile_template="target/sam/template-low-latency.json"
if [ "${TEMPLATE_RENDERED:-0}" != 1 ]; then
    echo "==> cargo run -p stack -- sam (as it is, and with --profile low-latency)"
    cargo run --quiet -p stack -- sam --out "$root/$template" || exit 1
    cargo run --quiet -p stack -- sam --profile low-latency --out "$root/$profile_template" || exit 1
else
    for rendered in "$template" "$profile_template"; do
        if [ ! -f "$rendered" ]; then
            echo "TEMPLATE_RENDERED=1 but there is no $rendered: render it with cargo run -p stack -- sam" >&2
            exit 1
        fi
    done
fi

logs="$root/target/check-infra"
rm -rf "$logs"
mkdir -p "$logs"

# checkov otherwise asks PyPI for a newer version of itself on every run.
export CKV_SKIP_PACKAGE_UPDATE_CHECK=true
export PYTHONDONTWRITEBYTECODE=1

# The AWS provider for terraform validate: a provider plugin directory, so that nothing is
# downloaded.
export TF_PLUGIN_DIR="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
have_terraform=false
command -v terraform >/dev/null 2>&1 && have_terraform=true
have_provider=false
[ -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ] && have_provider=true

ids=()
declare -A labels pids started

# start ID LABEL COMMAND...: runs the command in the background, output to target/check-infra/ID.log.
start() {
    local id="$1" label="$2"
    shift 2
    ids+=("$id")
    labels[$id]="$label"
    started[$id]=$EPOCHREALTIME
    (
        "$@" >"$logs/$id.log" 2>&1
        echo $? >"$logs/$id.status"
        echo "$EPOCHREALTIME" >"$logs/$id.end"
    ) &
    pids[$id]=$!
}

# terraform validate in a copy of infra/: the module reads ../stack.json and ../dashboard.json
# beside it, and a local .terraform, lock file or state of examples/basic must not take part.
terraform_validate() {
    local work status
    work="$(mktemp -d)" || return 1
    tar -C "$root" --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate*' -cf - infra \
        | tar -C "$work" -xf - &&
        (
            cd "$work/infra/terraform/examples/basic" &&
                terraform init -backend=false -input=false -no-color -plugin-dir="$TF_PLUGIN_DIR" >init.log 2>&1 ||
                { cat init.log; exit 1; }
            terraform validate -no-color
        )
    status=$?
    rm -rf "$work"
    return "$status"
}

start cfn-lint "cfn-lint $template $profile_template" \
    "$venv/bin/cfn-lint" -- "$template" "$profile_template"
# The SAM CLI reads the region from the environment even offline; telemetry stays off.
start sam-validate "sam validate --lint $template" \
    env AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 "$sam_venv/bin/sam" validate --lint --template-file "$template"
start sam-validate-profile "sam validate --lint $profile_template" \
    env AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 "$sam_venv/bin/sam" validate --lint --template-file "$profile_template"
start checkov-sam "checkov target/sam (cloudformation)" \
    "$venv/bin/checkov" --config-file infra/checkov.yaml --skip-download --framework cloudformation -d target/sam
start checkov-terraform "checkov infra/terraform (terraform)" \
    "$venv/bin/checkov" --config-file infra/checkov.yaml --skip-download --framework terraform -d infra/terraform
if $have_terraform; then
    start terraform-fmt "terraform fmt -check -recursive infra/terraform" \
        terraform fmt -check -recursive -diff infra/terraform
fi
if $have_terraform && $have_provider; then
    start terraform-validate "terraform validate infra/terraform (examples/basic, provider from $TF_PLUGIN_DIR)" \
        terraform_validate
fi
start sam-transform "SAM transform of $template: python -m unittest discover -s infra/tests" \
    env TEMPLATE="$root/$template" "$venv/bin/python" -m unittest discover -s infra/tests
# The deploy test needs moto, which is in .venv, not here; it says itself why it cannot run
# (no terraform, no provider), and its name keeps it out of the discover above.
have_emulator_venv=false
[ -x "$root/.venv/bin/python" ] && have_emulator_venv=true
if $have_emulator_venv; then
    start deploy "deploy test: terraform apply of examples/basic to moto, read back, destroy" \
        "$root/.venv/bin/python" -m unittest -v infra/tests/deploy_test.py
fi

# skip_reasons LOG: a unittest run that passed with every test skipped checked nothing; prints
# the reasons (unittest -v's "... skipped 'why'") and succeeds, or fails if anything ran.
skip_reasons() {
    local ran
    ran="$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$1")"
    [ -n "$ran" ] && [ "$ran" != 0 ] && grep -qx "OK (skipped=$ran)" "$1" || return 1
    grep -o "skipped '.*'\$" "$1" | sed "s/^skipped '\(.*\)'\$/\1/" | sort -u | paste -sd ';' -
}

passed=0
failed=0
for id in "${ids[@]}"; do
    wait "${pids[$id]}"
    status="$(cat "$logs/$id.status" 2>/dev/null || echo 1)"
    end="$(cat "$logs/$id.end" 2>/dev/null || echo "$EPOCHREALTIME")"
    seconds="$(awk -v a="${started[$id]}" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
    if [ "$status" = 0 ] && reasons="$(skip_reasons "$logs/$id.log")"; then
        printf 'SKIP  %s (%ss): %s\n' "${labels[$id]}" "$seconds" "$reasons"
    elif [ "$status" = 0 ]; then
        printf 'PASS  %s (%ss)\n' "${labels[$id]}" "$seconds"
        # The deploy test's summary: the time of each step, what it created and compared.
        [ "$id" != deploy ] || grep -h '^deploy test: \|^not shown by moto' "$logs/$id.log" | sed 's/^/      /'
        passed=$((passed + 1))
    else
        printf 'FAIL  %s (%ss, exit %s; log: target/check-infra/%s.log)\n' "${labels[$id]}" "$seconds" "$status" "$id"
        sed 's/^/      /' "$logs/$id.log"
        failed=$((failed + 1))
    fi
done
if ! $have_terraform; then
    echo "SKIP  terraform fmt -check infra/terraform (no terraform on PATH; install Terraform >= 1.5 to run it)"
    echo "SKIP  terraform validate infra/terraform (no terraform on PATH)"
elif ! $have_provider; then
    echo "SKIP  terraform validate infra/terraform (no AWS provider in $TF_PLUGIN_DIR; set TF_PLUGIN_DIR to a provider plugin directory holding registry.terraform.io/hashicorp/aws)"
fi
if ! $have_emulator_venv; then
    echo "SKIP  deploy test (no .venv, whose moto it needs: run tools/test.sh first, which creates it)"
fi

echo "infra: $passed passed, $failed failed"
[ "$failed" = 0 ]
