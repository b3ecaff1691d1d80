#!/usr/bin/env bash
# The Terraform half of `forge deploy`, timed against moto and the real `terraform`:
#
#   1. overhead   what forge adds around a `terraform-apply` that reruns and finds nothing
#                 to change (init, plan with no changes, output): forge deploy's wall time
#                 minus the time of the `terraform` processes it started, per run. The
#                 rerun is caused by a comment toggled in a module source (an input).
#   2. cached     a fully cached `forge deploy` (no terraform, no lock, one HEAD of the
#                 state object), `forge plan` (the same HEAD), and Terraform's own
#                 no-change `terraform plan` on the same state as the yardstick, in one
#                 hyperfine run; and the requests moto logged for one cached deploy.
#
# The project is the tests' fixture (cli/tests/cli/terraform.rs): a root module on
# Terraform's built-in provider, rendered by the `tf-root` fixture plugin, with the S3
# backend and both locks on moto. The reference project cannot stand in: its AWS
# provider cannot be downloaded here.
#
# Usage: bench/deploy.sh [RUNS]       (default 10 of each)
# Needs: `scripts/local-stack up` (moto on 127.0.0.1:4566), terraform on PATH, hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-10}"
jobs="${FORGE_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-target}"
stack="${FORGE_STACK_DIR:-/tmp/forge-local-stack}"
bucket="two-tier-terraform-state-123456789012"
table="two-tier-terraform-locks"

die() { echo "error: $*" >&2; exit 1; }
command -v hyperfine >/dev/null || die "hyperfine is not installed (Debian: apt-get install hyperfine)"
real_tf="$(command -v terraform)" || die "terraform is not on PATH (1.11.x, releases.hashicorp.com)"
curl -sf -o /dev/null http://127.0.0.1:4566/moto-api/ || die "moto is not up: run scripts/local-stack up"

echo "== building release forge (-j$jobs)"
cargo build --release --locked -j "$jobs" -p forge-cli
forge="$(realpath "$target/release/forge")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
p="$work/project"
mkdir -p "$p/modules/net" "$p/plugins" "$p/tools"
"$forge" plugin build plugins/fixtures/tf-root --out "$p/plugins/tf-root.wasm" >/dev/null
hash="$("$forge" plugin inspect "$p/plugins/tf-root.wasm" | sed -n 's/^hash *//p')"
prefix="forge-bench/$$-$(date +%s)"
cat >"$p/modules/net/main.tf" <<'TF'
variable "cidr" {
  default = "10.0.0.0/16"
}

output "cidr" {
  value = var.cidr
}
TF
cat >"$p/project.kdl" <<KDL
version 1
project "tf" { region "us-east-1"; }
state {
    s3 bucket="$bucket" key="$prefix/{env}.tfstate" endpoint="http://127.0.0.1:4566"
    lock "s3-lockfile" "dynamodb" table="$table"
}
module "net" { source "modules/net"; }
var "v" "a"
plugin "terraform-render" path="plugins/tf-root.wasm" hash="$hash" { }
KDL
# A terraform that logs each command and its duration (ns), then exits as the real one.
tf_log="$work/terraform.log"
cat >"$p/tools/terraform" <<SH
#!/bin/sh
s=\$(date +%s%N)
"$real_tf" "\$@"
rc=\$?
echo "\$1 \$((\$(date +%s%N) - s))" >>"$tf_log"
exit \$rc
SH
chmod +x "$p/tools/terraform"

export FORGE_CACHE_DIR="$work/store" FORGE_TERRAFORM="$p/tools/terraform"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
cd "$p"
echo "== first deploy (applies)"
"$forge" deploy >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== 1. overhead around a no-change terraform plan ($runs runs)"
walls="$work/walls" tfs="$work/tfs" overheads="$work/overheads"
: >"$walls"; : >"$tfs"; : >"$overheads"
for i in $(seq "$runs"); do
    echo "# bench $i" >>modules/net/main.tf
    : >"$tf_log"
    s=$(date +%s%N)
    "$forge" deploy >/dev/null
    wall=$(( $(date +%s%N) - s ))
    grep -q '^apply ' "$tf_log" && die "a no-change rerun applied something"
    tf=$(awk '{t += $2} END {print t + 0}' "$tf_log")
    echo $(( wall / 1000000 )) >>"$walls"
    echo $(( tf / 1000000 )) >>"$tfs"
    echo $(( (wall - tf) / 1000000 )) >>"$overheads"
done
echo "terraform commands per run: $(cut -d' ' -f1 "$tf_log" | tr '\n' ' ')"
echo "median forge deploy wall: $(median <"$walls") ms"
echo "median terraform's own time: $(median <"$tfs") ms"
echo "median forge overhead (wall - terraform): $(median <"$overheads") ms"

echo "== 2. a fully cached deploy"
"$forge" deploy >/dev/null
: >"$tf_log"
lines=$(wc -l <"$stack/moto.log")
"$forge" deploy >/dev/null
echo "terraform processes started: $(wc -l <"$tf_log")"
echo "requests moto logged for this project:"
tail -n +"$((lines + 1))" "$stack/moto.log" | grep -F "$prefix" | sed 's/^/  /'
# Terraform's own no-change plan on the same state, in forge's working directory.
workdir="$(dirname "$(find "$work/store/v2/terraform" -path '*/.forge/terraform/default/versions.tf' | head -n1)")"
hyperfine -N --warmup 3 --runs "$runs" \
    -n 'forge deploy (cached)' "$forge deploy" \
    -n 'forge plan' "$forge plan" \
    -n 'terraform plan (no changes)' "$real_tf -chdir=$workdir plan -input=false -lock=false -detailed-exitcode"
