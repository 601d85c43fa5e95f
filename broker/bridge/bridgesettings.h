// [bridge]: this board's link to an MQTT broker the fleet already runs (docs/FLEET.md,
// docs/CONFIG.md [bridge]). Plain data: the loader fills it, BridgeManager applies it.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

#include <chrono>

namespace Kennel {

struct BridgeSettings
{
    // mqtt://HOST:PORT or mqtts://HOST:PORT; empty: no bridge, nothing of it runs.
    QString url;
    QByteArray board;              // this board's id: a name (1..32 of A-Z a-z 0-9 . _ -)
    QString prefix = QStringLiteral("kennel/{board}/"); // every board's topics; {board} is the id
    QString clientId;              // MQTT client id; empty: "kennel-BOARD" (stable: clean session off)
    int keepaliveSeconds = 30;
    QString username;
    QString passwordFile;          // the password is the file's first line
    QString caFile, certFile, keyFile; // mqtts://
    QString spoolPath;             // SQLite file; empty: /var/lib/kennel/bridge-BOARD.spool (or XDG)
    qint64 spoolMaxBytes = 64 * 1024 * 1024;
    bool spoolSyncFull = false;    // synchronous=FULL (fsync per message) instead of NORMAL
    std::chrono::milliseconds statusTimeout{30000};  // NAME@BOARD without a final status: remote_timeout
    std::chrono::milliseconds reconnectMin{500};
    std::chrono::milliseconds reconnectMax{30000};
    std::chrono::milliseconds summaryInterval{5000};
    int inflight = 64;             // spool rows published and not yet PUBACKed
    int dedupWindow = 4096;        // message sequence numbers remembered per origin board

    // Topics across the bridge (docs/FLEET.md "Topics"; broker/bridge/topicbridge.h): filters of
    // this board's publications published to the MQTT broker, and of other boards' publications
    // taken in. None by default. Changed by a reload without a new connection.
    QList<QByteArray> exportTopics;
    QList<QByteArray> importTopics;
    int exportMaxPending = 10000;  // exports handed to the link and not yet acknowledged
    // The receiving side's durable duplicate filter (dedupstore.h) and what the summary advertises.
    int dedupOrigins = 1024;       // origin keys (board and spool epoch) remembered; oldest forgotten
    QString monitorAddress;        // HOST:PORT in the summary's "monitor"; empty: from the listeners

    bool enabled() const { return !url.isEmpty(); }
    bool operator==(const BridgeSettings &other) const;
    bool operator!=(const BridgeSettings &other) const { return !(*this == other); }
    // Whether going from this to `other` needs a new MQTT connection (not just new bounds).
    bool linkDiffers(const BridgeSettings &other) const;
};

// The parts of a bridge URL; ok false with `error` set when it is not one.
struct BridgeUrl
{
    bool ok = false;
    bool tls = false;
    QString host;
    int port = 0;
    QString error;
};
BridgeUrl parseBridgeUrl(const QString &url);

// A board id is a Kennel name of at most this many bytes, so NAME@BOARD fits a name field.
constexpr int MaxBoardLength = 32;
bool isValidBoard(QByteArrayView board);

} // namespace Kennel
