#!/bin/bash
# End-to-end test of `mad scores`, `mad runs` and `mad results merge` on the databases make_sample_db
# writes (the scores example of results_test_util.h). The scores `mad scores --format json` prints are
# compared with scores computed by plain SQL over the raw run rows, run by the sqlite3 program.
# Usage: cli_results_test.sh PATH_TO_MAD PATH_TO_MAKE_SAMPLE_DB
set -u
source "$(dirname "$0")/../cli/common.sh" "$1"
make_db=$2
db=$tmp/all.db
"$make_db" "$db" || fail "make_sample_db $db"

# "architecture task score" per cell, overall as task "mean", from the tables (not through mad): the best
# test accuracy per setting over completed runs with an accuracy, averaged over settings, then tasks.
sql_scores() {
  sqlite3 -separator ' ' "$1" "
    WITH best AS (
      SELECT a.name AS arch, t.task AS task, max(m.test_acc) AS acc
      FROM runs r JOIN architectures a ON a.hash = r.architecture JOIN task_settings t ON t.hash = r.task_setting
      JOIN run_metrics m ON m.run_key = r.key
      WHERE r.status = 'completed' AND m.test_acc IS NOT NULL
      GROUP BY r.architecture, r.task_setting),
    per_task AS (SELECT arch, task, avg(acc) AS score FROM best GROUP BY arch, task)
    SELECT arch, task, printf('%.12f', score) FROM per_task
    UNION ALL SELECT arch, 'mean', printf('%.12f', avg(score)) FROM per_task GROUP BY arch
    ORDER BY 1, 2"
}
# The same triples from `mad scores --format json` output in file $1 (cells that have a score).
json_scores() {
  sqlite3 -separator ' ' :memory: "
    SELECT json_extract(value, '$.architecture'), json_extract(value, '$.task'),
           printf('%.12f', json_extract(value, '$.score'))
    FROM json_each(readfile('$1')) WHERE json_extract(value, '$.score') IS NOT NULL ORDER BY 1, 2"
}

# ---- mad scores ------------------------------------------------------------------------------------
expect_ok "scores json" "$mad" scores --db "$db" --format json
cp "$tmp/out" "$tmp/scores.json"
[ -n "$(sql_scores "$db")" ] || fail "plain SQL found no scores"
[ "$(json_scores "$tmp/scores.json")" == "$(sql_scores "$db")" ] ||
  fail "mad scores differ from plain SQL: $(json_scores "$tmp/scores.json") vs $(sql_scores "$db")"
# The hand computation of results_test_util.h.
json_scores "$tmp/scores.json" | grep -qx "A mean 0.725000000000" || fail "A's overall score is not 0.725"
json_scores "$tmp/scores.json" | grep -qx "B in-context-recall 0.300000000000" || fail "B's recall score is not 0.3"
[ "$(sqlite3 :memory: "SELECT count(*) FROM json_each(readfile('$tmp/scores.json'))")" -eq 14 ] ||
  fail "scores json has not 2 x (6 tasks + mean) rows"

expect_ok "scores table" "$mad" scores --db "$db"
grep -q "^architecture .* CR .* mean" "$tmp/out" || fail "table header: $(head -1 "$tmp/out")"
grep -q "^A .*0\.650 (4)\* .*0\.800 (1)\* .*0\.725 (5)\*" "$tmp/out" || fail "table row A: $(cat "$tmp/out")"
grep -q "incomplete" "$tmp/out" || fail "table has no legend"
expect_ok "scores markdown" "$mad" scores --db "$db" --format markdown
grep -q "^| B | 0\.300 (1)\* | - |" "$tmp/out" || fail "markdown row B: $(cat "$tmp/out")"
expect_ok "scores csv" "$mad" scores --db "$db" --format csv
[ "$(wc -l <"$tmp/out")" -eq 15 ] || fail "csv has $(wc -l <"$tmp/out") lines, expected 15"
grep -q "^A,[0-9a-f]*,mean,0.725,3,66,5,2,1$" "$tmp/out" || fail "csv overall row of A: $(cat "$tmp/out")"
expect_ok "scores by setting" "$mad" scores --db "$db" --by-setting
grep -q "^A .* CR .* vocab_size=16 .* 0\.700 .* 0\.001 " "$tmp/out" || fail "by-setting row: $(cat "$tmp/out")"
expect_ok "scores by setting json" "$mad" scores --db "$db" --by-setting --format json
[ "$(sqlite3 :memory: "SELECT count(*) FROM json_each(readfile('$tmp/out')) WHERE json_type(value, '$.setting') = 'object'")" -eq 5 ] ||
  fail "by-setting json: $(cat "$tmp/out")"
expect_ok "scores of a sweep" "$mad" scores --db "$db" --sweep sweep-b
grep -q "^B " "$tmp/out" && ! grep -q "^A " "$tmp/out" || fail "--sweep sweep-b: $(cat "$tmp/out")"

# ---- mad runs --------------------------------------------------------------------------------------
expect_ok "runs" "$mad" runs --db "$db"
[ "$(grep -c "^[0-9a-f]\{12\} " "$tmp/out")" -eq 11 ] || fail "runs lists $(grep -c "^[0-9a-f]\{12\} " "$tmp/out") runs, expected 11"
expect_ok "runs json" "$mad" runs --db "$db" --format json
cp "$tmp/out" "$tmp/runs.json"
complete=$(sqlite3 :memory: "SELECT count(*) FROM json_each(readfile('$tmp/runs.json')) WHERE
  json_type(value, '$.key') = 'text' AND json_type(value, '$.sweep') = 'text' AND
  json_type(value, '$.architecture') = 'text' AND json_type(value, '$.task') = 'text' AND
  json_type(value, '$.setting') = 'object' AND json_type(value, '$.lr') = 'real' AND
  json_type(value, '$.weight_decay') = 'real' AND json_type(value, '$.status') = 'text' AND
  json_type(value, '$.test_acc') IS NOT NULL")
[ "$complete" -eq 11 ] || fail "runs json: $complete of 11 runs have every field"
expect_ok "runs --status diverged" "$mad" runs --db "$db" --status diverged
[ "$(grep -c " diverged " "$tmp/out")" -eq 1 ] || fail "--status diverged: $(cat "$tmp/out")"

key=$(sqlite3 "$db" "SELECT key FROM runs WHERE status = 'diverged'")
expect_ok "runs show" "$mad" runs show "${key:0:10}" --db "$db"
grep -q "^run  *$key$" "$tmp/out" || fail "runs show: $(cat "$tmp/out")"
grep -q "^status  *diverged (loss became NaN" "$tmp/out" || fail "runs show status: $(cat "$tmp/out")"
[ "$(grep -c "^ *[123]  " "$tmp/out")" -eq 3 ] || fail "runs show has not 3 epoch lines: $(cat "$tmp/out")"
expect_ok "runs show json" "$mad" runs --db "$db" show "$key" --format json
[ "$(sqlite3 :memory: "SELECT json_array_length(readfile('$tmp/out'), '$.epoch_metrics')")" -eq 3 ] ||
  fail "runs show json: $(cat "$tmp/out")"
shared=$(sqlite3 "$db" "SELECT substr(key, 1, 1) FROM runs GROUP BY 1 HAVING count(*) > 1 LIMIT 1")
expect_error "ambiguous key" "give more characters" "$mad" runs show "$shared" --db "$db"
expect_error "unknown key" "no run with a key starting with 'zz'" "$mad" runs show zz --db "$db"

# ---- mad results merge -----------------------------------------------------------------------------
"$make_db" "$tmp/a.db" A || fail "make_sample_db A"
"$make_db" "$tmp/b.db" B || fail "make_sample_db B"
expect_ok "merge" "$mad" results merge "$tmp/merged.db" "$tmp/a.db" "$tmp/b.db"
grep -q "a.db: 7 run(s), 7 new" "$tmp/out" || fail "merge output: $(cat "$tmp/out")"
expect_ok "merge again" "$mad" results merge "$tmp/merged.db" "$tmp/b.db" "$tmp/a.db"
grep -q "a.db: 7 run(s), 0 new" "$tmp/out" || fail "merge again output: $(cat "$tmp/out")"
[ "$(sqlite3 "$tmp/merged.db" "SELECT count(*), count(DISTINCT key) FROM runs")" == "11|11" ] || fail "merged runs are not 11 distinct"
[ "$(sqlite3 "$tmp/merged.db" "PRAGMA integrity_check")" == "ok" ] || fail "merged database fails integrity_check"
expect_ok "scores merged" "$mad" scores --db "$tmp/merged.db" --format json
[ "$(json_scores "$tmp/out")" == "$(json_scores "$tmp/scores.json")" ] || fail "merged shards score differently"

# ---- bad input: one line, exit code 1 --------------------------------------------------------------
echo "not a database" >"$tmp/notes.txt"
sqlite3 "$tmp/newer.db" "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT); INSERT INTO schema_version VALUES (99, 'x')"
expect_error "missing db" "no such results database" "$mad" scores --db "$tmp/missing.db"
[ ! -e "$tmp/missing.db" ] || fail "mad scores created the missing database"
expect_error "not a database" "not a database" "$mad" runs --db "$tmp/notes.txt"
expect_error "newer schema" "schema version 99 is newer" "$mad" scores --db "$tmp/newer.db"
expect_error "merge newer schema" "schema version 99 is newer" "$mad" results merge "$tmp/m2.db" "$tmp/newer.db"
expect_error "merge missing input" "no such results database" "$mad" results merge "$tmp/m2.db" "$tmp/missing.db"
expect_error "bad status" "valid statuses" "$mad" runs --db "$db" --status done
expect_error "bad format" "valid formats" "$mad" scores --db "$db" --format xml
expect_error "bad runs format" "valid formats" "$mad" runs --db "$db" --format csv
expect_error "unknown sweep" "no sweep 'nope'" "$mad" scores --db "$db" --sweep nope

finish cli_results_test
