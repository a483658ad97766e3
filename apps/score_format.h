// What the score commands (`mad scores`, `mad compare`, `mad report`) share: reading the runs to score,
// the protocol grid's expectations, task column names, and plain-text, Markdown and CSV output.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/value.h"
#include "results/record.h"
#include "results/scores.h"
#include "results/seed_stats.h"

namespace mad::cli {

// The runs of the results database `db` (opened for queries only), or of its sweep `sweep` when not
// empty. Throws a one-line mad::Error for a missing or foreign file, and for an unknown sweep (listing
// the database's sweeps).
std::vector<results::StoredRun> read_runs(const std::string& db, const std::string& sweep);

// The protocol grid's setting counts (11, 14, 11, 13, 11, 6), in protocol order: a cell with fewer
// scored settings is incomplete.
results::ScoreOptions protocol_expectations();

// A task's column header: its shorthand (CR, NR, ...) for the six MAD tasks, else its name.
std::string column_name(const std::string& task);
// Task name -> shorthand for the six MAD tasks.
std::map<std::string, std::string> task_shorthands();

// Checks `format` against `valid` ("table", "json", ...); the error names the command and the valid ones.
void check_format(const std::string& command, const std::string& format, const std::vector<std::string>& valid);

// "0.650", or "-" for no score.
std::string score_text(std::optional<double> score);
std::string csv_field(const std::string& text);
config::Value number_or_null(std::optional<double> v);

// Seed statistics (results/seed_stats.h) in the outputs: JSON fields n_seeds, mean, std, ci_low and
// ci_high (null when undefined) added to `row`; the same five as CSV fields ("n,mean,std,lo,hi"); and for
// tables " [0.300, 0.700]" when there is an interval, else "".
void set_seed_stats(config::Value& row, const results::SeedStats& s);
extern const char* const kSeedStatsCsvHeader;  // "n_seeds,mean,std,ci_low,ci_high"
std::string seed_stats_csv(const results::SeedStats& s);
std::string interval_text(const results::SeedStats& s, bool signed_numbers = false);

// Prints `rows` under `header`: aligned text (the first `left` columns left-aligned, the rest
// right-aligned, two spaces apart) or a Markdown table; then an empty line.
void print_columns(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                   bool markdown, size_t left = 1);

}  // namespace mad::cli
