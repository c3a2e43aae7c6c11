#!/usr/bin/python3
"""Generates docs/operators.md from kiln's op table (`kiln ops --json`) and
the conformance suites (`kiln conformance`), so the documented opsets, dtypes
and fast kernels are the ones the code enforces, and every test that does not
pass is listed with its reason.

usage:
  operators_report.py [--kiln build/kiln] [--out docs/operators.md] [--logs DIR]
      Runs `kiln conformance` on each suite present (the ONNX 1.23 backend
      node tests in ../shared, Debian's libonnx-testdata node,
      pytorch-converted, pytorch-operator and simple) unless DIR holds its
      log as conformance-<suite>.log (what scripts/test.sh writes to
      build/test-logs), then writes the document. --onnx-node PATH points
      at the ONNX backend node tests when they are not in ../shared. Needs python3-onnx to read
      which operators each test model uses.
  operators_report.py --check docs/operators.md [--kiln build/kiln]
      Fast (no conformance run): exits 1 when the document's operator table
      differs from `kiln ops --json` (an op added, removed, or its opsets,
      dtypes or fast kernel changed). ctest runs this as operators_doc.

Run with /usr/bin/python3 (Debian's interpreter has python3-onnx)."""
import argparse
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conformance_logs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = "/usr/share/libonnx-testdata/data"
KNOWN = os.path.join(ROOT, "tests", "conformance", "known_deviations.txt")

# As in scripts/test.sh: the ONNX 1.23 backend tests beside the checkout.
BACKEND_NODE = os.path.normpath(os.path.join(ROOT, "..", "shared", "onnx-backend-tests", "node"))

# (log name as in scripts/test.sh, column title, test root, uses --known)
SUITES = [
    ("onnx-backend-node", "ONNX 1.23 node", BACKEND_NODE, False),
    ("debian-node", "Debian node (1.12)", TESTDATA + "/node", True),
    ("debian-pytorch-converted", "Debian pytorch-converted", TESTDATA + "/pytorch-converted", True),
    ("debian-pytorch-operator", "Debian pytorch-operator", TESTDATA + "/pytorch-operator", True),
    ("debian-simple", "Debian simple", TESTDATA + "/simple", True),
]

TABLE_START = "<!-- op-table:start -->"
TABLE_END = "<!-- op-table:end -->"

# Shorthands for whole groups of dtypes in the table.
GROUPS = [
    ("floats", ["float32", "float64", "float16", "bfloat16"]),
    ("signed ints", ["int8", "int16", "int32", "int64"]),
    ("unsigned ints", ["uint8", "uint16", "uint32", "uint64"]),
    ("complex", ["complex64", "complex128"]),
    ("narrow", ["float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "float8e8m0", "float4e2m1",
                "int4", "uint4", "int2", "uint2"]),
]


def kiln_ops(kiln):
    out = subprocess.run([kiln, "ops", "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["ops"]


def op_key(domain, name):
    return f"{domain}.{name}" if domain else name


def format_dtypes(dtypes):
    if dtypes is None:
        return "any"
    rest = list(dtypes)
    parts = []
    for label, members in GROUPS:
        if all(m in rest for m in members):
            parts.append(label)
            rest = [d for d in rest if d not in members]
    return ", ".join(parts + rest)


def op_rows(ops):
    """One row per (domain, op): opsets merged over its descriptors (upgrade
    entries included: kiln loads those versions by rewriting them), dtypes
    and the fast flag of the descriptors that run."""
    merged = collections.OrderedDict()
    for o in ops:
        m = merged.setdefault((o["domain"], o["name"]), {"min": o["since_min"], "max": o["since_max"],
                                                         "open": False, "runs": []})
        m["min"] = min(m["min"], o["since_min"])
        m["open"] = m["open"] or o["since_max"] == 0
        m["max"] = max(m["max"], o["since_max"])
        if not o["upgrade_only"]:
            m["runs"].append(o)
    rows = []
    for (domain, name), m in sorted(merged.items(), key=lambda kv: (kv[0][0] != "", kv[0][0], kv[0][1].lower())):
        opsets = f"{m['min']}+" if m["open"] else (f"{m['min']}" if m["min"] == m["max"] else f"{m['min']}-{m['max']}")
        kinds = []
        for o in m["runs"]:
            text = format_dtypes(o["dtypes"])
            if o["dtype_input"]:
                text = f"input {o['dtype_input']}: {text}"
            if len(m["runs"]) > 1:
                hi = o["since_max"] or "+"
                text = f"{o['since_min']}{'' if hi == '+' else '-'}{hi}: {text}"
            kinds.append(text)
        fast = "yes" if any(o["fast"] for o in m["runs"]) else ""
        rows.append({"domain": domain, "name": name, "key": op_key(domain, name),
                     "cells": [name, domain or "ai.onnx", opsets, "; ".join(kinds) or "(none)", fast]})
    return rows


def md_cell(text):
    return str(text).replace("|", "\\|")


def run_suite(kiln, path, known):
    cmd = [kiln, "conformance", path, "--allow-skip"]
    if known:
        cmd += ["--known", KNOWN]
    print(f"operators_report: {' '.join(cmd)}", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return conformance_logs.parse_log(proc.stdout)


def gather_suites(kiln, logs, backend_node):
    suites = []
    for name, title, path, known in SUITES:
        if name == "onnx-backend-node":
            path = backend_node
        if not os.path.isdir(path):
            continue
        log = os.path.join(logs, f"conformance-{name}.log") if logs else None
        if log and os.path.exists(log):
            results = conformance_logs.read_log(log)
        else:
            results = run_suite(kiln, path, known)
        # the suite's usual place, not this machine's (the document is committed)
        shown = "../shared/onnx-backend-tests/node" if name == "onnx-backend-node" else path
        suites.append({"name": name, "title": title, "path": path, "shown": shown, "known": known,
                       "results": results})
    return suites


def generate(args):
    ops = kiln_ops(args.kiln)
    rows = op_rows(ops)
    suites = gather_suites(args.kiln, args.logs, args.onnx_node)
    known = conformance_logs.read_known(KNOWN)
    table_keys = {r["key"] for r in rows}

    per_op = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
    op_reasons = collections.defaultdict(collections.Counter)
    by_reason = collections.defaultdict(lambda: collections.defaultdict(list))
    missing_ops = collections.defaultdict(collections.Counter)
    known_seen = collections.defaultdict(list)
    for s in suites:
        for status, test, why in s["results"]:
            ops_used = conformance_logs.ops_of(os.path.join(s["path"], test, "model.onnx"))
            reason = conformance_logs.normalize_reason(why)
            # A model that does not load for an op kiln lacks says nothing
            # about the ops kiln has: count it for the missing ops only.
            if reason.startswith("op not in kiln:"):
                ops_used = [op for op in ops_used if op not in table_keys]
            for op in ops_used:
                per_op[op][s["name"]][status] += 1
                if status != "PASS":
                    op_reasons[op][reason] += 1
                if op not in table_keys and not op.startswith("("):
                    missing_ops[op][s["name"]] += 1
            if status != "PASS":
                by_reason[(status, reason)][s["title"]].append(test)
            if reason.startswith("known deviation"):
                known_seen[test].append(s["title"])

    out = []
    w = out.append
    w("# Operators")
    w("")
    w("Generated by `scripts/operators_report.py` from `kiln ops --json` (the op table in `src/ops`) and "
      "`kiln conformance` runs of the suites below; do not edit by hand. Regenerate with "
      "`/usr/bin/python3 scripts/operators_report.py --kiln build/kiln` (add `--logs build/test-logs` to reuse "
      "the logs of `scripts/test.sh`). The `operators_doc` test fails when this file no longer matches the op "
      "table.")
    w("")
    n_fast = sum(1 for r in rows if r["cells"][4])
    w(f"kiln has {len(rows)} operators ({len(ops)} kernel descriptors, counting one per opset range); "
      f"{n_fast} have a vectorized or blocked float32 kernel.")
    w("")
    w("| suite | tests in | passed | failed | skipped |")
    w("|---|---|---|---|---|")
    for s in suites:
        c = collections.Counter(st for st, _, _ in s["results"])
        w(f"| {s['title']} | `{s['shown']}` | {c['PASS']} | {c['FAIL']} | {c['SKIP']} |")
    w("")
    w("## Operator table")
    w("")
    w("- **opsets**: the opset versions of the op's domain kiln loads; `13+` means 13 up to the newest. Older "
      "forms some ops had (attributes that later became inputs) are rewritten into the newer form at load.")
    w("- **dtypes**: the element types kiln computes the op on, for input 0 unless another input is named; a model "
      "with any other type is refused at load with an error naming the node. `any`: the op does not depend on "
      "element types or checks them itself. floats = float32, float64, float16, bfloat16 (float16 and bfloat16 "
      "compute in float32 for most ops); signed ints = int8..int64; unsigned ints = uint8..uint64; "
      "complex = complex64, complex128; narrow = the 1-byte-or-less types float8e4m3fn, float8e4m3fnuz, float8e5m2, "
      "float8e5m2fnuz, float8e8m0, float4e2m1, int4, uint4, int2, uint2 (held unpacked, one byte per element: "
      "moved and cast, not computed on).")
    w("- **fast**: float32 runs on a vectorized (SIMD, per-ISA) or cache-blocked kernel; the other ops run plain "
      "portable loops.")
    w("- **tests**: passed/skipped (and /failed if any) tests in each suite whose model uses the op; a test "
      "counts for every op in its model, so the `_expanded` variants count for the ops of the function body, "
      "except that a model skipped for an op kiln lacks counts only for that op.")
    w("- **not passing**: the reasons of the op's skipped tests (count); the full list is in "
      "[Tests that do not pass](#tests-that-do-not-pass).")
    w("")
    head = ["op", "domain", "opsets", "dtypes", "fast"] + [s["title"] for s in suites] + ["not passing"]
    w(TABLE_START)
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))
    for r in rows:
        cells = [md_cell(c) for c in r["cells"]]
        for s in suites:
            c = per_op.get(r["key"], {}).get(s["name"], collections.Counter())
            cell = f"{c['PASS']}/{c['SKIP']}" + (f"/{c['FAIL']} failed" if c["FAIL"] else "")
            cells.append(cell)
        why = "; ".join(f"{rsn} ({n})" for rsn, n in op_reasons[r["key"]].most_common(3))
        if len(op_reasons[r["key"]]) > 3:
            why += "; ..."
        cells.append(md_cell(why))
        w("| " + " | ".join(cells) + " |")
    w(TABLE_END)
    w("")
    w("## Operators in the suites that kiln lacks")
    w("")
    w("Tests using them are skipped (the model does not load); counts are tests per suite.")
    w("")
    w("| op | " + " | ".join(s["title"] for s in suites) + " |")
    w("|---|" + "---|" * len(suites))
    for op in sorted(missing_ops, key=lambda o: (-sum(missing_ops[o].values()), o)):
        w(f"| {md_cell(op)} | " + " | ".join(str(missing_ops[op].get(s["name"], 0)) for s in suites) + " |")
    w("")
    w("## Tests that do not pass")
    w("")
    w("Every skipped or failed test of the suites above, grouped by the reason `kiln conformance` gives (file "
      "paths, node and tensor names left out). `known deviation` marks tests listed in "
      "`tests/conformance/known_deviations.txt` (see [Known deviations](#known-deviations)).")
    w("")
    total_fail = sum(1 for s in suites for st, _, _ in s["results"] if st == "FAIL")
    if not total_fail:
        w("No test fails; all of these are skips.")
        w("")
    for (status, reason), where in sorted(by_reason.items(),
                                          key=lambda kv: (kv[0][0] != "FAIL",
                                                          -sum(len(t) for t in kv[1].values()), kv[0][1])):
        n = sum(len(t) for t in where.values())
        w(f"- **{status}: {md_cell(reason)}** ({n})")
        for title, tests in where.items():
            w(f"  - {title}: " + ", ".join(f"`{t}`" for t in sorted(tests)))
    w("")
    w("## Known deviations")
    w("")
    w("Tests whose expected data contradicts the current ONNX spec or the test's own model "
      "(`tests/conformance/known_deviations.txt`, passed to `kiln conformance --known`): kiln follows the spec "
      "and reports them as skipped with this reason.")
    w("")
    w("| test | reason | seen in |")
    w("|---|---|---|")
    for test, why in sorted(known.items()):
        seen = ", ".join(sorted(set(known_seen.get(test, [])))) or "(not in the suites run)"
        w(f"| `{test}` | {md_cell(why)} | {seen} |")

    text = "\n".join(out) + "\n"
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print(f"operators_report: wrote {args.out}", file=sys.stderr)
    return 0


def documented_rows(path):
    """The op-table rows of an existing document: [op, domain, opsets, dtypes, fast]."""
    rows = []
    inside = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line == TABLE_START:
                inside = True
                continue
            if line == TABLE_END:
                break
            if not inside or not line.startswith("| ") or line.startswith("| op |"):
                continue
            cells = [c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")]
            rows.append(cells[:5])
    return rows


def check(args):
    want = [r["cells"] for r in op_rows(kiln_ops(args.kiln))]
    try:
        have = documented_rows(args.check)
    except OSError as e:
        print(f"operators_report: cannot read {args.check}: {e}", file=sys.stderr)
        return 1
    if have == want:
        print(f"operators_report: {args.check} matches the op table ({len(want)} operators)")
        return 0
    want_by = {(r[1], r[0]): r for r in want}
    have_by = {(r[1], r[0]): r for r in have}
    for k in sorted(set(want_by) - set(have_by)):
        print(f"operators_report: {k[0]} {k[1]} is in the op table but not in {args.check}")
    for k in sorted(set(have_by) - set(want_by)):
        print(f"operators_report: {k[0]} {k[1]} is in {args.check} but not in the op table")
    for k in sorted(set(want_by) & set(have_by)):
        if want_by[k] != have_by[k]:
            print(f"operators_report: {k[0]} {k[1]}: documented {have_by[k][2:]}, op table has {want_by[k][2:]}")
    if set(want_by) == set(have_by) and all(want_by[k] == have_by[k] for k in want_by):
        print("operators_report: same operators, different order or duplicated rows")
    print("operators_report: docs/operators.md is out of date; regenerate it with "
          "/usr/bin/python3 scripts/operators_report.py --kiln build/kiln")
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"), help="the kiln CLI (default build/kiln)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "operators.md"), help="document to write")
    ap.add_argument("--logs", help="folder with conformance-<suite>.log files to use instead of running a suite")
    ap.add_argument("--onnx-node", default=BACKEND_NODE,
                    help="the ONNX 1.23 backend node tests (default ../shared/onnx-backend-tests/node)")
    ap.add_argument("--check", metavar="DOC", help="only compare DOC's operator table with `kiln ops --json`")
    args = ap.parse_args()
    if not os.access(args.kiln, os.X_OK):
        print(f"operators_report: {args.kiln} is not an executable (build kiln first)", file=sys.stderr)
        return 2
    return check(args) if args.check else generate(args)


if __name__ == "__main__":
    sys.exit(main())
