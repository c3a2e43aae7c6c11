#!/usr/bin/env bash
# The shared library's dynamic symbol table holds the public API only: every
# defined symbol starts with kiln_ (internals are built -fvisibility=hidden).
# usage: check_exports.sh path/to/libkiln.so
set -euo pipefail
lib="$1"
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}')
count=$(printf '%s\n' "$syms" | grep -c '^kiln_' || true)
bad=$(printf '%s\n' "$syms" | grep -v '^kiln_' || true)
if [ -n "$bad" ]; then
    echo "check_exports: $lib exports symbols outside the kiln_ namespace:"
    printf '  %s\n' $bad
    exit 1
fi
# Guard against an empty table (e.g. visibility hiding everything).
for must in kiln_version kiln_model_load kiln_context_run kiln_register_op kiln_load_plugin kiln_op_count \
    kiln_op_get_info; do
    grep -qx "$must" <<<"$syms" || { echo "check_exports: $must is not exported"; exit 1; }
done
echo "check_exports: $count kiln_* symbols, nothing else"
