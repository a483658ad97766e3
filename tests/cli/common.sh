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

# expect_exit CODE "description" "message fragment" command...: exit code CODE and one stderr line
# "mad: error: ...fragment...".
expect_exit() {
  local want=$1 what=$2 fragment=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local code=$?
  [ "$code" -eq "$want" ] || fail "$what: exit code $code, expected $want"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$tmp/err")"
  grep -q "^mad: error: .*$fragment" "$tmp/err" || fail "$what: stderr lacks '$fragment': $(cat "$tmp/err")"
}
# expect_error: an error of the run itself (exit code 1); expect_usage: a command-line usage error (2).
expect_error() { expect_exit 1 "$@"; }
expect_usage() { expect_exit 2 "$@"; }

finish() {
  if [ "$failures" -eq 0 ]; then echo "$1: all checks passed"; else echo "$1: $failures failed"; fi
  [ "$failures" -eq 0 ]
}
