#!/usr/bin/env bash
# The ECS half of `forge deploy`, timed:
#
#   1. cached   a fully cached `forge deploy` with the drift check, for N = 2 and 40
#               services: its wall time (hyperfine) and the calls it makes (one HEAD of
#               the state object in moto's log, DescribeServices in the replay's log).
#   2. failed   the time from ECS answering `FAILED` (the replay's log) to forge's exit,
#               story included (ListTasks, DescribeTasks).
#
# The project is the tests' fixture (cli/tests/cli/rollout.rs): terraform on Terraform's
# built-in provider rendered by the `tf-root` fixture, the S3 backend and its locks on
# moto, the image steps played by the `ok` fixture, and ECS answered by
# `forge-ecs-replay` (moto's ECS keeps every deployment IN_PROGRESS with no task
# running, so no service is ever settled there; see clients/src/testing.rs).
#
# Usage: bench/rollout.sh [RUNS]       (default 10)
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
command -v terraform >/dev/null || die "terraform is not on PATH (1.11.x, releases.hashicorp.com)"
curl -sf -o /dev/null http://127.0.0.1:4566/moto-api/ || die "moto is not up: run scripts/local-stack up"

echo "== building release forge and forge-ecs-replay (-j$jobs)"
cargo build --release --locked -j "$jobs" -p forge-cli
cargo build --release --locked -j "$jobs" -p forge-clients --features testing --bin forge-ecs-replay
forge="$(realpath "$target/release/forge")"
replay_bin="$(realpath "$target/release/forge-ecs-replay")"

work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
"$forge" plugin build plugins/fixtures/tf-root --out "$work/tf-root.wasm" >/dev/null
"$forge" plugin build plugins/fixtures/ok --out "$work/ok.wasm" >/dev/null
hash_of() { "$forge" plugin inspect "$1" | sed -n 's/^hash *//p'; }
tf_hash="$(hash_of "$work/tf-root.wasm")"
ok_hash="$(hash_of "$work/ok.wasm")"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1

td() { echo "arn:aws:ecs:us-east-1:123456789012:task-definition/svc$1:1"; }

# A project with N services, each deployed by its own module instance.
project() {
    local n=$1 p=$2 prefix=$3
    mkdir -p "$p/modules/net" "$p/plugins"
    cp "$work/tf-root.wasm" "$work/ok.wasm" "$p/plugins/"
    printf 'output "cidr" {\n  value = "10.0.0.0/16"\n}\n' >"$p/modules/net/main.tf"
    {
        cat <<KDL
version 1
project "bench" { region "us-east-1"; }
state {
    s3 bucket="$bucket" key="$prefix/{env}.tfstate" endpoint="http://127.0.0.1:4566"
    lock "s3-lockfile" "dynamodb" table="$table"
}
registry "r" { kind "ecr"; url "127.0.0.1:5000"; }
module "net" { source "modules/net"; }
var "v" "a"
plugin "terraform-render" path="plugins/tf-root.wasm" hash="$tf_hash" { }
plugin "docker-build" path="plugins/ok.wasm" hash="$ok_hash" { grant "files.read"; }
plugin "ecr-push" path="plugins/ok.wasm" hash="$ok_hash" { grant "files.read"; }
KDL
        for i in $(seq "$n"); do
            mkdir -p "$p/svc$i"
            echo "FROM scratch" >"$p/svc$i/Dockerfile"
            cat <<KDL
module "m$i" { source "modules/net"; }
service "svc$i" {
    build { context "svc$i"; }
    repository "bench/svc$i"
    port 8080
    deployed-by "m$i"
}
var "m${i}__cluster_arn" "arn:aws:ecs:us-east-1:123456789012:cluster/bench"
var "m${i}__service_name" "svc$i"
var "m${i}__task_definition_arn" "$(td "$i")"
KDL
        done
    } >"$p/project.kdl"
}

# The replay's script: DescribeServices answers with all N services settled.
settled() {
    local n=$1
    python3 - "$n" <<'PY'
import json, sys
n = int(sys.argv[1])
def svc(i):
    td = f"arn:aws:ecs:us-east-1:123456789012:task-definition/svc{i}:1"
    return {"serviceName": f"svc{i}", "serviceArn": f"arn:aws:ecs:us-east-1:123456789012:service/bench/svc{i}",
            "status": "ACTIVE", "desiredCount": 1, "runningCount": 1, "pendingCount": 0, "taskDefinition": td,
            "deployments": [{"id": f"ecs-svc/{i}", "status": "PRIMARY", "taskDefinition": td, "desiredCount": 1,
                             "runningCount": 1, "pendingCount": 0, "failedTasks": 0, "rolloutState": "COMPLETED"}],
            "events": []}
print(json.dumps({"DescribeServices": [{"services": [svc(i) for i in range(1, n + 1)], "failures": []}]}))
PY
}

# Starts the replay with a script; sets $endpoint and $calls (its log).
start_replay() {
    local script=$1
    calls="$work/calls-$RANDOM.log"
    : >"$calls"
    local out="$work/replay-$RANDOM.out"
    "$replay_bin" "$script" "$calls" >"$out" &
    pids+=($!)
    for _ in $(seq 50); do [[ -s $out ]] && break; sleep 0.1; done
    endpoint="$(head -n1 "$out")"
    [[ -n $endpoint ]] || die "forge-ecs-replay did not start"
}

for n in 2 40; do
    echo "== 1. a fully cached deploy with the drift check, $n services"
    p="$work/p$n"
    prefix="forge-bench/rollout-$$-$n-$(date +%s)"
    project "$n" "$p" "$prefix"
    settled "$n" >"$work/settled-$n.json"
    start_replay "$work/settled-$n.json"
    export AWS_ENDPOINT_URL_ECS="$endpoint" FORGE_CACHE_DIR="$work/store-$n"
    (cd "$p" && "$forge" deploy >/dev/null)
    (cd "$p" && "$forge" deploy >/dev/null)
    before_calls=$(wc -l <"$calls")
    before_moto=$(wc -l <"$stack/moto.log")
    (cd "$p" && "$forge" --json deploy) | grep -c '"status":"ran"' | sed 's/^/steps that ran: /' || true
    echo "ECS calls: $(tail -n +"$((before_calls + 1))" "$calls" | cut -d' ' -f2 | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
    echo "moto requests: $(tail -n +"$((before_moto + 1))" "$stack/moto.log" | grep -F "$prefix" | awk '{print $6, $7}' | tr -d '"' | tr '\n' ' ')"
    (cd "$p" && hyperfine -N --warmup 3 --runs "$runs" -n "forge deploy (cached, $n services)" "$forge deploy")
done

echo "== 2. from a scripted FAILED to forge's exit ($runs runs)"
p="$work/failed"
project 1 "$p" "forge-bench/rollout-$$-failed-$(date +%s)"
cat >"$work/failed.json" <<JSON
{"DescribeServices": [{"services": [{"serviceName": "svc1", "status": "ACTIVE", "desiredCount": 1,
  "deployments": [{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "$(td 1)", "desiredCount": 1,
    "runningCount": 0, "failedTasks": 3, "rolloutState": "FAILED",
    "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."}],
  "events": [{"id": "1", "message": "(service svc1) has started 1 tasks: (task t1)."}]}], "failures": []}],
 "ListTasks": [{"taskArns": ["arn:aws:ecs:us-east-1:123456789012:task/bench/t1"]}],
 "DescribeTasks": [{"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/bench/t1",
   "taskDefinitionArn": "$(td 1)", "lastStatus": "STOPPED", "startedBy": "ecs-svc/2",
   "stoppedReason": "Essential container in task exited",
   "containers": [{"name": "svc1", "exitCode": 1}]}]}]}
JSON
start_replay "$work/failed.json"
export AWS_ENDPOINT_URL_ECS="$endpoint" FORGE_CACHE_DIR="$work/store-failed"
(cd "$p" && "$forge" deploy >/dev/null 2>&1) && die "the failed rollout did not fail the deploy"
: >"$work/gaps"
for _ in $(seq "$runs"); do
    (cd "$p" && "$forge" deploy >/dev/null 2>&1) && die "the failed rollout did not fail the deploy"
    exited=$(date +%s%3N)
    failed=$(grep ' DescribeServices$' "$calls" | tail -n1 | cut -d' ' -f1)
    echo $((exited - failed)) >>"$work/gaps"
done
sort -n "$work/gaps" | awk '{a[NR]=$1} END {printf "FAILED → exit: median %s ms, min %s, max %s (story calls included)\n", (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2), a[1], a[NR]}'
