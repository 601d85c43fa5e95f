#include "bridgespool.h"
#include "logging.h"
#include "sqlitefile.h"

#include <QDateTime>

#include <sqlite3.h>

namespace Kennel {

namespace {
// What a row costs against the bound: its topic and payload plus SQLite's per-row overhead, so
// that a spool of many tiny messages is bounded too.
constexpr qint64 RowOverhead = 32;
qint64 rowBytes(qint64 topic, qint64 payload)
{
    return topic + payload + RowOverhead;
}
} // namespace

BridgeSpool::~BridgeSpool()
{
    close();
}

bool BridgeSpool::exec(const char *sql, QString *error)
{
    return SqliteFile::exec(m_db, sql, "spool", error);
}

sqlite3_stmt *BridgeSpool::prepare(const char *sql)
{
    sqlite3_stmt *stmt = nullptr;
    if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
        qCWarning(lcBridge, "spool: cannot prepare '%s': %s", sql, sqlite3_errmsg(m_db));
        return nullptr;
    }
    return stmt;
}

bool BridgeSpool::open(const QString &path, bool syncFull, QString *error)
{
    close();
    QString why;
    // WAL (SqliteFile::openWal): besides, the event loop never waits on a reader.
    if (!(m_db = SqliteFile::openWal(path, &why))
        || !exec("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic BLOB NOT NULL, "
                 "payload BLOB NOT NULL, created INTEGER NOT NULL)", &why)) {
        *error = QStringLiteral("spool %1: %2").arg(path, why);
        close();
        return false;
    }
    setSyncFull(syncFull);
    // The epoch: a spool file deleted and made anew numbers from 1 again, and the receiving
    // boards must not take its messages for duplicates of the old file's.
    exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    exec("INSERT OR IGNORE INTO meta VALUES ('epoch', abs(random()))");
    if (sqlite3_stmt *epoch = prepare("SELECT value FROM meta WHERE key = 'epoch'")) {
        if (sqlite3_step(epoch) == SQLITE_ROW)
            m_epoch = quint64(sqlite3_column_int64(epoch, 0));
        sqlite3_finalize(epoch);
    }
    m_insert = prepare("INSERT INTO outbox (topic, payload, created) VALUES (?, ?, ?)");
    m_delete = prepare("DELETE FROM outbox WHERE seq = ?");
    m_select = prepare("SELECT seq, topic, payload, created FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    m_oldest = prepare("SELECT created FROM outbox ORDER BY seq LIMIT 1");
    sqlite3_stmt *count = prepare("SELECT count(*), coalesce(sum(length(topic) + length(payload)), 0) FROM outbox");
    if (!m_insert || !m_delete || !m_select || !m_oldest || !count) {
        sqlite3_finalize(count);
        *error = QStringLiteral("spool %1: %2").arg(path, QString::fromUtf8(sqlite3_errmsg(m_db)));
        close();
        return false;
    }
    if (sqlite3_step(count) == SQLITE_ROW) {
        m_rows = sqlite3_column_int64(count, 0);
        m_bytes = sqlite3_column_int64(count, 1) + m_rows * RowOverhead;
    }
    sqlite3_finalize(count);
    return true;
}

void BridgeSpool::setSyncFull(bool full)
{
    if (m_db)
        exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

void BridgeSpool::close()
{
    for (sqlite3_stmt **stmt : {&m_insert, &m_delete, &m_select, &m_oldest}) {
        sqlite3_finalize(*stmt);
        *stmt = nullptr;
    }
    if (m_db)
        sqlite3_close(m_db);
    m_db = nullptr;
    m_rows = 0;
    m_bytes = 0;
}

void BridgeSpool::dropOldest(qint64 need, std::vector<quint64> *dropped)
{
    // One row at a time, oldest first, until the new row fits; each one counted.
    sqlite3_stmt *oldest = prepare("SELECT seq, length(topic) + length(payload) FROM outbox ORDER BY seq LIMIT 64");
    if (!oldest)
        return;
    while (m_rows > 0 && m_bytes + need > m_maxBytes) {
        bool any = false;
        while (m_bytes + need > m_maxBytes && sqlite3_step(oldest) == SQLITE_ROW) {
            any = true;
            const quint64 seq = quint64(sqlite3_column_int64(oldest, 0));
            const qint64 size = sqlite3_column_int64(oldest, 1) + RowOverhead;
            sqlite3_bind_int64(m_delete, 1, qint64(seq));
            sqlite3_step(m_delete);
            sqlite3_reset(m_delete);
            --m_rows;
            m_bytes -= size;
            ++m_droppedTotal;
            if (dropped)
                dropped->push_back(seq);
        }
        sqlite3_reset(oldest);
        if (!any)
            break;
    }
    sqlite3_finalize(oldest);
}

quint64 BridgeSpool::append(const QByteArray &topic, const QByteArray &payload, std::vector<quint64> *dropped)
{
    if (!m_db || !m_insert)
        return 0;
    const qint64 size = rowBytes(topic.size(), payload.size());
    if (m_bytes + size > m_maxBytes)
        dropOldest(size, dropped);
    if (m_bytes + size > m_maxBytes) {
        // Larger than the whole spool: nothing older left to drop.
        ++m_droppedTotal;
        return 0;
    }
    sqlite3_bind_blob(m_insert, 1, topic.constData(), int(topic.size()), SQLITE_STATIC);
    sqlite3_bind_blob(m_insert, 2, payload.constData(), int(payload.size()), SQLITE_STATIC);
    sqlite3_bind_int64(m_insert, 3, QDateTime::currentMSecsSinceEpoch());
    const int rc = sqlite3_step(m_insert);
    sqlite3_reset(m_insert);
    sqlite3_clear_bindings(m_insert);
    if (rc != SQLITE_DONE) {
        qCWarning(lcBridge, "spool: cannot append: %s", sqlite3_errmsg(m_db));
        return 0;
    }
    ++m_rows;
    m_bytes += size;
    return quint64(sqlite3_last_insert_rowid(m_db));
}

std::vector<BridgeSpool::Row> BridgeSpool::rowsAfter(quint64 after, int limit)
{
    std::vector<Row> rows;
    if (!m_db || !m_select)
        return rows;
    sqlite3_bind_int64(m_select, 1, qint64(after));
    sqlite3_bind_int(m_select, 2, limit);
    while (sqlite3_step(m_select) == SQLITE_ROW) {
        Row row;
        row.seq = quint64(sqlite3_column_int64(m_select, 0));
        row.topic = QByteArray(static_cast<const char *>(sqlite3_column_blob(m_select, 1)), sqlite3_column_bytes(m_select, 1));
        row.payload = QByteArray(static_cast<const char *>(sqlite3_column_blob(m_select, 2)), sqlite3_column_bytes(m_select, 2));
        row.createdMs = sqlite3_column_int64(m_select, 3);
        rows.push_back(std::move(row));
    }
    sqlite3_reset(m_select);
    return rows;
}

void BridgeSpool::remove(const Row &row)
{
    if (!m_db || !m_delete)
        return;
    sqlite3_bind_int64(m_delete, 1, qint64(row.seq));
    // A row the bound dropped meanwhile is not counted twice.
    if (sqlite3_step(m_delete) == SQLITE_DONE && sqlite3_changes(m_db) == 1) {
        --m_rows;
        m_bytes -= rowBytes(row.topic.size(), row.payload.size());
    }
    sqlite3_reset(m_delete);
}

qint64 BridgeSpool::oldestCreatedMs()
{
    if (!m_db || !m_oldest || m_rows == 0)
        return 0;
    qint64 created = 0;
    if (sqlite3_step(m_oldest) == SQLITE_ROW)
        created = sqlite3_column_int64(m_oldest, 0);
    sqlite3_reset(m_oldest);
    return created;
}

} // namespace Kennel
