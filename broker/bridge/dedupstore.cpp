#include "dedupstore.h"
#include "logging.h"
#include "sqlitefile.h"

#include <QDateTime>

#include <sqlite3.h>

namespace Kennel {

namespace {
// Rows below the window are deleted from the file in batches, not one DELETE per message: the
// file holds at most this many more than the window per origin key.
constexpr int PruneEvery = 64;
} // namespace

DedupStore::~DedupStore()
{
    close();
}

bool DedupStore::exec(const char *sql, QString *error)
{
    return SqliteFile::exec(m_db, sql, "dedup store", error);
}

bool DedupStore::open(const QString &path, bool syncFull, QString *error)
{
    close();
    m_path = path;
    auto fail = [&](const QString &why) {
        *error = QStringLiteral("dedup store %1: %2").arg(path, why);
        close();
        return false;
    };
    QString why;
    if (!(m_db = SqliteFile::openWal(path, &why)))
        return fail(why);
    // WITHOUT ROWID: the key is the row, so a mark is one B-tree insert.
    if (!exec("CREATE TABLE IF NOT EXISTS seen (origin BLOB NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, "
                 "PRIMARY KEY (origin, seq)) WITHOUT ROWID", &why))
        return fail(why);
    setSyncFull(syncFull);
    for (sqlite3_stmt **stmt : {&m_insert, &m_prune, &m_forget}) {
        const char *sql = stmt == &m_insert ? "INSERT OR IGNORE INTO seen (origin, seq, at) VALUES (?, ?, ?)"
                        : stmt == &m_prune  ? "DELETE FROM seen WHERE origin = ? AND seq < ?"
                                            : "DELETE FROM seen WHERE origin = ?";
        if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK)
            return fail(QString::fromUtf8(sqlite3_errmsg(m_db)));
    }
    sqlite3_stmt *load = nullptr;
    if (sqlite3_prepare_v2(m_db, "SELECT origin, seq, at FROM seen", -1, &load, nullptr) != SQLITE_OK)
        return fail(QString::fromUtf8(sqlite3_errmsg(m_db)));
    qint64 rows = 0;
    while (sqlite3_step(load) == SQLITE_ROW) {
        const QByteArray key(static_cast<const char *>(sqlite3_column_blob(load, 0)), sqlite3_column_bytes(load, 0));
        const quint64 seq = quint64(sqlite3_column_int64(load, 1));
        Seen &seen = m_origins[key];
        seen.seqs.insert(seq);
        seen.highest = qMax(seen.highest, seq);
        seen.touched = qMax(seen.touched, sqlite3_column_int64(load, 2));
        m_clock = qMax(m_clock, seen.touched);
        ++rows;
    }
    sqlite3_finalize(load);
    // A smaller window or origins bound than the file was written with applies at once.
    for (auto it = m_origins.begin(); it != m_origins.end(); ++it)
        trim(it.key(), *it, true);
    evictTo(0);
    qCInfo(lcBridge, "dedup store %s holds %lld sequences of %lld origins (window %llu, origins bound %d)",
           qPrintable(path), qlonglong(rows), qlonglong(m_origins.size()), (unsigned long long)m_window, m_maxOrigins);
    return true;
}

void DedupStore::close()
{
    for (sqlite3_stmt **stmt : {&m_insert, &m_prune, &m_forget}) {
        sqlite3_finalize(*stmt);
        *stmt = nullptr;
    }
    if (m_db)
        sqlite3_close(m_db);
    m_db = nullptr;
    m_origins.clear();
}

void DedupStore::setSyncFull(bool full)
{
    // The spool's policy (docs/FLEET.md): NORMAL survives a process crash, FULL a power cut too.
    if (m_db)
        exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

void DedupStore::setWindow(int window)
{
    m_window = quint64(qMax(1, window));
    for (auto it = m_origins.begin(); it != m_origins.end(); ++it)
        trim(it.key(), *it, m_db != nullptr);
}

void DedupStore::setMaxOrigins(int maxOrigins)
{
    m_maxOrigins = qMax(1, maxOrigins);
    evictTo(0);
}

void DedupStore::trim(const QByteArray &key, Seen &seen, bool inFile)
{
    if (seen.highest < m_window)
        return;
    const quint64 floor = seen.highest - m_window + 1; // below it: TooOld
    while (!seen.seqs.empty() && *seen.seqs.begin() < floor)
        seen.seqs.erase(seen.seqs.begin());
    if (!inFile || !m_prune)
        return;
    seen.sincePrune = 0;
    sqlite3_bind_blob(m_prune, 1, key.constData(), int(key.size()), SQLITE_STATIC);
    sqlite3_bind_int64(m_prune, 2, sqlite3_int64(floor));
    if (sqlite3_step(m_prune) != SQLITE_DONE)
        qCWarning(lcBridge, "dedup store: cannot prune: %s", sqlite3_errmsg(m_db));
    sqlite3_reset(m_prune);
}

void DedupStore::forget(const QByteArray &key)
{
    m_origins.remove(key);
    if (!m_forget)
        return;
    sqlite3_bind_blob(m_forget, 1, key.constData(), int(key.size()), SQLITE_STATIC);
    if (sqlite3_step(m_forget) != SQLITE_DONE)
        qCWarning(lcBridge, "dedup store: cannot forget an origin: %s", sqlite3_errmsg(m_db));
    sqlite3_reset(m_forget);
}

void DedupStore::evictTo(int room)
{
    // The least recently heard origin key goes: an old epoch of a board whose spool was made
    // anew, or a board gone from the fleet. Linear, but only when the bound bites.
    while (!m_origins.isEmpty() && m_origins.size() + room > m_maxOrigins) {
        auto oldest = m_origins.begin();
        for (auto it = m_origins.begin(); it != m_origins.end(); ++it)
            if (it->touched < oldest->touched)
                oldest = it;
        const QByteArray key = oldest.key();
        ++m_counters.originsEvicted;
        qCWarning(lcBridge, "dedup store: origins bound of %d reached: forgetting %s (%llu forgotten in all); "
                            "a late duplicate from it would be delivered",
                  m_maxOrigins, key.constData(), (unsigned long long)m_counters.originsEvicted);
        forget(key);
    }
}

DedupStore::Verdict DedupStore::firstTime(const QByteArray &key, quint64 seq)
{
    auto it = m_origins.find(key);
    if (it == m_origins.end()) {
        evictTo(1);
        it = m_origins.insert(key, Seen{});
    }
    Seen &seen = *it;
    if (seq + m_window <= seen.highest) {
        ++m_counters.tooOld;
        return Verdict::TooOld;
    }
    if (seen.seqs.count(seq))
        return Verdict::Duplicate;
    // Strictly increasing, so that the eviction order is the order heard even within one ms.
    m_clock = qMax(QDateTime::currentMSecsSinceEpoch(), m_clock + 1);
    seen.touched = m_clock;
    if (m_insert) {
        sqlite3_bind_blob(m_insert, 1, key.constData(), int(key.size()), SQLITE_STATIC);
        sqlite3_bind_int64(m_insert, 2, sqlite3_int64(seq));
        sqlite3_bind_int64(m_insert, 3, seen.touched);
        if (sqlite3_step(m_insert) != SQLITE_DONE) {
            // Still delivered, and still remembered in memory: only a restart would forget it.
            if (m_counters.writeErrors++ == 0 || m_counters.writeErrors % 1000 == 0)
                qCWarning(lcBridge, "dedup store %s: cannot write (%llu failures): %s", qPrintable(m_path),
                          (unsigned long long)m_counters.writeErrors, sqlite3_errmsg(m_db));
        }
        sqlite3_reset(m_insert);
    }
    seen.seqs.insert(seq);
    seen.highest = qMax(seen.highest, seq);
    if (++seen.sincePrune >= PruneEvery)
        trim(key, seen, true);
    else
        trim(key, seen, false);
    return Verdict::First;
}

} // namespace Kennel
