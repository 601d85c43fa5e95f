// The bridge's store-and-forward spool: every outgoing directed message is written here (SQLite,
// WAL journal) before it is published, and removed when the MQTT broker acknowledges it (PUBACK),
// so what was not acknowledged survives a lost link, a kennel-broker SIGKILL and, with
// synchronous=FULL, a power cut. Bounded in bytes: at the bound the oldest rows go, counted.
// Rows are sent in sequence order; the sequence (INTEGER PRIMARY KEY AUTOINCREMENT) is never
// reused, so it doubles as the message's id for the receiving board's duplicate check.
#pragma once

#include <QByteArray>
#include <QString>

#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace Kennel {

class BridgeSpool
{
public:
    struct Row
    {
        quint64 seq = 0;
        QByteArray topic;
        QByteArray payload;
        qint64 createdMs = 0; // wall clock, ms since the epoch
    };

    BridgeSpool() = default;
    ~BridgeSpool();
    BridgeSpool(const BridgeSpool &) = delete;
    BridgeSpool &operator=(const BridgeSpool &) = delete;

    // Opens (creating) the file; false with *error set. syncFull: synchronous=FULL, else NORMAL.
    bool open(const QString &path, bool syncFull, QString *error);
    void close();
    bool isOpen() const { return m_db != nullptr; }
    void setSyncFull(bool full);
    void setMaxBytes(qint64 maxBytes) { m_maxBytes = maxBytes; }

    // Appends a row; returns its sequence (0 on a failure, logged). Rows that the bound pushes
    // out are appended to *dropped (their sequences), oldest first.
    quint64 append(const QByteArray &topic, const QByteArray &payload, std::vector<quint64> *dropped);
    // Up to `limit` rows after sequence `after`, in order.
    std::vector<Row> rowsAfter(quint64 after, int limit);
    // The broker acknowledged the row (as read by rowsAfter).
    void remove(const Row &row);

    // Random at the file's creation: with the sequence, a message's identity for the duplicate check.
    quint64 epoch() const { return m_epoch; }
    qint64 depth() const { return m_rows; }
    qint64 bytes() const { return m_bytes; }
    qint64 maxBytes() const { return m_maxBytes; }
    quint64 droppedTotal() const { return m_droppedTotal; }
    // Creation time of the oldest row, 0 if empty.
    qint64 oldestCreatedMs();

private:
    bool exec(const char *sql, QString *error = nullptr);
    sqlite3_stmt *prepare(const char *sql);
    void dropOldest(qint64 need, std::vector<quint64> *dropped);

    sqlite3 *m_db = nullptr;
    sqlite3_stmt *m_insert = nullptr;
    sqlite3_stmt *m_delete = nullptr;
    sqlite3_stmt *m_select = nullptr;
    sqlite3_stmt *m_oldest = nullptr;
    qint64 m_maxBytes = 64 * 1024 * 1024;
    qint64 m_rows = 0;
    qint64 m_bytes = 0;
    quint64 m_droppedTotal = 0;
    quint64 m_epoch = 0;
};

} // namespace Kennel
