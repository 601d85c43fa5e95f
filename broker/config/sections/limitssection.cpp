#include "limitssection.h"

#include <iterator>

namespace Kennel::Config {

namespace {

// Mirrors Wire::MinFrameSizeLimit (clientlib/protocol/frame.h): every control frame must fit.
// Not included from there so that config stays free of the client library.
constexpr qint64 MinFrameSize = 1024;

const NumericKey limitsTable[] = {
    {"limits", "max_clients", "max-clients", "N", "Connections accepted at once, registered or not", ValueKind::Count,
     1, 1000000, [](const BrokerConfig &c) -> qint64 { return c.maxClients; },
     [](BrokerConfig &c, qint64 v) { c.maxClients = int(v); }},
    {"limits", "max_frame_size", "max-frame-size", "BYTES", "Largest frame accepted, header included", ValueKind::Bytes,
     MinFrameSize, 256 * MiB, [](const BrokerConfig &c) -> qint64 { return c.maxFrameSize; },
     [](BrokerConfig &c, qint64 v) { c.maxFrameSize = quint32(v); }},
    {"limits", "max_name_length", "max-name-length", "N", "Longest client name", ValueKind::Count,
     1, 64, [](const BrokerConfig &c) -> qint64 { return c.maxNameLength; },
     [](BrokerConfig &c, qint64 v) { c.maxNameLength = int(v); }},
    // The minimum here is only the static floor; validate() also demands room for one frame.
    {"limits", "max_queue_bytes", "max-queue-bytes", "BYTES", "Bytes queued towards one connection before it counts as stuck",
     ValueKind::Bytes, MinFrameSize, GiB, [](const BrokerConfig &c) -> qint64 { return c.maxOutputQueueBytes; },
     [](BrokerConfig &c, qint64 v) { c.maxOutputQueueBytes = v; }},
    {"limits", "register_timeout_ms", "register-timeout", "MS", "Time from accept to registration", ValueKind::Millis,
     100, 3600000, [](const BrokerConfig &c) -> qint64 { return c.registerTimeout.count(); },
     [](BrokerConfig &c, qint64 v) { c.registerTimeout = std::chrono::milliseconds(v); }},
    {"limits", "shutdown_timeout_ms", "shutdown-timeout", "MS", "On SIGTERM, time allowed to flush queued output",
     ValueKind::Millis, 0, 600000, [](const BrokerConfig &c) -> qint64 { return c.shutdownFlushTimeout.count(); },
     [](BrokerConfig &c, qint64 v) { c.shutdownFlushTimeout = std::chrono::milliseconds(v); }},
    {"limits", "incomplete_frame_timeout_ms", "incomplete-frame-timeout", "MS",
     "Time a connection may hold the beginning of a frame without the rest", ValueKind::Millis, 100, 3600000,
     [](const BrokerConfig &c) -> qint64 { return c.incompleteFrameTimeout.count(); },
     [](BrokerConfig &c, qint64 v) { c.incompleteFrameTimeout = std::chrono::milliseconds(v); }},
    {"limits", "idle_timeout_ms", "idle-timeout", "MS",
     "Silence after which a native client is pinged (half) and closed (all); also times TCP keepalive",
     ValueKind::MillisOrOff, 1000, 86400000, [](const BrokerConfig &c) -> qint64 { return c.idleTimeout.count(); },
     [](BrokerConfig &c, qint64 v) { c.idleTimeout = std::chrono::milliseconds(v); }},
    // Global budgets. The floor is the static one; BudgetLedger also never sets one
    // below the per-connection bound it sums up.
    {"limits", "total_incomplete_frame_bytes", "total-incomplete-frame-bytes", "BYTES",
     "Bytes of incomplete frames held across all connections before the oldest is shed; 0: RAM/16, 16M..1G",
     ValueKind::BytesOrAuto, MinFrameSize, 64 * GiB,
     [](const BrokerConfig &c) -> qint64 { return c.totalIncompleteFrameBytes; },
     [](BrokerConfig &c, qint64 v) { c.totalIncompleteFrameBytes = v; }},
    {"limits", "total_queue_bytes", "total-queue-bytes", "BYTES",
     "Bytes queued towards all clients before the largest backlog is shed; 0: RAM/8, 32M..2G",
     ValueKind::BytesOrAuto, MinFrameSize, 64 * GiB, [](const BrokerConfig &c) -> qint64 { return c.totalQueueBytes; },
     [](BrokerConfig &c, qint64 v) { c.totalQueueBytes = v; }},
};

} // namespace

const QList<NumericKey> &limitsNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(limitsTable), std::end(limitsTable));
    return keys;
}

QStringList limitsKeys()
{
    return numericKeyNames(GroupLimits);
}

bool isSizeKey(const NumericKey &key)
{
    return GroupLimits == QLatin1String(key.group)
           && (qstrcmp(key.iniKey, "max_frame_size") == 0 || qstrcmp(key.iniKey, "max_queue_bytes") == 0);
}

QStringList limitsCrossCheck(const BrokerConfig &config)
{
    QStringList errors;
    if (config.maxOutputQueueBytes < qint64(config.maxFrameSize)) {
        errors.append(orderError(QStringLiteral("limits/max_queue_bytes"), config.maxOutputQueueBytes,
                                 QStringLiteral("limits/max_frame_size"), config.maxFrameSize,
                                 "; a connection's queue must hold at least one frame"));
    }
    return errors;
}

} // namespace Kennel::Config
