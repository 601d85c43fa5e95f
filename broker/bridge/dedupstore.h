// Duplicates dropped on the receiving board, durably (docs/FLEET.md "Duplicates"). Per origin
// key (origin board and the origin spool's epoch): the sequence numbers seen within a window
// below the highest seen. The origin publishes in sequence order and republishes after a
// reconnect what was not acknowledged, so a duplicate is either in the window or older than it.
//
// Every sequence taken is committed to an SQLite file (WAL, the spool's synchronous setting)
// before firstTime() returns, so the filter survives a kennel-broker SIGKILL (and, with
// spool_sync = full, a power cut): a message the MQTT broker redelivers after a restart, or one
// the origin republishes, is still known. Its own file next to the spool, not the spool's
// connection: the spool holds what this board sends, this what it received; deleting the spool
// to drop a backlog must not make the board forget what it delivered, and a commit here never
// waits on (or fsyncs with) the spool's appends.
//
// Bounded: `window` sequences per origin key (the file is pruned to about that), `maxOrigins`
// keys (the least recently heard is forgotten, counted and logged).
#pragma once

#include <QByteArray>
#include <QHash>
#include <QString>

#include <set>

struct sqlite3;
struct sqlite3_stmt;

namespace Kennel {

class DedupStore
{
public:
    enum class Verdict { First, Duplicate, TooOld };
    struct Counters
    {
        quint64 tooOld = 0;         // below the window: dropped without knowing (the window bit)
        quint64 originsEvicted = 0; // keys forgotten at the origins bound
        quint64 writeErrors = 0;    // a mark not committed (the message was still delivered)
    };

    DedupStore() = default;
    ~DedupStore();
    DedupStore(const DedupStore &) = delete;
    DedupStore &operator=(const DedupStore &) = delete;

    // Opens (creating) the file and loads what it holds; false with *error set.
    bool open(const QString &path, bool syncFull, QString *error);
    void close();
    bool isOpen() const { return m_db != nullptr; }
    void setSyncFull(bool full);
    void setWindow(int window);
    void setMaxOrigins(int maxOrigins);

    // First: (key, seq) not seen before; it is now remembered (committed to the file before
    // this returns). Duplicate: seen. TooOld: older than the window, dropped as a duplicate.
    Verdict firstTime(const QByteArray &key, quint64 seq);

    int origins() const { return int(m_origins.size()); }
    const Counters &counters() const { return m_counters; }
    const QString &path() const { return m_path; }

private:
    struct Seen
    {
        quint64 highest = 0;
        std::set<quint64> seqs;
        qint64 touched = 0;    // ms since the epoch of the last sequence taken: eviction order
        int sincePrune = 0;
    };
    bool exec(const char *sql, QString *error = nullptr);
    void forget(const QByteArray &key);
    void trim(const QByteArray &key, Seen &seen, bool inFile);
    void evictTo(int room);

    sqlite3 *m_db = nullptr;
    sqlite3_stmt *m_insert = nullptr;
    sqlite3_stmt *m_prune = nullptr;
    sqlite3_stmt *m_forget = nullptr;
    QString m_path;
    quint64 m_window = 4096;
    int m_maxOrigins = 1024;
    QHash<QByteArray, Seen> m_origins;
    qint64 m_clock = 0; // the last `touched` given
    Counters m_counters;
};

} // namespace Kennel
