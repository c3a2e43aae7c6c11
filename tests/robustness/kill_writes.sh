#!/usr/bin/env bash
# Nothing lost: `kiln optimize` and `kiln recalibrate` are killed with
# SIGKILL at random moments while they write a ~50 MB model. After every
# kill the input must be intact (same checksum) and OUT must be either
# absent or a complete output (the checksum of an uninterrupted run) -
# never a partial file. Temporary files may be left behind only under
# their temporary names (OUT.tmp.PID); nothing else may appear.
#
# usage: tests/robustness/kill_writes.sh BUILD_DIR [ROUNDS]
set -uo pipefail

BUILD="$(cd "${1:?usage: kill_writes.sh BUILD_DIR [ROUNDS]}" && pwd)"
ROUNDS="${2:-12}"
KILN="$BUILD/kiln"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/kiln-kill-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

fail() { echo "kill_writes: FAIL: $*" >&2; exit 1; }

/usr/bin/python3 "$HERE/make_big_model.py" "$WORK" || fail "cannot generate the big model"
in_sum=$(sha256sum <"$WORK/big.onnx")
echo "kill_writes: input $(stat -c %s "$WORK/big.onnx") bytes"

# check_dir OUT REF_SUM: OUT absent or complete; only temp files besides
check_dir() {
    local out="$1" ref="$2"
    [ "$(sha256sum <"$WORK/big.onnx")" = "$in_sum" ] || fail "input model changed"
    if [ -e "$out" ]; then
        [ "$(sha256sum <"$out")" = "$ref" ] || fail "$(basename "$out") is partial or wrong ($(stat -c %s "$out") bytes)"
    fi
    local f
    for f in "$WORK"/*; do
        case "$(basename "$f")" in
            big.onnx | data.npy | opt.onnx | recal.onnx) ;;
            opt.onnx.tmp.* | recal.onnx.tmp.*) rm -f "$f" ;; # a killed writer's temp file: allowed
            *) fail "unexpected file $(basename "$f")" ;;
        esac
    done
}

# kill_loop NAME OUT CMD...: one full run for the reference, then ROUNDS
# runs killed after a random delay within the measured run time; every
# other round starts without OUT (first write), the others over the
# previous complete OUT.
kill_loop() {
    local name="$1" out="$2"
    shift 2
    local t0 t1 ref
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || fail "$name: uninterrupted run failed: $*"
    t1=$(date +%s%N)
    ref=$(sha256sum <"$out")
    local ms=$(((t1 - t0) / 1000000))
    local killed=0 finished=0
    local in_write=0
    for i in $(seq 1 "$ROUNDS"); do
        [ $((i % 2)) -eq 0 ] && rm -f "$out"
        "$@" >/dev/null 2>&1 &
        local pid=$!
        if [ $((i % 3)) -eq 0 ]; then
            # a random moment of the whole run
            local delay=$((RANDOM % (ms + 1)))
            sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
        else
            # while the output is being written: wait for the temp file,
            # then up to 30 ms more
            while kill -0 "$pid" 2>/dev/null && ! compgen -G "$out.tmp.*" >/dev/null; do
                sleep 0.002
            done
            compgen -G "$out.tmp.*" >/dev/null && in_write=$((in_write + 1))
            sleep "0.0$((RANDOM % 30 / 10))$((RANDOM % 10))"
        fi
        if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
        wait "$pid" 2>/dev/null
        check_dir "$out" "$ref"
    done
    echo "kill_writes: $name: $ROUNDS rounds (${ms} ms per run), $killed killed ($in_write while writing), $finished finished first; input intact, no partial output"
}

kill_loop optimize "$WORK/opt.onnx" "$KILN" optimize "$WORK/big.onnx" "$WORK/opt.onnx"
kill_loop recalibrate "$WORK/recal.onnx" "$KILN" recalibrate "$WORK/big.onnx" --data "$WORK/data.npy" -o "$WORK/recal.onnx"
echo "kill_writes: ok"
