#!/usr/bin/env bash
# Golden messages of bad wiring graphs (docs/graphs.md, "Bad input"): a cycle, an unknown tensor, a width
# mismatch, an unused node, no output, an output of the wrong width, a mask on a layer without projections.
# Each is one stderr line naming file:line, the key and the node, with exit code 1; the lines must equal
# wiring_errors/expected.txt (regenerate it on purpose, by running the loop below, when a message changes).
source "$(dirname "$0")/common.sh"
dir="$(cd "$(dirname "$0")/wiring_errors" && pwd)"
cd "$dir"
: >"$tmp/actual.txt"
for case in cycle unknown width unused nooutput outwidth maskmlp; do
  "$mad" describe --arch "$case.yml" >"$tmp/out" 2>"$tmp/err"
  code=$?
  [ "$code" -eq 1 ] || fail "$case: exit code $code, expected 1"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$case: stderr is not one line: $(cat "$tmp/err")"
  cat "$tmp/err" >>"$tmp/actual.txt"
done
diff -u expected.txt "$tmp/actual.txt" || fail "messages differ from wiring_errors/expected.txt (diff above)"
# A misspelt block type is an unknown layer (the list of valid names grows with the registry: a fragment).
printf 'layers:\n  - type: wiring\n    input: x\n    nodes:\n      a: {type: linaer, in: x}\n    output: a\n' >"$tmp/typo.yml"
expect_error "misspelt block" "typo.yml:5: unknown layer 'linaer'" "$mad" describe --arch "$tmp/typo.yml"
finish cli_wiring_errors
