// The results schema and its migrations, in one place (schema.cpp holds the list of SQL steps).
//
// A database records the versions applied to it in the table schema_version. Opening a database applies
// the missing steps in one transaction; a database whose version is newer than this mad knows is refused
// (an older mad must not write into a schema it does not understand). docs/results-schema.md describes
// the tables.
#pragma once

#include <string>
#include <string_view>

#include "results/sqlite.h"

namespace mad::results {

// The version the last migration step creates.
int current_schema_version();

// The version recorded in `schema` ("main", or an attached database's name) of the database file `file`:
// 0 for an empty database. Throws mad::Error naming `file` when the database holds tables but no
// schema_version (not a results database).
int stored_schema_version(Connection& db, std::string_view schema, const std::string& file);

// Brings the main database to current_schema_version(); throws when it is newer or not a results database.
void migrate(Connection& db);

// Throws unless `version` (of the database `path`) is one this mad can read.
void check_not_newer(int version, const std::string& path);

}  // namespace mad::results
