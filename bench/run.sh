#!/bin/bash
# Side-by-side benchmark of kiln and ONNX Runtime (onnxruntime-node, CPU
# execution provider) on the torchvision models of issue 4.
#
# Usage: bench/run.sh [--models a,b,...] [--iters K] [--rounds R] [--quick]
#
#   --models   comma-separated subset of: resnet18 resnet50 mobilenet_v2
#              efficientnet_b0 squeezenet1_1 (default: all five)
#   --iters K  timed runs per round and runtime (default 20)
#   --rounds R interleaved rounds per setting (default 3)
#   --quick    --iters 5 --rounds 1 and one warm-up run: a smoke test, not a
#              measurement
#
# Environment: KILN_BUILD_DIR (default build/) is where kiln is built and
# where the models (bench-models/) and results go; BENCH_MODELS_DIR
# overrides the model folder.
#
# Per model and setting ({batch 1, 1 thread}, {batch 1, 2 threads},
# {batch 8, 2 threads}) it runs `kiln bench --json` and `node
# bench/ort_bench.js` alternately, R rounds (the order flips every round so
# drift in machine load hits both sides alike). Each round is a fresh process
# with W warm-up and K timed runs; a runtime's latency is the median of its
# per-round medians, its load time and peak RSS the median over the rounds.
# ratio = kiln / ONNX Runtime, so above 1.00 means kiln is slower or bigger;
# paired = the median over rounds of each round's kiln / ONNX Runtime.
# Prints a Markdown report and writes it to $KILN_BUILD_DIR/bench-results.md;
# the raw JSON lines go to $KILN_BUILD_DIR/bench-raw.jsonl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${KILN_BUILD_DIR:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
MODELS_DIR=${BENCH_MODELS_DIR:-$BUILD/bench-models}
PY=/usr/bin/python3
ALL_MODELS="resnet18 resnet50 mobilenet_v2 efficientnet_b0 squeezenet1_1"
SETTINGS="1:1 1:2 8:2" # batch:threads

models=$ALL_MODELS
iters=20
rounds=3
warmup=3

die() {
    echo "bench/run.sh: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --models) [ $# -ge 2 ] || die "--models needs a value"; models=${2//,/ }; shift 2 ;;
    --models=*) models=${1#--models=}; models=${models//,/ }; shift ;;
    --iters) [ $# -ge 2 ] || die "--iters needs a value"; iters=$2; shift 2 ;;
    --iters=*) iters=${1#--iters=}; shift ;;
    --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; rounds=$2; shift 2 ;;
    --rounds=*) rounds=${1#--rounds=}; shift ;;
    --quick) iters=5; rounds=1; warmup=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ "$iters" =~ ^[1-9][0-9]*$ ]] || die "--iters: expected a positive integer, got '$iters'"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds: expected a positive integer, got '$rounds'"
for m in $models; do
    [[ " $ALL_MODELS " == *" $m "* ]] || die "unknown model '$m' (known: $ALL_MODELS)"
done

log() { echo "== $*" >&2; }

# ---- dependencies, build, models -------------------------------------------

if [ ! -d "$ROOT/bench/node_modules/onnxruntime-node" ]; then
    log "installing onnxruntime-node (npm ci --ignore-scripts)"
    # --ignore-scripts: the package's postinstall downloads extra binaries.
    (cd "$ROOT/bench" && npm ci --ignore-scripts --no-audit --no-fund) >&2
fi
ORT_VERSION=$(cd "$ROOT/bench" && node -p "require('onnxruntime-node/package.json').version")

# Always run the (incremental) build so a stale kiln is never measured.
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    log "configuring kiln in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >&2
fi
log "building kiln"
cmake --build "$BUILD" -j"$(nproc)" --target kiln_cli >&2
KILN=$BUILD/kiln

missing=""
for m in $models; do
    [ -f "$MODELS_DIR/$m/model.onnx" ] || missing="$missing $m"
done
if [ -n "$missing" ]; then
    log "exporting$missing into $MODELS_DIR"
    # shellcheck disable=SC2086
    "$PY" "$ROOT/models/export_benchmarks.py" "$MODELS_DIR" $missing >&2
fi

log "measuring the FMA peak"
cc -O3 "$ROOT/bench/fma_peak.c" -o "$BUILD/fma_peak"
FMA_PEAK=$("$BUILD/fma_peak")

# ---- measurement -------------------------------------------------------------

# The commit measured is the one checked out now, before the long runs.
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$ROOT" diff-index --quiet HEAD -- 2>/dev/null; then
    COMMIT="$COMMIT (with uncommitted changes)"
fi
RAW=$BUILD/bench-raw.jsonl
: >"$RAW"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

run_kiln() { # model batch threads
    "$KILN" bench "$MODELS_DIR/$1/model.onnx" --batch "$2" --threads "$3" --warmup "$warmup" --iters "$iters" --json
}
run_ort() {
    node "$ROOT/bench/ort_bench.js" "$MODELS_DIR/$1/model.onnx" --batch "$2" --threads "$3" --warmup "$warmup" \
        --iters "$iters"
}
# record MODEL SETTING ROUND RUNTIME COMMAND...: one tagged JSON line in $RAW,
# or an error line when the runtime fails (the table then shows "error").
record() {
    local model=$1 setting=$2 round=$3 runtime=$4 out
    shift 4
    if out=$("$@" 2>"$BUILD/bench-stderr.txt"); then
        echo "{\"model_name\":\"$model\",\"setting\":\"$setting\",\"round\":$round,\"rt\":\"$runtime\",\"r\":$out}" >>"$RAW"
    else
        echo "   $runtime failed: $(head -c 300 "$BUILD/bench-stderr.txt")" >&2
        echo "{\"model_name\":\"$model\",\"setting\":\"$setting\",\"round\":$round,\"rt\":\"$runtime\",\"r\":null}" >>"$RAW"
    fi
}

for m in $models; do
    for s in $SETTINGS; do
        b=${s%%:*}
        t=${s##*:}
        setting="batch $b, $t thread$([ "$t" = 1 ] || echo s)"
        for ((r = 1; r <= rounds; r++)); do
            log "$m, $setting, round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))"
            if ((r % 2)); then
                record "$m" "$setting" "$r" kiln run_kiln "$m" "$b" "$t"
                record "$m" "$setting" "$r" ort run_ort "$m" "$b" "$t"
            else
                record "$m" "$setting" "$r" ort run_ort "$m" "$b" "$t"
                record "$m" "$setting" "$r" kiln run_kiln "$m" "$b" "$t"
            fi
        done
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ------------------------------------------------------------------

CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
CPU_FLAGS=$(for f in avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16; do
    grep -qw "$f" /proc/cpuinfo && printf '%s ' "$f"
done)

export RAW CPU_MODEL CPU_FLAGS COMMIT ORT_VERSION FMA_PEAK LOAD_BEFORE LOAD_AFTER STARTED iters rounds warmup
export NPROC=$(nproc) KILN_VERSION=$("$KILN" --version)
"$PY" - <<'EOF' | tee "$BUILD/bench-results.md"
import json, os, statistics

e = os.environ
rows = [json.loads(l) for l in open(e["RAW"]) if l.strip()]
order = []
runs = {}
for row in rows:
    key = (row["model_name"], row["setting"])
    if key not in runs:
        order.append(key)
        runs[key] = {"kiln": [], "ort": []}
    runs[key][row["rt"]].append(row["r"])


def summary(results):
    """Median over rounds; None if any round failed."""
    if not results or any(r is None for r in results):
        return None
    return {k: statistics.median(r[k] for r in results) for k in ("median_ms", "load_ms", "peak_rss_bytes")}


def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


print("# kiln vs ONNX Runtime\n")
print(f"- date: {e['STARTED']}")
print(f"- machine: {e['CPU_MODEL']}, {e['NPROC']} CPUs; flags: {e['CPU_FLAGS'].strip()}")
print(f"- fp32 FMA peak per core (bench/fma_peak.c, at the start): "
      + ", ".join(l.replace("_fma_peak_gflops", "") + " GFLOP/s" for l in e["FMA_PEAK"].splitlines()))
print(f"- load average (1/5/15 min): {e['LOAD_BEFORE']} before, {e['LOAD_AFTER']} after")
print(f"- kiln: {e['KILN_VERSION']}, commit {e['COMMIT']}")
print(f"- ONNX Runtime: onnxruntime-node {e['ORT_VERSION']} (CPU EP, graph optimizations 'all', "
      "intra-op threads = setting, inter-op 1, sequential)")
print(f"- method: {e['rounds']} interleaved rounds per setting, each a fresh process with "
      f"{e['warmup']} warm-up + {e['iters']} timed runs; ms = median of the per-round medians; "
      "load and RSS = median over rounds")
print("- ratio = kiln / ONNX Runtime: above 1.00 kiln is slower (or loads slower, or uses more memory); "
      "paired = median over rounds of the round's kiln / ONNX Runtime (the two ran back to back, so drift "
      "in the host's speed between rounds cancels)\n")
print("| model | setting | kiln ms | ORT ms | ratio | paired | kiln load ms | ORT load ms | load ratio "
      "| kiln RSS MiB | ORT RSS MiB | RSS ratio |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
slower = []
for key in order:
    k, o = summary(runs[key]["kiln"]), summary(runs[key]["ort"])
    if not k or not o:
        print(f"| {key[0]} | {key[1]} | {'error' if not k else '%.2f' % k['median_ms']} "
              f"| {'error' if not o else '%.2f' % o['median_ms']} | - | - | | | | | | |")
        continue
    mib = 1024.0 * 1024.0
    r = k["median_ms"] / o["median_ms"]
    paired = statistics.median(a["median_ms"] / b["median_ms"]
                               for a, b in zip(runs[key]["kiln"], runs[key]["ort"]))
    if r > 1.0:
        slower.append(f"{key[0]} ({key[1]}): {r:.2f}")
    print(f"| {key[0]} | {key[1]} | {k['median_ms']:.2f} | {o['median_ms']:.2f} | {r:.2f} | {paired:.2f} "
          f"| {k['load_ms']:.1f} | {o['load_ms']:.1f} | {ratio(k['load_ms'], o['load_ms'])} "
          f"| {k['peak_rss_bytes'] / mib:.1f} | {o['peak_rss_bytes'] / mib:.1f} "
          f"| {ratio(k['peak_rss_bytes'], o['peak_rss_bytes'])} |")
print()
print("Latency ratios above 1.00 (kiln slower): " + ("; ".join(slower) if slower else "none"))
EOF
