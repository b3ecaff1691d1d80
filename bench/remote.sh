#!/usr/bin/env bash
# The shared remote cache and `forge build --check` on the reference project, against the
# local stack (`scripts/local-stack up`; the cache is moto's S3, env `local`). Figures:
#
#   1. agent A's cold `forge build` (cargo, Docker, push), publishing to the remote cache
#      with a signing key the project trusts;
#   2. agent B (a `git clone`, an empty store, no key) running `forge build`: every step a
#      remote hit (hyperfine, a fresh store before each run), and the bytes it downloaded
#      (its store afterwards) against what agent A's store holds;
#   3. `forge build --check` on agent A (every binary and image rebuilt and compared)
#      against its cold build.
#
# Usage: bench/remote.sh [RUNS]    (default 10 hyperfine runs)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
runs="${1:-10}"
jobs="${FORGE_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-target}"

command -v hyperfine >/dev/null || { echo "error: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }
scripts/local-stack status >/dev/null 2>&1 || { echo "error: the local stack is down: scripts/local-stack up" >&2; exit 1; }
eval "$(scripts/local-stack env)"

cargo build -q --release -j "$jobs" -p forge-cli
forge="$(realpath "$target/release/forge")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tag="bench-$$-$(date +%s)"
pub=$("$forge" --json cache keygen --out "$work/ci.key" --name jenkins-ci |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
mkdir -p "$work/a/examples"
# Repositories and a cache prefix of their own; the bench's key is the trusted one.
sed -e "s|\"two-tier/|\"$tag/|" \
    -e "s|prefix=\"forge-cache/\"|prefix=\"$tag/\"|" \
    -e "s|trust \"jenkins-ci\" \"[^\"]*\"|trust \"jenkins-ci\" \"$pub\"|" \
    project.kdl > "$work/a/project.kdl"
cp -r modules "$work/a/"
(cd examples && tar --exclude=target --exclude=dist -cf - app) | tar -xf - -C "$work/a/examples"
(cd "$work/a" && git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm bench)
git clone -q "$work/a" "$work/b"
secs() { python3 -c "print(round($2-$1,2))"; }
bytes() { du -sb "$1" 2>/dev/null | cut -f1; }

echo "== 1. agent A: cold build, publishing"
start=$(date +%s.%N)
(cd "$work/a" && FORGE_CACHE_DIR="$work/store-a" FORGE_CACHE_KEY="$work/ci.key" "$forge" --json build > "$work/a.jsonl")
cold=$(secs "$start" "$(date +%s.%N)")
echo "wall $cold s; store $(bytes "$work/store-a/v2/cas") bytes of blobs"
echo "warnings: $(grep -c '"type":"warning"' "$work/a.jsonl" || true)"

echo "== 2. agent B: empty store, every step a remote hit"
(cd "$work/b" && FORGE_CACHE_DIR="$work/store-b" "$forge" --json build > "$work/b.jsonl")
python3 - "$work/b.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
s = lines[-1]
remote = sum(1 for l in lines if l.get("type") == "step-finished" and (l.get("reason") or "").startswith("remote hit"))
print(f"ran {s['ran']}, cached {s['cached']} ({remote} remote hits)")
PY
echo "downloaded into B's store: $(bytes "$work/store-b/v2/cas") bytes of blobs (A's holds $(bytes "$work/store-a/v2/cas"))"
(cd "$work/b" && FORGE_CACHE_DIR="$work/store-b" hyperfine -N --runs "$runs" \
    --prepare "rm -rf $work/store-b" \
    -n "agent B, empty store: forge build (all remote hits)" "$forge build" \
    --export-json "$work/b.json" >/dev/null)
(cd "$work/b" && FORGE_CACHE_DIR="$work/store-b" "$forge" build > /dev/null)
(cd "$work/b" && FORGE_CACHE_DIR="$work/store-b" hyperfine -N --runs "$runs" --warmup 1 \
    -n "agent B, afterwards: forge build (all local hits)" "$forge build" \
    --export-json "$work/b2.json" >/dev/null)
python3 - "$work/b.json" "$work/b2.json" <<'PY'
import json, sys
for f in sys.argv[1:]:
    r = json.load(open(f))["results"][0]
    print(f"{r['command']}: {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f} ms")
PY

echo "== 3. agent A: forge build --check"
start=$(date +%s.%N)
(cd "$work/a" && FORGE_CACHE_DIR="$work/store-a" "$forge" --json build --check > "$work/check.jsonl")
echo "wall $(secs "$start" "$(date +%s.%N)") s (the cold build took $cold s)"
python3 - "$work/check.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("type") == "step-finished":
        print(f"  {e['step']}: {e['status']} in {e['duration']/1000:.1f} s: {e.get('reason') or ''}"[:160])
PY
