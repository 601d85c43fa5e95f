// What the bridge's two SQLite files (the spool, the duplicate filter) open and run the same way:
// a file in write-ahead-log mode whose directory is made if missing, and statements whose failure
// is either returned to the caller or logged.
#pragma once

#include <QString>

struct sqlite3;

namespace Kennel::SqliteFile {

// Makes `path`'s directory and opens (or creates) the file in WAL mode: a write is one sequential
// append (one fsync with synchronous=FULL) and a crash never leaves a half-written row. nullptr
// with `why` set on failure.
sqlite3 *openWal(const QString &path, QString *why);

// Runs `sql`. On failure the reason goes to `error` if given, else to the log as "`what`: reason".
bool exec(sqlite3 *db, const char *sql, const char *what, QString *error = nullptr);

} // namespace Kennel::SqliteFile
