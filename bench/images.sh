#!/usr/bin/env bash
# Image build and push benchmarks on the reference project, against the local stack
# (`scripts/local-stack up`). Three figures:
#
#   1. a fully cached `forge build` side by side with `docker build` of the same context
#      with a warm Docker cache (hyperfine, one run, same machine state);
#   2. bytes uploaded by the first push and by a re-push of the same images;
#   3. a one-file-changed rebuild (a backend source edit that changes the binary), split
#      into cargo, Docker (build + normalize + load) and push time, and forge's own
#      overhead (wall time minus the steps on the critical path).
#
# Usage: bench/images.sh [RUNS]    (default 20 hyperfine runs)
# The project is copied to a temp dir with its own git repository and store; nothing in the
# checkout changes.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
runs="${1:-20}"
jobs="${FORGE_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-target}"

command -v hyperfine >/dev/null || { echo "error: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }
scripts/local-stack status >/dev/null 2>&1 || { echo "error: the local stack is down: scripts/local-stack up" >&2; exit 1; }
eval "$(scripts/local-stack env)"

cargo build -q --release -j "$jobs" -p forge-cli
forge="$(realpath "$target/release/forge")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/p"
# Repositories of their own, so the first push really is one.
sed "s|\"two-tier/|\"bench-$$-$(date +%s)/|" project.kdl > "$work/p/project.kdl"
cp -r modules "$work/p/"
mkdir -p "$work/p/examples"
(cd examples && tar --exclude=target --exclude=dist -cf - app) | tar -xf - -C "$work/p/examples"
cd "$work/p"
git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm bench
export FORGE_CACHE_DIR="$work/store"

step_secs() { # json-lines-file step → seconds
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("type")=="step-finished" and e.get("step")==sys.argv[2]:
        print(e["duration"]/1000)' "$1" "$2"
}
uploaded() { # json-lines-file step → the push log line
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("type")=="step-log" and e.get("step")==sys.argv[2] and "blobs uploaded" in e.get("line",""):
        print(e["line"])' "$1" "$2"
}

echo "== first build (cold store, cargo + docker + push)"
start=$(date +%s.%N)
"$forge" --json build > "$work/first.jsonl"
echo "wall $(python3 -c "print(round($(date +%s.%N)-$start,2))") s"
for s in backend-bin frontend-bin docker-build:backend docker-build:frontend ecr-push:backend ecr-push:frontend; do
    printf '  %-24s %ss\n' "$s" "$(step_secs "$work/first.jsonl" "$s")"
done
echo "== 2. bytes uploaded"
echo "  first push:  $(uploaded "$work/first.jsonl" ecr-push:backend)"
echo "               $(uploaded "$work/first.jsonl" ecr-push:frontend)"
# A re-push: a new commit that changes no image input re-runs only the pushes.
git commit -q --allow-empty -m "no change" 
"$forge" --json build > "$work/repush.jsonl"
echo "  re-push:     $(uploaded "$work/repush.jsonl" ecr-push:backend)"
echo "               $(uploaded "$work/repush.jsonl" ecr-push:frontend)"

echo "== 1. fully cached forge build vs docker build with a warm cache (same context)"
ctx="$work/ctx"
mkdir -p "$ctx/dist"
cp examples/app/backend/Dockerfile "$ctx/"
cp examples/app/target/x86_64-unknown-linux-gnu/release/backend "$ctx/dist/backend"
docker build -q -t bench/backend:warm "$ctx" >/dev/null
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$work/cached.md" \
    -n "forge build (all cached)" "$forge build" \
    -n "docker build (warm cache)" "docker build -q -t bench/backend:warm $ctx"
cat "$work/cached.md"

echo "== 3. one backend file changed (the binary changes)"
sed -i '0,/"Anvil"/s//"Anvil (bench)"/' examples/app/backend/src/main.rs
git commit -qam "bench edit"
start=$(date +%s.%N)
"$forge" --json build > "$work/edit.jsonl"
wall=$(python3 -c "print(round($(date +%s.%N)-$start,3))")
cargo_s=$(step_secs "$work/edit.jsonl" backend-bin)
docker_s=$(step_secs "$work/edit.jsonl" docker-build:backend)
push_s=$(step_secs "$work/edit.jsonl" ecr-push:backend)
echo "  wall                      ${wall}s"
echo "  backend-bin (cargo)       ${cargo_s}s"
echo "  docker-build:backend      ${docker_s}s  ($(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("type")=="step-log" and e.get("step")=="docker-build:backend" and e.get("line","").startswith("[forge] engine build"):
        print(e["line"][8:])' "$work/edit.jsonl"))"
echo "  ecr-push:backend          ${push_s}s"
echo "  forge overhead            $(python3 -c "print(round($wall-$cargo_s-$docker_s-$push_s,3))")s  (wall minus the critical path's steps)"
docker rmi -f bench/backend:warm >/dev/null
