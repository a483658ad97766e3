#!/bin/bash
# End-to-end test of `mad scores`, `mad compare`, `mad report`, `mad runs` and `mad results merge` on the
# databases make_sample_db writes (the scores example of results_test_util.h). The scores `mad scores` and
# `mad compare` print as JSON are compared with scores computed by plain SQL over the raw run rows, run by
# the sqlite3 program.
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
grep -q "^A,[0-9a-f]*,mean,0.725,3,66,5,2,1,1,0.725,,,$" "$tmp/out" || fail "csv overall row of A: $(cat "$tmp/out")"
# Seed statistics in JSON (one seed here: no spread, no interval), and --stat max equal to the mean.
[ "$(sqlite3 :memory: "SELECT count(*) FROM json_each(readfile('$tmp/scores.json')) WHERE json_type(value, '$.n_seeds') = 'integer'
   AND json_type(value, '$.std') = 'null' AND json_type(value, '$.ci_low') = 'null' AND json_type(value, '$.ci_high') = 'null'
   AND (json_extract(value, '$.score') IS NULL OR json_extract(value, '$.mean') = json_extract(value, '$.score'))")" -eq 14 ] ||
  fail "scores json lacks the seed statistics: $(cat "$tmp/scores.json")"
expect_ok "scores --stat max" "$mad" scores --db "$db" --format json --stat max
[ "$(json_scores "$tmp/out")" == "$(json_scores "$tmp/scores.json")" ] || fail "--stat max differs from the mean with one seed"
expect_error "bad stat" "unknown --stat 'median'; use mean or max" "$mad" scores --db "$db" --stat median
expect_ok "scores by setting" "$mad" scores --db "$db" --by-setting
grep -q "^A .* CR .* vocab_size=16 .* 0\.700 .* 0\.001 " "$tmp/out" || fail "by-setting row: $(cat "$tmp/out")"
expect_ok "scores by setting json" "$mad" scores --db "$db" --by-setting --format json
[ "$(sqlite3 :memory: "SELECT count(*) FROM json_each(readfile('$tmp/out')) WHERE json_type(value, '$.setting') = 'object'")" -eq 5 ] ||
  fail "by-setting json: $(cat "$tmp/out")"
expect_ok "scores of a sweep" "$mad" scores --db "$db" --sweep sweep-b
grep -q "^B " "$tmp/out" && ! grep -q "^A " "$tmp/out" || fail "--sweep sweep-b: $(cat "$tmp/out")"

# ---- mad compare ----------------------------------------------------------------------------------
# "settings score" of architecture $2's setting scores, from the tables (settings as sqlite's json()).
sql_setting_scores() {
  sqlite3 -separator ' ' "$1" "
    SELECT json(t.settings), printf('%.12f', max(m.test_acc))
    FROM runs r JOIN architectures a ON a.hash = r.architecture JOIN task_settings t ON t.hash = r.task_setting
    JOIN run_metrics m ON m.run_key = r.key
    WHERE a.name = '$2' AND r.status = 'completed' AND m.test_acc IS NOT NULL
    GROUP BY r.task_setting ORDER BY 1"
}
# The same pairs from `mad compare --format json` output in file $1, field $2 (a or b).
json_setting_scores() {
  sqlite3 -separator ' ' :memory: "
    SELECT json(json_extract(value, '$.settings')), printf('%.12f', json_extract(value, '$.$2'))
    FROM json_each(readfile('$1'), '$.settings') WHERE json_extract(value, '$.$2') IS NOT NULL ORDER BY 1"
}
expect_ok "compare json" "$mad" compare --db "$db" A B --format json
cp "$tmp/out" "$tmp/compare.json"
[ -n "$(sql_setting_scores "$db" A)" ] || fail "plain SQL found no setting scores of A"
[ "$(json_setting_scores "$tmp/compare.json" a)" == "$(sql_setting_scores "$db" A)" ] ||
  fail "compare's scores of A differ from plain SQL: $(json_setting_scores "$tmp/compare.json" a)"
[ "$(json_setting_scores "$tmp/compare.json" b)" == "$(sql_setting_scores "$db" B)" ] ||
  fail "compare's scores of B differ from plain SQL: $(json_setting_scores "$tmp/compare.json" b)"
# Every delta is b - a, present exactly when both are; the task scores are those of `mad scores`.
bad_deltas=$(sqlite3 :memory: "
  SELECT count(*) FROM (SELECT value FROM json_each(readfile('$tmp/compare.json'), '$.settings')
                        UNION ALL SELECT value FROM json_each(readfile('$tmp/compare.json'), '$.tasks'))
  WHERE (json_extract(value, '$.delta') IS NULL) != (json_extract(value, '$.a') IS NULL OR json_extract(value, '$.b') IS NULL)
     OR abs(json_extract(value, '$.delta') - (json_extract(value, '$.b') - json_extract(value, '$.a'))) > 1e-12")
[ "$bad_deltas" -eq 0 ] || fail "$bad_deltas compare rows have a delta that is not b - a"
compare_tasks=$(sqlite3 -separator ' ' :memory: "
  SELECT 'A', json_extract(value, '$.task'), printf('%.12f', json_extract(value, '$.a'))
  FROM json_each(readfile('$tmp/compare.json'), '$.tasks') WHERE json_extract(value, '$.a') IS NOT NULL
  UNION ALL SELECT 'B', json_extract(value, '$.task'), printf('%.12f', json_extract(value, '$.b'))
  FROM json_each(readfile('$tmp/compare.json'), '$.tasks') WHERE json_extract(value, '$.b') IS NOT NULL ORDER BY 1, 2")
[ "$compare_tasks" == "$(json_scores "$tmp/scores.json")" ] || fail "compare's task scores differ from mad scores: $compare_tasks"
[ "$(sqlite3 :memory: "SELECT json_array_length(readfile('$tmp/compare.json'), '$.tasks')")" -eq 7 ] ||
  fail "compare json has not 6 tasks + mean"

expect_ok "compare table" "$mad" compare --db "$db" A B
grep -q "^CR    *vocab_size=16  *0\.700  *0\.300  *-0\.400$" "$tmp/out" || fail "compare row V16: $(cat "$tmp/out")"
grep -q "^CR    *vocab_size=32  *0\.600  *-  *-$" "$tmp/out" || fail "compare row V32: $(cat "$tmp/out")"
grep -q "^mean  *all tasks  *0\.725\*  *0\.600\*  *-0\.125$" "$tmp/out" || fail "compare overall row: $(cat "$tmp/out")"
grep -q "^delta: B - A" "$tmp/out" || fail "compare has no legend"
expect_ok "compare markdown" "$mad" compare --db "$db" A B --format markdown
grep -qF "| C | task score | 0.800* | 0.900* | +0.100 |" "$tmp/out" || fail "compare markdown: $(cat "$tmp/out")"
expect_ok "compare csv" "$mad" compare --db "$db" A B --format csv
[ "$(wc -l <"$tmp/out")" -eq 11 ] || fail "compare csv has $(wc -l <"$tmp/out") lines, expected 1 + 3 settings + 7 tasks"
grep -q "^overall,mean,,,A,0.725,B,0.6,-0.12[0-9]*,1,1,1,-0.12[0-9]*,,,,0$" "$tmp/out" || fail "compare csv overall row: $(cat "$tmp/out")"
hash_b=$(sqlite3 "$db" "SELECT substr(hash, 1, 7) FROM architectures WHERE name = 'B'")
expect_ok "compare by hash prefix" "$mad" compare --db "$db" A "$hash_b"
grep -q "^task  *setting  *A  *B  *delta$" "$tmp/out" || fail "compare by hash prefix: $(head -1 "$tmp/out")"

# ---- several seeds ---------------------------------------------------------------------------------
# results_test_util.h's seeds example: A's recall score is the mean of 4 seeds with its interval; B - A is
# clear of 0 (marked !), C - A is not.
"$make_db" "$tmp/seeds.db" --seeds || fail "make_sample_db --seeds"
expect_ok "scores with seeds" "$mad" scores --db "$tmp/seeds.db"
grep -q "^A .*0\.650 \[0\.[0-9]*, 0\.[0-9]*\] (4)\*" "$tmp/out" || fail "scores with seeds, row A: $(cat "$tmp/out")"
grep -q "95% bootstrap interval" "$tmp/out" || fail "scores with seeds: no legend"
expect_ok "scores with seeds json" "$mad" scores --db "$tmp/seeds.db" --format json
[ "$(sqlite3 :memory: "SELECT json_extract(value, '$.n_seeds') || ' ' || (json_extract(value, '$.ci_low') < json_extract(value, '$.mean'))
   || ' ' || (json_extract(value, '$.ci_high') > json_extract(value, '$.mean')) FROM json_each(readfile('$tmp/out'))
   WHERE json_extract(value, '$.architecture') = 'B' AND json_extract(value, '$.task') = 'in-context-recall'")" = "5 1 1" ] ||
  fail "scores json with seeds: $(cat "$tmp/out")"
expect_ok "scores --stat max" "$mad" scores --db "$tmp/seeds.db" --stat max --format csv
grep -q "^A,[0-9a-f]*,in-context-recall,0.8,1," "$tmp/out" || fail "--stat max: A's recall is not its best seed, 0.8: $(cat "$tmp/out")"
expect_ok "compare with seeds" "$mad" compare --db "$tmp/seeds.db" A B
# B's fifth seed has no partner: the interval is that of the paired mean over seeds 1-4 (+0.5), shown with it.
grep -q "^CR  *one setting  *0\.650  *0\.920  *+0\.270 (paired +0\.500) \[+0\.300, +0\.700\]!$" "$tmp/out" ||
  fail "compare A B with seeds: $(cat "$tmp/out")"
expect_ok "compare with seeds, no difference" "$mad" compare --db "$tmp/seeds.db" A C --format csv
grep -q "^overall,mean,,,A,0.65,C,0.65,[-0-9.e]*,1,1,4,[-0-9.e]*,[0-9.]*,-0.0999[0-9]*,0.0999[0-9]*,0$" "$tmp/out" ||
  fail "compare A C csv: $(cat "$tmp/out")"
expect_ok "report with seeds" "$mad" report --db "$tmp/seeds.db" --out "$tmp/seeds-report"
grep -q 'class="error"' "$tmp/seeds-report/index.html" || fail "the report has no error bars for several seeds"

# ---- mad report ------------------------------------------------------------------------------------
expect_ok "report" "$mad" report --db "$db" --out "$tmp/report"
page=$tmp/report/index.html
grep -q "^wrote $page " "$tmp/out" || fail "report output: $(cat "$tmp/out")"
[ -s "$page" ] && [ ! -e "$page.tmp" ] || fail "report wrote no $page (or left $page.tmp)"
head -1 "$page" | grep -q "^<!DOCTYPE html>$" && tail -1 "$page" | grep -q "^</html>$" || fail "report is not an HTML page"
! grep -q "http://\|https://\|<script" "$page" || fail "report refers to the network or has a script"
# A bar chart, recall against vocab_size, and state size overall, for recall and for compression.
charts=$(grep -o '<svg class="chart"' "$page" | wc -l)
[ "$charts" -eq 5 ] || fail "report has $charts charts, expected 5"
# Each chart's data next to the page.
for csv in scores.csv state.csv; do [ -s "$(dirname "$page")/$csv" ] || fail "report: no $csv"; done
grep -q "0\.725 <small>(5)</small>\*" "$page" && grep -q "0\.600 <small>(2)</small>\*" "$page" ||
  fail "report lacks the overall scores of A and B"
expect_ok "report of a sweep" "$mad" report --db "$db" --out "$tmp/report" --sweep sweep-b
grep -q "sweep <code>sweep-b</code>" "$page" && ! grep -q "0\.725" "$page" || fail "report --sweep sweep-b"

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
expect_error "compare unknown architecture" "no architecture 'mamba'; the architectures: A, B" "$mad" compare --db "$db" A mamba
expect_error "compare missing db" "no such results database" "$mad" compare --db "$tmp/missing.db" A B
expect_error "report missing db" "no such results database" "$mad" report --db "$tmp/missing.db" --out "$tmp/r2"
[ ! -e "$tmp/r2" ] || fail "mad report made its directory for a missing database"
expect_error "report not a database" "not a database" "$mad" report --db "$tmp/notes.txt" --out "$tmp/r2"
expect_error "report unwritable dir" "give --out a directory you can write" "$mad" report --db "$db" --out "$tmp/notes.txt/r"

finish cli_results_test
