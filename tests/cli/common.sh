# Helpers shared by the command-line tests (sourced). Sets mad=$1 and tmp (removed on exit) and counts
# failures; end a test with `finish NAME`.
mad=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_ok "description" command...: exit code 0; stdout kept in $tmp/out, stderr in $tmp/err.
expect_ok() {
  local what=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err" || fail "$what: exit code $? ($(tail -n 3 "$tmp/err"))"
}

# expect_error "description" "message fragment" command...: exit code 1 and one stderr line
# "mad: error: ...fragment...".
expect_error() {
  local what=$1 fragment=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local code=$?
  [ "$code" -eq 1 ] || fail "$what: exit code $code, expected 1"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$tmp/err")"
  grep -q "^mad: error: .*$fragment" "$tmp/err" || fail "$what: stderr lacks '$fragment': $(cat "$tmp/err")"
}

# expect_usage "description" "fragment" command...: a command-line usage error: exit code 2, one line.
expect_usage() {
  local what=$1 fragment=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local code=$?
  [ "$code" -eq 2 ] || fail "$what: exit code $code, expected 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$tmp/err")"
  grep -q "^mad: error: .*$fragment" "$tmp/err" || fail "$what: stderr lacks '$fragment': $(cat "$tmp/err")"
}

finish() {
  if [ "$failures" -eq 0 ]; then echo "$1: all checks passed"; else echo "$1: $failures failed"; fi
  [ "$failures" -eq 0 ]
}
