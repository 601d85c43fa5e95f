#include "sqlitefile.h"

#include "logging.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <sqlite3.h>

namespace Kennel::SqliteFile {

sqlite3 *openWal(const QString &path, QString *why)
{
    if (!QDir().mkpath(QFileInfo(path).absolutePath())) {
        *why = QStringLiteral("cannot create its directory");
        return nullptr;
    }
    sqlite3 *db = nullptr;
    if (sqlite3_open_v2(QFile::encodeName(path).constData(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        *why = QString::fromUtf8(db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return nullptr;
    }
    if (!exec(db, "PRAGMA journal_mode=WAL", nullptr, why)) {
        sqlite3_close(db);
        return nullptr;
    }
    return db;
}

bool exec(sqlite3 *db, const char *sql, const char *what, QString *error)
{
    char *message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) == SQLITE_OK)
        return true;
    const QString text = QString::fromUtf8(message ? message : sqlite3_errmsg(db));
    sqlite3_free(message);
    if (error)
        *error = text;
    else
        qCWarning(lcBridge).noquote() << QLatin1String(what) + QLatin1String(": ") + text;
    return false;
}

} // namespace Kennel::SqliteFile
