"""Reading `kiln conformance` output, shared by conformance_report.py
(docs/conformance.md) and operators_report.py (docs/operators.md).

Runs with /usr/bin/python3 (Debian's, which has python3-onnx); onnx is only
imported when a model's operators are asked for."""
import os
import re

# One result line of `kiln conformance`: 'PASS name', 'FAIL name: reason',
# 'SKIP name: reason'.
LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S+?)(?::\s*(.*))?$")


def parse_log(text):
    """[(status, test, reason)] from the output of `kiln conformance`."""
    results = []
    for raw in text.splitlines():
        m = LINE.match(raw.rstrip("\n"))
        if m:
            results.append((m.group(1), m.group(2), m.group(3) or ""))
    return results


def read_log(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_log(f.read())


_ops_cache = {}


def ops_of(model_path):
    """Sorted operator names of a test model ('domain.Op' outside the default
    domain); a placeholder when the model cannot be read (python3-onnx is
    older than some test models)."""
    if model_path in _ops_cache:
        return _ops_cache[model_path]
    import onnx

    try:
        m = onnx.load(model_path, load_external_data=False)
        ops = sorted({(n.domain + "." if n.domain not in ("", "ai.onnx") else "") + n.op_type for n in m.graph.node})
        ops = ops or ["(no nodes)"]
    except Exception:
        ops = ["(unreadable model)"]
    _ops_cache[model_path] = ops
    return ops


def op_of_test_name(test):
    """The op a backend node test is named after is not reliable (test_gemm_*
    vs Gemm, test_basic_conv_* vs Conv), so callers use ops_of; this is only
    a fallback label for models that cannot be read."""
    return re.sub(r"^test_", "", test)


# Reasons differ per test only in file paths, node and tensor names: strip
# those so that tests skipped for one cause group together.
_OP_LIST = r"[\w.]+(?: \(in a subgraph of \w+\))?(?:; [\w.]+(?: \(in a subgraph of \w+\))?)*"
_REASON_RULES = [
    (re.compile(r"^(?:input|output)_\d+\.pb: "), ""),
    (re.compile(r"\(\S*/(?:input|output)_\d+\.pb: [^)]*\)"), ""),
    (re.compile(r"\S*/(?:model\.onnx|(?:input|output)_\d+\.pb): "), ""),
    (re.compile(r" \(in a subgraph of (\w+) '[^']*'\)"), r" (in a subgraph of \1)"),
    (re.compile(r"^unsupported: (?=" + _OP_LIST + r"$)"), "op not in kiln: "),
    (re.compile(r"^unsupported: "), ""),
    (re.compile(r"node '[^']*' "), ""),
    (re.compile(r"tensor '[^']*'"), "tensor"),
    (re.compile(r"\s*\((?:run:|output |input )[^()]*(?:\([^()]*\)[^()]*)*\)\s*$"), ""),
    (re.compile(r"\s+"), " "),
]


def normalize_reason(reason):
    r = reason
    for pat, rep in _REASON_RULES:
        r = pat.sub(rep, r)
    return r.strip()


def read_known(path):
    """{test: reason} from a `kiln conformance --known` file."""
    known = {}
    if not path or not os.path.exists(path):
        return known
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            test, _, why = line.partition(" ")
            known[test] = why.strip()
    return known
