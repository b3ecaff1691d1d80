#!/usr/bin/env bash
# End-to-end no-op benchmark of the `forge` binary on a synthetic workspace (10,000 input
# files, 200 deploy steps), side by side with yardsticks, in one hyperfine run:
#
#   forge plan            warm stat cache (the everyday "did anything change?")
#   forge plan            stat cache removed before each run (fresh clone, after `cache gc`)
#   forge deploy          every step cached (no executor is ever called)
#   b3sum                 raw blake3 of the same 10,000 files (only if b3sum is installed)
#   git status            on the same tree, committed, index warm
#
# Usage: bench/run.sh [RUNS]      (default 20 timed runs per command, after 3 warm-ups)
# Environment:
#   FORGE_BENCH_DIR     where to put the workspace and store (default: a fresh temp dir,
#                       removed on exit; set it to keep them for profiling)
#   FORGE_BASELINE      another forge binary (an older build) to time side by side with
#                       this one on the same store: plan warm, plan cold, deploy cached
#   FORGE_BUILD_JOBS    cargo -j (default 2: the machine is shared)
#   CARGO_TARGET_DIR    honoured, as cargo does
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-20}"
jobs="${FORGE_BUILD_JOBS:-2}"
target="${CARGO_TARGET_DIR:-target}"

if ! command -v hyperfine >/dev/null; then
    echo "error: hyperfine is not installed (Debian: apt-get install hyperfine)" >&2
    exit 1
fi

echo "== building release forge and forge-synth (-j$jobs)"
cargo build --release --locked -j "$jobs" -p forge-cli -p forge-bench
forge="$(realpath "$target/release/forge")"
synth="$(realpath "$target/release/forge-synth")"

if [[ -n "${FORGE_BENCH_DIR:-}" ]]; then
    work="$FORGE_BENCH_DIR"
    mkdir -p "$work"
    rm -rf "$work/ws" "$work/store"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
ws="$work/ws"
store="$work/store"
mkdir -p "$ws"

echo "== generating the workspace in $ws"
"$synth" "$ws"
# The generated project's default env (and the one we deploy).
env_name="$(sed -n 's/^env "\([^"]*\)".*/\1/p' "$ws/project.kdl" | head -n1)"
: "${env_name:?no env in the generated project.kdl}"

# A real repository, committed, so `git status` has a warm index to compare against. forge
# skips `.git` and honours the same `.gitignore` either way.
git -C "$ws" init -q
git -C "$ws" add -A
git -C "$ws" -c user.name=bench -c user.email=bench@example.invalid commit -q -m synthetic

export FORGE_CACHE_DIR="$store"
# Every command below runs with the test executor selected: its identity feeds the plugin
# identities in fingerprints (so its results never pass for real plugins'), and the no-op
# commands must compute the same fingerprints as the run that populated the store.
export FORGE_TEST_EXECUTOR=''
# Populates the store for one binary (each forge version reads only its own store layout)
# and settles its stat cache: the populating run cannot trust hashes of files written in
# its own clock tick, so one plan follows. After it, nothing may be left to run.
populate() {
    echo "== populating the store: $1 deploy --env $env_name (test executor)"
    "$1" -C "$ws" deploy --env "$env_name" --quiet
    "$1" -C "$ws" plan --env "$env_name" --quiet >/dev/null || true
    if ! "$1" -C "$ws" plan --env "$env_name" --detailed-exitcode >/dev/null; then
        echo "error: after populating, $1 plan still has work to do" >&2
        exit 1
    fi
}
populate "$forge"
if [[ -n "${FORGE_BASELINE:-}" ]]; then
    populate "$(realpath "$FORGE_BASELINE")"
fi
# Stat caches of both layout versions (hyperfine -N runs prepare commands without a shell).
stat_dirs="$store/v1/stat $store/v2/stat"

cmds=(
    -n "forge plan (warm)" -p "true"
    "$forge -C $ws plan --env $env_name"
    -n "forge plan (cold stat cache)" -p "rm -rf $stat_dirs"
    "$forge -C $ws plan --env $env_name"
    -n "forge deploy (all cached)" -p "true"
    "$forge -C $ws deploy --env $env_name"
)
if [[ -n "${FORGE_BASELINE:-}" ]]; then
    base="$(realpath "$FORGE_BASELINE")"
    cmds+=(
        -n "baseline: forge plan (warm)" -p "true"
        "$base -C $ws plan --env $env_name"
        -n "baseline: forge plan (cold stat cache)" -p "rm -rf $stat_dirs"
        "$base -C $ws plan --env $env_name"
        -n "baseline: forge deploy (all cached)" -p "true"
        "$base -C $ws deploy --env $env_name"
    )
fi
if command -v b3sum >/dev/null; then
    list="$work/files.txt"
    (cd "$ws" && find services lib -type f -name '*.rs' | sort) >"$list"
    cmds+=(-n "b3sum (10k files)" -p "true" "bash -c 'cd $ws && xargs -a $list b3sum >/dev/null'")
else
    echo "note: b3sum is not installed; skipping the raw hashing yardstick"
fi
cmds+=(-n "git status" -p "true" "git -C $ws status --porcelain")

echo "== hyperfine: $runs runs each, 3 warm-ups"
"$forge" --version || true
hyperfine -N --warmup 3 --runs "$runs" \
    --export-json "$work/hyperfine.json" \
    --export-markdown "$work/hyperfine.md" \
    "${cmds[@]}"

echo
echo "== summary (seconds; spread = min..max)"
python3 - "$work/hyperfine.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
print(f"| {'scenario':<38} | {'median':>9} | {'mean ± σ':>19} | {'min … max':>19} |")
print(f"|{'-'*40}|{'-'*11}|{'-'*21}|{'-'*21}|")
ms = lambda s: f"{s * 1000:.1f} ms"
for r in results:
    print(
        f"| {r['command']:<38} | {ms(r['median']):>9} | "
        f"{ms(r['mean']) + ' ± ' + ms(r['stddev'] or 0):>19} | "
        f"{ms(r['min']) + ' … ' + ms(r['max']):>19} |"
    )
EOF
