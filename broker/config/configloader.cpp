#include "configloader.h"

#include "names.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QSet>
#include <QRegularExpression>
#include <QSettings>
#include <QVariant>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <limits>

namespace Kennel {

namespace {

constexpr qint64 KiB = 1024;
constexpr qint64 MiB = 1024 * KiB;
constexpr qint64 GiB = 1024 * MiB;

// Mirrors Wire::MinFrameSizeLimit (clientlib/protocol/frame.h): every control frame must fit.
// Not included from there so that config stays free of the client library.
constexpr qint64 MinFrameSize = 1024;

// sun_path holds the path and its terminating NUL; a longer path would be silently truncated
// by some APIs and refused by others, so refuse it here with a readable reason.
constexpr int MaxUnixPathBytes = int(sizeof(sockaddr_un{}.sun_path)) - 1;

// Bounds on what one file may declare: far above any real device, low enough that a generated
// or corrupted file cannot make the broker start thousands of processes.
constexpr int MaxServices = 256;
constexpr int MaxServiceArguments = 1024;
constexpr int MaxServiceEnvironment = 1024;
constexpr int MaxActionRules = 1024;

const QString GroupBroker = QStringLiteral("broker");
const QString GroupLimits = QStringLiteral("limits");
const QString GroupLog = QStringLiteral("log");
const QString GroupWatchdog = QStringLiteral("watchdog");
const QString GroupWatchdogActions = QStringLiteral("watchdog.actions");
const QString GroupMonitor = QStringLiteral("monitor");
const QString GroupSupervisor = QStringLiteral("supervisor");
const QString KeyCgroup = QStringLiteral("cgroup");
const QString ServiceGroupPrefix = QStringLiteral("service.");
const QString KeyListen = QStringLiteral("listen");
const QString KeyTraffic = QStringLiteral("traffic");
const QString KeyLogRules = QStringLiteral("rules");
const QString KeyAction = QStringLiteral("action");
const QString KeyClientActions = QStringLiteral("client_actions");
const QString None = QStringLiteral("none");

const QString KeyProgram = QStringLiteral("program");
const QString KeyArguments = QStringLiteral("arguments");
const QString KeyWorkingDirectory = QStringLiteral("working_directory");
const QString KeyEnvironment = QStringLiteral("environment");
const QString KeyRestart = QStringLiteral("restart");
const QString KeyStopSignal = QStringLiteral("stop_signal");
const QString KeyServiceMonitor = QStringLiteral("monitor");

const QString KeyTls = QStringLiteral("tls");
const QString KeyCertificate = QStringLiteral("certificate");
const QString KeyPrivateKey = QStringLiteral("private_key");
const QString KeyToken = QStringLiteral("token");
const QString KeyTokenFile = QStringLiteral("token_file");
const QString KeyAllowLocalPeers = QStringLiteral("allow_local_peers");

const QString OptConfig = QStringLiteral("config");
const QString OptListen = QStringLiteral("listen");
const QString OptLogTraffic = QStringLiteral("log-traffic");
const QString OptCheckConfig = QStringLiteral("check-config");
const QString OptMonitorListen = QStringLiteral("monitor-listen");
const QString OptMonitorTokenFile = QStringLiteral("monitor-token-file");

// MillisOrOff: a duration whose 0 turns the feature off; any other value must be in range.
// BytesOrAuto: a size whose 0 means "derived from the machine at start" (BudgetLedger).
enum class ValueKind { Count, Bytes, Millis, MillisOrOff, BytesOrAuto };

bool isBytes(ValueKind kind)
{
    return kind == ValueKind::Bytes || kind == ValueKind::BytesOrAuto;
}

// One numeric setting, in the file ([group] iniKey) and on the command line (--flag; nullptr:
// file only).
struct NumericKey
{
    const char *group;
    const char *iniKey;
    const char *flag;
    const char *valueName;
    const char *help;
    ValueKind kind;
    qint64 min;
    qint64 max;
    qint64 (*get)(const BrokerConfig &);
    void (*set)(BrokerConfig &, qint64);
};

const NumericKey numericKeys[] = {
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
    // Global budgets (issue 18). The floor is the static one; BudgetLedger also never sets one
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
    {"log", "peer_lines_per_second", "log-peer-lines", "N",
     "Log lines per second one peer address may cause (connection closes); then summed up", ValueKind::Count, 1, 100000,
     [](const BrokerConfig &c) -> qint64 { return c.logLinesPerPeer; },
     [](BrokerConfig &c, qint64 v) { c.logLinesPerPeer = int(v); }},
    // The watchdog's outer bounds are the deadline engine's (Watchdog::MaxInterval, MaxGrace,
    // MaxAllowedMisses): a day, 100000 misses. crossCheck() ties the defaults to min/max.
    {"watchdog", "default_interval_ms", "watchdog-interval", "MS",
     "Watchdog interval for clients that ask for none and for every legacy client", ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.defaultInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.defaultInterval = std::chrono::milliseconds(v); }},
    {"watchdog", "default_allowed_misses", "watchdog-misses", "N",
     "Intervals such a client may miss before it expires", ValueKind::Count, 1, 100000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.defaultAllowedMisses; },
     [](BrokerConfig &c, qint64 v) { c.watchdog.defaultAllowedMisses = int(v); }},
    {"watchdog", "min_interval_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.minInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.minInterval = std::chrono::milliseconds(v); }},
    {"watchdog", "max_interval_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.maxInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.maxInterval = std::chrono::milliseconds(v); }},
    {"watchdog", "max_allowed_misses", nullptr, nullptr, nullptr, ValueKind::Count, 1, 100000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.maxAllowedMisses; },
     [](BrokerConfig &c, qint64 v) { c.watchdog.maxAllowedMisses = int(v); }},
    {"watchdog", "register_grace_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 0, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.registerGrace.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.registerGrace = std::chrono::milliseconds(v); }},
    {"watchdog", "kill_grace_ms", "watchdog-kill-grace", "MS",
     "After SIGTERM to an expired client, time before SIGKILL", ValueKind::Millis, 0, 3600000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.killGrace.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.killGrace = std::chrono::milliseconds(v); }},
    // At least 16, so that the quarter forgotten at the cap is a few names and one pass over the
    // watched names serves several registrations; at most 1M names, a few hundred MB of history
    // (a 64-byte name, its counters and last outcome text): beyond any board, so a value past it
    // is a typo (a digit too many), not a wish.
    {"watchdog", "history_names", nullptr, nullptr, nullptr, ValueKind::Count, 16, 1048576,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.historyNames; },
     [](BrokerConfig &c, qint64 v) { c.watchdog.historyNames = int(v); }},
    // [monitor]: file only. crossCheck() orders the two delays. The monitor's queue is not tied to
    // max_frame_size: the broker builds the monitor's frames itself, all far smaller.
    {"monitor", "max_monitors", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1024,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.maxMonitors; },
     [](BrokerConfig &c, qint64 v) { c.monitor.maxMonitors = int(v); }},
    {"monitor", "failure_delay_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 60000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.failureDelay.count(); },
     [](BrokerConfig &c, qint64 v) { c.monitor.failureDelay = std::chrono::milliseconds(v); }},
    {"monitor", "failure_delay_max_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 3600000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.failureDelayMax.count(); },
     [](BrokerConfig &c, qint64 v) { c.monitor.failureDelayMax = std::chrono::milliseconds(v); }},
    {"monitor", "handshake_timeout_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 100, 600000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.handshakeTimeout.count(); },
     [](BrokerConfig &c, qint64 v) { c.monitor.handshakeTimeout = std::chrono::milliseconds(v); }},
    // Admission that cannot be starved (issue 18).
    {"monitor", "admission_timeout_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 100, 600000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.admissionTimeout.count(); },
     [](BrokerConfig &c, qint64 v) { c.monitor.admissionTimeout = std::chrono::milliseconds(v); }},
    {"monitor", "max_waiting_per_address", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1024,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.maxWaitingPerAddress; },
     [](BrokerConfig &c, qint64 v) { c.monitor.maxWaitingPerAddress = int(v); }},
    {"monitor", "max_waiting_per_prefix", nullptr, nullptr, nullptr, ValueKind::Count, 1, 4096,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.maxWaitingPerPrefix; },
     [](BrokerConfig &c, qint64 v) { c.monitor.maxWaitingPerPrefix = int(v); }},
    {"monitor", "max_token_guesses_per_second", nullptr, nullptr, nullptr, ValueKind::Count, 1, 10000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.maxTokenGuessesPerSecond; },
     [](BrokerConfig &c, qint64 v) { c.monitor.maxTokenGuessesPerSecond = int(v); }},
    {"monitor", "proven_address_ttl_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 0, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.provenAddressTtl.count(); },
     [](BrokerConfig &c, qint64 v) { c.monitor.provenAddressTtl = std::chrono::milliseconds(v); }},
    {"monitor", "max_queue_bytes", nullptr, nullptr, nullptr, ValueKind::Bytes, 64 * KiB, GiB,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.maxQueueBytes; },
     [](BrokerConfig &c, qint64 v) { c.monitor.maxQueueBytes = v; }},
    {"monitor", "total_queue_bytes", nullptr, nullptr, nullptr, ValueKind::BytesOrAuto, 64 * KiB, 64 * GiB,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.totalQueueBytes; },
     [](BrokerConfig &c, qint64 v) { c.monitor.totalQueueBytes = v; }},
    {"monitor", "traffic_preview_bytes", nullptr, nullptr, nullptr, ValueKind::Count, 0, 1024,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.trafficPreviewBytes; },
     [](BrokerConfig &c, qint64 v) { c.monitor.trafficPreviewBytes = int(v); }},
    {"monitor", "max_traffic_per_second", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.maxTrafficPerSecond; },
     [](BrokerConfig &c, qint64 v) { c.monitor.maxTrafficPerSecond = int(v); }},
    {"monitor", "totals_interval_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 100, 3600000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.totalsInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.monitor.totalsInterval = std::chrono::milliseconds(v); }},
};

// The numeric keys of a [service.NAME] group; file only.
struct ServiceNumericKey
{
    const char *iniKey;
    qint64 min;
    qint64 max;
    qint64 (*get)(const ServiceSettings &);
    void (*set)(ServiceSettings &, qint64);
};

// Restart storms are impossible (issue 18): at least MinRestartDelayMs between a failure and the
// next start, a start-limit window of at least MinStartLimitWindowMs, and (checkService) a
// window long enough that start_limit starts of a service failing at once fall inside it.
constexpr qint64 MinRestartDelayMs = 100;
constexpr qint64 MinStartLimitWindowMs = 1000;

const ServiceNumericKey serviceNumericKeys[] = {
    {"restart_delay_ms", MinRestartDelayMs, 3600000, [](const ServiceSettings &s) -> qint64 { return s.restartDelay.count(); },
     [](ServiceSettings &s, qint64 v) { s.restartDelay = std::chrono::milliseconds(v); }},
    {"restart_delay_max_ms", MinRestartDelayMs, 86400000, [](const ServiceSettings &s) -> qint64 { return s.restartDelayMax.count(); },
     [](ServiceSettings &s, qint64 v) { s.restartDelayMax = std::chrono::milliseconds(v); }},
    {"start_limit", 1, 1000, [](const ServiceSettings &s) -> qint64 { return s.startLimit; },
     [](ServiceSettings &s, qint64 v) { s.startLimit = int(v); }},
    {"start_limit_window_ms", MinStartLimitWindowMs, 86400000, [](const ServiceSettings &s) -> qint64 { return s.startLimitWindow.count(); },
     [](ServiceSettings &s, qint64 v) { s.startLimitWindow = std::chrono::milliseconds(v); }},
    {"stop_timeout_ms", 0, 3600000, [](const ServiceSettings &s) -> qint64 { return s.stopTimeout.count(); },
     [](ServiceSettings &s, qint64 v) { s.stopTimeout = std::chrono::milliseconds(v); }},
    {"log_lines_per_second", 1, 100000, [](const ServiceSettings &s) -> qint64 { return s.logLinesPerSecond; },
     [](ServiceSettings &s, qint64 v) { s.logLinesPerSecond = int(v); }},
};

bool isSizeKey(const NumericKey &key)
{
    return GroupLimits == QLatin1String(key.group)
           && (qstrcmp(key.iniKey, "max_frame_size") == 0 || qstrcmp(key.iniKey, "max_queue_bytes") == 0);
}

bool isMonitorKey(const NumericKey &key)
{
    return GroupMonitor == QLatin1String(key.group);
}

QString iniName(const NumericKey &key)
{
    return QLatin1String(key.group) + QLatin1Char('/') + QLatin1String(key.iniKey);
}

bool isWatchdogKey(const NumericKey &key)
{
    return GroupWatchdog == QLatin1String(key.group);
}

QString flagName(const NumericKey &key)
{
    return QStringLiteral("--") + QLatin1String(key.flag);
}

QString quoted(const QString &text)
{
    return QLatin1Char('"') + text + QLatin1Char('"');
}

bool isServiceGroup(const QString &group)
{
    return group.startsWith(ServiceGroupPrefix) && group.size() > ServiceGroupPrefix.size();
}

const QStringList &serviceKeys()
{
    static const QStringList keys = [] {
        QStringList list{KeyProgram, KeyArguments, KeyWorkingDirectory, KeyEnvironment, KeyRestart};
        for (const ServiceNumericKey &key : serviceNumericKeys)
            list.append(QLatin1String(key.iniKey));
        list.insert(list.size() - 2, KeyStopSignal); // before stop_timeout_ms, as documented
        list.append(KeyServiceMonitor);
        return list;
    }();
    return keys;
}

QStringList knownKeysOf(const QString &group)
{
    if (group == GroupBroker)
        return {KeyListen};
    if (group == GroupSupervisor)
        return {KeyCgroup};
    if (group == GroupLimits || group == GroupWatchdog || group == GroupMonitor || group == GroupLog) {
        QStringList keys;
        if (group == GroupLog)
            keys << KeyTraffic << KeyLogRules;
        if (group == GroupMonitor)
            keys << KeyListen << KeyTls << KeyCertificate << KeyPrivateKey << KeyToken << KeyTokenFile << KeyAllowLocalPeers;
        for (const NumericKey &key : numericKeys) {
            if (group == QLatin1String(key.group))
                keys.append(QLatin1String(key.iniKey));
        }
        if (group == GroupWatchdog)
            keys << KeyAction << KeyClientActions;
        return keys;
    }
    return {};
}

// [watchdog.actions] and [service.NAME] are known too, but their keys are checked where they are read.
const QStringList &knownGroups()
{
    static const QStringList groups{GroupBroker, GroupLimits, GroupLog, GroupWatchdog, GroupMonitor,
                                      GroupSupervisor};
    return groups;
}

const QString UnknownGroupHint = QStringLiteral(
    "]: unknown group (known: [broker], [limits], [log], [watchdog], [watchdog.actions], [supervisor], [service.NAME], [monitor])");

bool isAsciiDigits(QStringView text)
{
    return !text.isEmpty()
           && std::all_of(text.begin(), text.end(), [](QChar c) { return c >= QLatin1Char('0') && c <= QLatin1Char('9'); });
}

// Strict: an optional minus (so "-5" can be reported as below the minimum rather than as
// garbage) and decimal digits, nothing else — no "+", no "0x", no thousands separators.
bool parseWhole(const QString &text, qint64 *value)
{
    const QStringView digits = text.startsWith(QLatin1Char('-')) ? QStringView(text).mid(1) : QStringView(text);
    if (!isAsciiDigits(digits))
        return false;
    bool ok = false;
    *value = text.toLongLong(&ok);
    return ok;
}

// A whole number with an optional binary suffix: k/K = KiB, m/M = MiB, g/G = GiB.
bool parseSize(const QString &text, qint64 *value)
{
    qint64 multiplier = 1;
    QString number = text;
    if (!text.isEmpty()) {
        switch (text.back().toLower().unicode()) {
        case 'k': multiplier = KiB; break;
        case 'm': multiplier = MiB; break;
        case 'g': multiplier = GiB; break;
        default: break;
        }
        if (multiplier != 1)
            number.chop(1);
    }
    qint64 n = 0;
    if (!parseWhole(number, &n))
        return false;
    if (n > std::numeric_limits<qint64>::max() / multiplier || n < std::numeric_limits<qint64>::min() / multiplier)
        return false;
    *value = n * multiplier;
    return true;
}

QString describeValue(ValueKind kind, qint64 value)
{
    QString text = QString::number(value);
    if (isBytes(kind) && value >= MiB) {
        if (value % GiB == 0)
            text += QStringLiteral(" (") + QString::number(value / GiB) + QStringLiteral("G)");
        else if (value % MiB == 0)
            text += QStringLiteral(" (") + QString::number(value / MiB) + QStringLiteral("M)");
    }
    return text;
}

// The short form for --help, where "268435456 (256M)" would crowd the line.
QString helpValue(ValueKind kind, qint64 value)
{
    if (isBytes(kind) && value > 0) {
        if (value % GiB == 0)
            return QString::number(value / GiB) + QLatin1Char('G');
        if (value % MiB == 0)
            return QString::number(value / MiB) + QLatin1Char('M');
        if (value % KiB == 0)
            return QString::number(value / KiB) + QLatin1Char('k');
    }
    return QString::number(value);
}

QString rangeError(ValueKind kind, qint64 min, qint64 max, const QString &shown, qint64 value)
{
    if ((kind == ValueKind::MillisOrOff || kind == ValueKind::BytesOrAuto) && value == 0)
        return {};
    if (value < min && kind == ValueKind::BytesOrAuto)
        return shown + QStringLiteral(" is below the minimum ") + describeValue(kind, min) + QStringLiteral(" (0 derives it from RAM)");
    if (value < min && kind == ValueKind::MillisOrOff)
        return shown + QStringLiteral(" is below the minimum ") + describeValue(kind, min) + QStringLiteral(" (0 turns it off)");
    if (value < min)
        return shown + QStringLiteral(" is below the minimum ") + describeValue(kind, min);
    if (value > max)
        return shown + QStringLiteral(" is above the maximum ") + describeValue(kind, max);
    return {};
}

QString rangeError(const NumericKey &key, const QString &shown, qint64 value)
{
    return rangeError(key.kind, key.min, key.max, shown, value);
}

bool parseNumeric(const NumericKey &key, const QString &text, qint64 *value, QString *why)
{
    if (isBytes(key.kind)) {
        if (!parseSize(text, value)) {
            *why = quoted(text) + QStringLiteral(" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
            return false;
        }
    } else if (!parseWhole(text, value)) {
        *why = quoted(text) + QStringLiteral(" is not a whole number");
        return false;
    }
    *why = rangeError(key, text, *value);
    return why->isEmpty();
}

bool parseBool(const QString &text, bool *value)
{
    const QString t = text.toLower();
    if (t == QLatin1String("true") || t == QLatin1String("yes") || t == QLatin1String("on") || t == QLatin1String("1")) {
        *value = true;
        return true;
    }
    if (t == QLatin1String("false") || t == QLatin1String("no") || t == QLatin1String("off") || t == QLatin1String("0")) {
        *value = false;
        return true;
    }
    return false;
}

// inet_pton/inet_ntop rather than QHostAddress: config must not pull in QtNetwork, and
// inet_pton is strict (no "127.1", no leading zeros) where a lenient parser would let a typo
// listen somewhere unexpected.
std::optional<QString> canonicalIPv4(const QString &host)
{
    in_addr addr{};
    if (::inet_pton(AF_INET, host.toLatin1().constData(), &addr) != 1)
        return std::nullopt;
    char buffer[INET_ADDRSTRLEN] = {};
    if (!::inet_ntop(AF_INET, &addr, buffer, sizeof buffer))
        return std::nullopt;
    return QString::fromLatin1(buffer);
}

std::optional<QString> canonicalIPv6(const QString &host, QString *error)
{
    QString address = host;
    QString zone;
    const qsizetype percent = host.indexOf(QLatin1Char('%'));
    if (percent >= 0) {
        address = host.left(percent);
        zone = host.mid(percent + 1);
        const bool zoneOk = !zone.isEmpty() && zone.size() < IF_NAMESIZE
                            && std::all_of(zone.begin(), zone.end(), [](QChar c) {
                                   return c.isLetterOrNumber() || c == QLatin1Char('_') || c == QLatin1Char('-')
                                          || c == QLatin1Char('.');
                               });
        if (!zoneOk) {
            *error = QStringLiteral("bad IPv6 zone ") + quoted(zone) + QStringLiteral(" (expected an interface name)");
            return std::nullopt;
        }
    }
    in6_addr addr{};
    if (::inet_pton(AF_INET6, address.toLatin1().constData(), &addr) != 1) {
        *error = quoted(address) + QStringLiteral(" is not an IPv6 address");
        return std::nullopt;
    }
    char buffer[INET6_ADDRSTRLEN] = {};
    if (!::inet_ntop(AF_INET6, &addr, buffer, sizeof buffer)) {
        *error = quoted(address) + QStringLiteral(" is not an IPv6 address");
        return std::nullopt;
    }
    QString canonical = QString::fromLatin1(buffer);
    if (!zone.isEmpty())
        canonical += QLatin1Char('%') + zone;
    return canonical;
}

bool isAscii(const QString &text)
{
    return std::all_of(text.begin(), text.end(), [](QChar c) { return c.unicode() < 0x80; });
}

const QString ExpectedForms = QStringLiteral("expected HOST:PORT, [IPv6]:PORT or unix:PATH");

// Parses every item; a layer's list is taken whole or not at all, so that a half-valid list
// never leaves the broker listening on only some of the places the operator named.
bool parseListenList(const QStringList &items, const QString &label, QList<ListenAddress> *out,
                     QStringList *errors)
{
    QList<ListenAddress> addresses;
    bool ok = true;
    if (items.isEmpty()) {
        errors->append(label + QStringLiteral(": no address given; remove the key to use the defaults"));
        return false;
    }
    for (const QString &item : items) {
        QString why;
        const std::optional<ListenAddress> address = parseListenAddress(item, &why);
        if (!address) {
            errors->append(label + QStringLiteral(": ") + quoted(item.trimmed()) + QStringLiteral(": ") + why);
            ok = false;
            continue;
        }
        if (addresses.contains(*address)) {
            errors->append(label + QStringLiteral(": ") + quoted(item.trimmed()) + QStringLiteral(" is listed twice"));
            ok = false;
            continue;
        }
        addresses.append(*address);
    }
    if (ok)
        *out = addresses;
    return ok;
}

// "<low key>: <value> is below <high key> <value><why>", the one shape of every ordering check.
QString orderError(const QString &lowKey, qint64 low, const QString &highKey, qint64 high, const char *why = "")
{
    return lowKey + QStringLiteral(": ") + QString::number(low) + QStringLiteral(" is below ") + highKey
           + QLatin1Char(' ') + QString::number(high) + QLatin1String(why);
}

QStringList watchdogCrossCheck(const WatchdogSettings &w)
{
    QStringList errors;
    const QString prefix = GroupWatchdog + QLatin1Char('/');
    const auto key = [&prefix](const char *name) -> QString { return prefix + QLatin1String(name); };
    if (w.maxInterval < w.minInterval) {
        errors.append(orderError(key("max_interval_ms"), w.maxInterval.count(), key("min_interval_ms"),
                                 w.minInterval.count()));
    } else if (w.defaultInterval < w.minInterval) {
        errors.append(orderError(key("default_interval_ms"), w.defaultInterval.count(), key("min_interval_ms"),
                                 w.minInterval.count()));
    } else if (w.defaultInterval > w.maxInterval) {
        errors.append(orderError(key("max_interval_ms"), w.maxInterval.count(), key("default_interval_ms"),
                                 w.defaultInterval.count()));
    }
    if (w.maxAllowedMisses < w.defaultAllowedMisses) {
        errors.append(orderError(key("max_allowed_misses"), w.maxAllowedMisses, key("default_allowed_misses"),
                                 w.defaultAllowedMisses));
    }
    return errors;
}

QString monitorKey(const QString &name)
{
    return GroupMonitor + QLatin1Char('/') + name;
}

// A file the broker will read when it starts: there, a regular file, readable. Its content is
// judged where it is used (the listener parses the PEM, the authenticator re-reads the token).
QString fileProblem(const QString &path)
{
    if (!QDir::isAbsolutePath(path))
        return QStringLiteral("is not an absolute path");
    const QFileInfo info(path);
    if (!info.exists())
        return QStringLiteral("no such file");
    if (info.isDir())
        return QStringLiteral("is a directory");
    if (::access(QFile::encodeName(path).constData(), R_OK) != 0)
        return QStringLiteral("cannot read");
    return {};
}

// The [monitor] keys that only make sense together, on the outcome of every layer. Only the
// broker's own listeners are compared with the monitor's: two monitor addresses are checked where
// the list is parsed.
QStringList monitorCrossCheck(const BrokerConfig &config)
{
    QStringList errors;
    const MonitorSettings &m = config.monitor;

    if (m.failureDelayMax < m.failureDelay) {
        errors.append(orderError(monitorKey(QStringLiteral("failure_delay_max_ms")), m.failureDelayMax.count(),
                                 monitorKey(QStringLiteral("failure_delay_ms")), m.failureDelay.count()));
    }

    if (!m.token.isEmpty() && !m.tokenFile.isEmpty()) {
        errors.append(monitorKey(KeyToken) + QStringLiteral(": set together with ") + monitorKey(KeyTokenFile)
                      + QStringLiteral("; give one of them"));
    } else if (!m.tokenFile.isEmpty()) {
        QString why = fileProblem(m.tokenFile);
        if (why.isEmpty()) {
            // The same reading the authenticator does at start, so --check-config catches a
            // token file that is too open or empty.
            MonitorToken::readFile(m.tokenFile, &why);
        }
        if (!why.isEmpty())
            errors.append(monitorKey(KeyTokenFile) + QStringLiteral(": ") + quoted(m.tokenFile) + QStringLiteral(": ") + why);
    }

    const bool hasToken = !m.token.isEmpty() || !m.tokenFile.isEmpty();
    bool hasTcp = false;
    const QList<ListenAddress> brokerListen = config.effectiveListen();
    for (const ListenAddress &address : m.listen) {
        const QString label = monitorKey(KeyListen) + QStringLiteral(": ") + quoted(address.toString());
        const bool isTcp = address.kind == ListenAddress::Kind::Tcp;
        hasTcp = hasTcp || isTcp;
        // Port 0 is a fresh port each time, never a clash.
        if (brokerListen.contains(address) && !(isTcp && address.port == 0)) {
            errors.append(label + QStringLiteral(" is also a broker/listen address; the monitor listener needs one of its own"));
        } else if (isTcp && !hasToken) {
            errors.append(label + QStringLiteral(": no monitor could be admitted there: a TCP peer needs a token (set ")
                          + monitorKey(KeyToken) + QStringLiteral(" or ") + monitorKey(KeyTokenFile) + QLatin1Char(')'));
        } else if (!isTcp && !hasToken && !m.allowLocalPeers) {
            errors.append(label + QStringLiteral(": no monitor could be admitted there: no token, and ")
                          + monitorKey(KeyAllowLocalPeers) + QStringLiteral(" is off"));
        }
    }

    if (m.tls) {
        if (!hasTcp) {
            errors.append(monitorKey(KeyTls) + QStringLiteral(": on, but ") + monitorKey(KeyListen)
                          + QStringLiteral(" has no TCP address (TLS is for the monitor listeners; the client listeners stay plain)"));
        }
        for (const auto &[key, path] : {std::pair{KeyCertificate, m.certificateFile}, std::pair{KeyPrivateKey, m.privateKeyFile}}) {
            if (path.isEmpty()) {
                errors.append(monitorKey(key) + QStringLiteral(": required when ") + monitorKey(KeyTls) + QStringLiteral(" is on"));
                continue;
            }
            const QString why = fileProblem(path);
            if (!why.isEmpty())
                errors.append(monitorKey(key) + QStringLiteral(": ") + quoted(path) + QStringLiteral(": ") + why);
        }
    } else {
        // A certificate without tls most likely means the operator believes the link is encrypted.
        for (const auto &[key, path] : {std::pair{KeyCertificate, m.certificateFile}, std::pair{KeyPrivateKey, m.privateKeyFile}}) {
            if (!path.isEmpty()) {
                errors.append(monitorKey(key) + QStringLiteral(": set, but ") + monitorKey(KeyTls)
                              + QStringLiteral(" is off; turn tls on or remove the key"));
            }
        }
    }
    return errors;
}

QStringList crossCheck(const BrokerConfig &config, bool sizesSuspect, bool watchdogSuspect, bool monitorSuspect)
{
    QStringList errors;
    if (!sizesSuspect && config.maxOutputQueueBytes < qint64(config.maxFrameSize)) {
        errors.append(orderError(QStringLiteral("limits/max_queue_bytes"), config.maxOutputQueueBytes,
                                 QStringLiteral("limits/max_frame_size"), config.maxFrameSize,
                                 "; a connection's queue must hold at least one frame"));
    }
    if (!watchdogSuspect)
        errors += watchdogCrossCheck(config.watchdog);
    if (!monitorSuspect)
        errors += monitorCrossCheck(config);
    return errors;
}

// One run through the layers. sizesSuspect / watchdogSuspect / monitorSuspect: a key of that
// kind failed to parse, so a cross-key check would compare against a value the operator did not
// ask for and only confuse.
struct Pass
{
    BrokerConfig config;
    QStringList errors;
    bool sizesSuspect = false;
    bool watchdogSuspect = false;
    bool monitorSuspect = false;

    ConfigLoader::Result finish()
    {
        errors += crossCheck(config, sizesSuspect, watchdogSuspect, monitorSuspect);
        return {config, errors};
    }
};

// What the raw lines say that QSettings forgets: the order. QSettings hands back groups and keys
// sorted, but services start in file order and the first matching watchdog rule wins.
struct IniLayout
{
    QStringList groups; // in order of their first header
    QStringList keys;   // "group/key" (or "key" outside any group), in order of their first line
};

// QSettings silently skips lines it cannot make sense of, and keeps the last of two equal keys.
// Either is how a typo goes unnoticed, so look at the raw lines first. The rules follow
// QSettings' INI reader: ';' and '#' start a comment line, ';' also ends a value outside quotes,
// a trailing backslash continues a value on the next line.
QStringList scanIniLines(const QByteArray &data, const QString &path, IniLayout *layout)
{
    QStringList errors;
    QString text = QString::fromUtf8(data);
    if (text.startsWith(QChar(0xFEFF)))
        text.remove(0, 1);
    const QStringList lines = text.split(QLatin1Char('\n'));
    QString group;
    QHash<QString, int> firstLine;

    for (qsizetype i = 0; i < lines.size(); ++i) {
        QString line = lines.at(i);
        if (line.endsWith(QLatin1Char('\r')))
            line.chop(1);
        const int lineNo = int(i) + 1;
        const QString where = path + QLatin1Char(':') + QString::number(lineNo) + QStringLiteral(": ");
        const QString t = line.trimmed();
        if (t.isEmpty() || t.startsWith(QLatin1Char(';')) || t.startsWith(QLatin1Char('#')))
            continue;

        if (t.startsWith(QLatin1Char('['))) {
            const qsizetype close = t.indexOf(QLatin1Char(']'));
            const QString rest = close < 0 ? QString() : t.mid(close + 1).trimmed();
            if (close < 0 || !(rest.isEmpty() || rest.startsWith(QLatin1Char(';')))) {
                errors.append(where + quoted(t) + QStringLiteral(" is not a group header; expected [name]"));
                group.clear();
                continue;
            }
            group = t.mid(1, close - 1).trimmed();
            if (group == QLatin1String("General")) // QSettings' name for "no group"
                group.clear();
            if (!group.isEmpty() && !layout->groups.contains(group))
                layout->groups.append(group);
            continue;
        }

        const qsizetype equals = t.indexOf(QLatin1Char('='));
        if (equals < 0) {
            errors.append(where + quoted(t) + QStringLiteral(" is not \"key = value\", \"[group]\" or a comment"));
            continue;
        }
        const QString key = t.left(equals).trimmed();
        if (key.isEmpty()) {
            errors.append(where + QStringLiteral("no key name before '='"));
        } else {
            const QString fullKey = group.isEmpty() ? key : group + QLatin1Char('/') + key;
            const auto seen = firstLine.constFind(fullKey);
            if (seen != firstLine.constEnd()) {
                errors.append(where + fullKey + QStringLiteral(" is set again (first on line ")
                              + QString::number(*seen) + QStringLiteral("); give each key once"));
            } else {
                firstLine.insert(fullKey, lineNo);
                layout->keys.append(fullKey);
            }
        }
        while (line.endsWith(QLatin1Char('\\')) && i + 1 < lines.size()) {
            line = lines.at(++i);
            if (line.endsWith(QLatin1Char('\r')))
                line.chop(1);
        }
    }
    return errors;
}

// QSettings hands back a QString for "a", a QStringList for "a, b"; anything else (an
// "@Variant(...)" blob) is nothing a person would write into a broker config.
std::optional<QStringList> valueItems(const QVariant &value)
{
    if (value.typeId() == QMetaType::QString)
        return QStringList{value.toString()};
    if (value.typeId() == QMetaType::QStringList)
        return value.toStringList();
    return std::nullopt;
}

// A scalar key: one item, or an error naming the key.
std::optional<QString> singleValue(const QSettings &settings, const QString &key, QStringList *errors)
{
    const std::optional<QStringList> items = valueItems(settings.value(key));
    if (!items) {
        errors->append(key + QStringLiteral(": not a plain value"));
        return std::nullopt;
    }
    if (items->size() != 1) {
        // Most often "1,000": QSettings reads commas as a list separator.
        errors->append(key + QStringLiteral(": ") + quoted(items->join(QStringLiteral(", ")))
                       + QStringLiteral(" is a list; expected a single value (no commas)"));
        return std::nullopt;
    }
    return items->constFirst().trimmed();
}

void checkKeyNames(const QSettings &settings, QStringList *errors)
{
    QStringList unknownGroups;
    for (const QString &key : settings.allKeys()) {
        const qsizetype slash = key.indexOf(QLatin1Char('/'));
        if (slash < 0) {
            QString hint;
            // The first group that has it: "listen" is [broker]'s before it is [monitor]'s.
            for (const QString &group : knownGroups()) {
                if (knownKeysOf(group).contains(key)) {
                    hint = QStringLiteral(" (it belongs in [") + group + QStringLiteral("])");
                    break;
                }
            }
            errors->append(key + QStringLiteral(": key outside any [group]") + hint);
            continue;
        }
        const QString group = key.left(slash);
        const QString name = key.mid(slash + 1);
        // Its keys are name patterns, checked as they are read.
        if (group == GroupWatchdogActions)
            continue;
        if (isServiceGroup(group)) {
            if (!serviceKeys().contains(name)) {
                errors->append(key + QStringLiteral(": unknown key (keys in [service.NAME]: ")
                               + serviceKeys().join(QStringLiteral(", ")) + QLatin1Char(')'));
            }
            continue;
        }
        if (!knownGroups().contains(group)) {
            if (!unknownGroups.contains(group))
                unknownGroups.append(group);
            continue;
        }
        const QStringList known = knownKeysOf(group);
        if (!known.contains(name)) {
            errors->append(key + QStringLiteral(": unknown key (keys in [") + group + QStringLiteral("]: ")
                           + known.join(QStringLiteral(", ")) + QLatin1Char(')'));
        }
    }
    for (const QString &group : std::as_const(unknownGroups))
        errors->append(QLatin1Char('[') + group + UnknownGroupHint);
}

std::optional<WatchdogAction> actionValue(const QString &key, const QString &text, QStringList *errors)
{
    const std::optional<WatchdogAction> action = parseWatchdogAction(text);
    if (!action) {
        errors->append(key + QStringLiteral(": ") + quoted(text)
                       + QStringLiteral(" is not an action (terminate, kill, disconnect, notify)"));
    }
    return action;
}

bool isCatchAll(const QString &pattern)
{
    return std::all_of(pattern.begin(), pattern.end(), [](QChar c) { return c == QLatin1Char('*'); });
}

// Pattern checks shared by the file and validate(): a bad pattern, or a rule no name can reach.
QStringList checkActionRules(const QList<WatchdogActionRule> &rules)
{
    QStringList errors;
    const QString prefix = GroupWatchdogActions + QLatin1Char('/');
    if (rules.size() > MaxActionRules) {
        errors.append(QLatin1Char('[') + GroupWatchdogActions + QStringLiteral("]: ") + QString::number(rules.size())
                      + QStringLiteral(" rules; at most ") + QString::number(MaxActionRules));
    }
    QString catchAll;
    for (const WatchdogActionRule &rule : rules) {
        const QString key = prefix + rule.namePattern;
        if (!WatchdogActionRule::isValidPattern(rule.namePattern)) {
            errors.append(key + QStringLiteral(": ") + quoted(rule.namePattern)
                          + QStringLiteral(" is not a client name pattern (1..")
                          + QString::number(WatchdogActionRule::MaxPatternLength)
                          + QStringLiteral(" characters of A-Z a-z 0-9 . _ - and the wildcards * and ?)"));
            continue;
        }
        // First match wins, so a rule after a catch-all is dead: most likely the order is wrong.
        if (!catchAll.isEmpty()) {
            errors.append(key + QStringLiteral(": never used: the earlier rule ") + quoted(catchAll)
                          + QStringLiteral(" matches every name"));
            continue;
        }
        if (isCatchAll(rule.namePattern))
            catchAll = rule.namePattern;
    }
    return errors;
}

void applyWatchdog(const QSettings &settings, const IniLayout &layout, Pass &pass)
{
    const QString actionKey = GroupWatchdog + QLatin1Char('/') + KeyAction;
    if (settings.contains(actionKey)) {
        if (const std::optional<QString> text = singleValue(settings, actionKey, &pass.errors)) {
            if (const std::optional<WatchdogAction> action = actionValue(actionKey, *text, &pass.errors))
                pass.config.watchdog.defaultAction = *action;
        }
    }

    // Taken whole or not at all, like listen.
    const QString clientKey = GroupWatchdog + QLatin1Char('/') + KeyClientActions;
    if (settings.contains(clientKey)) {
        const std::optional<QStringList> items = valueItems(settings.value(clientKey));
        if (!items) {
            pass.errors.append(clientKey + QStringLiteral(": not a plain value"));
        } else {
            QStringList names;
            for (const QString &item : *items)
                names.append(item.trimmed());
            QList<WatchdogAction> actions;
            bool ok = true;
            if (names == QStringList{QString()}) {
                pass.errors.append(clientKey + QStringLiteral(": no action given; write \"none\" if clients may not choose"));
                ok = false;
            } else if (names != QStringList{None}) {
                for (const QString &name : std::as_const(names)) {
                    if (name == None) {
                        pass.errors.append(clientKey + QStringLiteral(": \"none\" cannot be combined with actions"));
                        ok = false;
                        continue;
                    }
                    const std::optional<WatchdogAction> action = actionValue(clientKey, name, &pass.errors);
                    if (!action) {
                        ok = false;
                    } else if (actions.contains(*action)) {
                        pass.errors.append(clientKey + QStringLiteral(": ") + quoted(name) + QStringLiteral(" is listed twice"));
                        ok = false;
                    } else {
                        actions.append(*action);
                    }
                }
            }
            if (ok)
                pass.config.watchdog.clientSelectableActions = actions;
        }
    }

    // The rules come in file order from the layout: QSettings would hand them back sorted.
    if (!layout.groups.contains(GroupWatchdogActions))
        return;
    const QString prefix = GroupWatchdogActions + QLatin1Char('/');
    QList<WatchdogActionRule> rules;
    bool ok = true;
    for (const QString &key : layout.keys) {
        if (!key.startsWith(prefix))
            continue;
        WatchdogActionRule rule;
        rule.namePattern = key.mid(prefix.size());
        // A pattern outside the alphabet may not even be the key QSettings stored (it unescapes
        // '%' and '\'); checkActionRules() reports it, so do not look its value up.
        if (WatchdogActionRule::isValidPattern(rule.namePattern)) {
            const std::optional<QString> text = singleValue(settings, key, &pass.errors);
            const std::optional<WatchdogAction> action = text ? actionValue(key, *text, &pass.errors) : std::nullopt;
            if (!action) {
                ok = false;
                continue;
            }
            rule.action = *action;
        }
        rules.append(rule);
    }
    const QStringList ruleErrors = checkActionRules(rules);
    pass.errors += ruleErrors;
    if (ok && ruleErrors.isEmpty())
        pass.config.watchdog.actionRules = rules;
}

QString serviceKey(const QString &serviceName, const QString &key)
{
    return ServiceGroupPrefix + serviceName + QLatin1Char('/') + key;
}

bool isEnvironmentName(QStringView name)
{
    if (name.isEmpty() || (name.front() >= QLatin1Char('0') && name.front() <= QLatin1Char('9')))
        return false;
    return std::all_of(name.begin(), name.end(), [](QChar c) {
        return (c >= QLatin1Char('A') && c <= QLatin1Char('Z')) || (c >= QLatin1Char('a') && c <= QLatin1Char('z'))
               || (c >= QLatin1Char('0') && c <= QLatin1Char('9')) || c == QLatin1Char('_');
    });
}

bool isValidServiceName(const QString &name)
{
    return isAscii(name) && isValidName(QByteArrayView(name.toLatin1()));
}

QString invalidServiceName(const QString &name)
{
    return QStringLiteral("[service.") + name + QStringLiteral("]: ") + quoted(name)
           + QStringLiteral(" is not a valid service name (1..64 characters of A-Z a-z 0-9 . _ -)");
}

// Everything about one service that does not depend on how it was written: used on what the
// file produced (after relative paths were resolved) and by validate() on a config built in code.
// unread: keys whose value could not be read (already reported); their default is not judged.
void checkService(const ServiceSettings &service, QStringList *errors, const QSet<QString> &unread = {})
{
    const QString &name = service.name;
    if (!isValidServiceName(name)) {
        errors->append(invalidServiceName(name));
        return;
    }

    const QString programKey = serviceKey(name, KeyProgram);
    if (unread.contains(KeyProgram)) {
        // reported
    } else if (service.program.isEmpty()) {
        errors->append(programKey + QStringLiteral(": required: the program to run"));
    } else if (!QDir::isAbsolutePath(service.program)) {
        errors->append(programKey + QStringLiteral(": ") + quoted(service.program) + QStringLiteral(" is not an absolute path"));
    } else {
        const QFileInfo info(service.program);
        QString why;
        if (!info.exists())
            why = QStringLiteral("no such file");
        else if (info.isDir())
            why = QStringLiteral("is a directory");
        else if (::access(QFile::encodeName(service.program).constData(), X_OK) != 0)
            why = QStringLiteral("is not executable");
        if (!why.isEmpty())
            errors->append(programKey + QStringLiteral(": ") + quoted(service.program) + QStringLiteral(": ") + why);
    }

    if (!service.workingDirectory.isEmpty()) {
        const QString key = serviceKey(name, KeyWorkingDirectory);
        const QFileInfo info(service.workingDirectory);
        QString why;
        if (!QDir::isAbsolutePath(service.workingDirectory))
            why = QStringLiteral("is not an absolute path");
        else if (!info.exists())
            why = QStringLiteral("no such directory");
        else if (!info.isDir())
            why = QStringLiteral("is not a directory");
        if (!why.isEmpty())
            errors->append(key + QStringLiteral(": ") + quoted(service.workingDirectory) + QStringLiteral(": ") + why);
    }

    const QString argumentsKey = serviceKey(name, KeyArguments);
    if (service.arguments.size() > MaxServiceArguments) {
        errors->append(argumentsKey + QStringLiteral(": ") + QString::number(service.arguments.size())
                       + QStringLiteral(" arguments; at most ") + QString::number(MaxServiceArguments));
    }
    for (const QString &argument : service.arguments) {
        // execve() takes C strings: a NUL would silently cut the argument short.
        if (argument.contains(QChar(0)))
            errors->append(argumentsKey + QStringLiteral(": an argument contains a NUL character"));
    }

    const QString environmentKey = serviceKey(name, KeyEnvironment);
    if (service.environment.size() > MaxServiceEnvironment) {
        errors->append(environmentKey + QStringLiteral(": ") + QString::number(service.environment.size())
                       + QStringLiteral(" variables; at most ") + QString::number(MaxServiceEnvironment));
    }
    QSet<QString> variables;
    for (const QString &entry : service.environment) {
        const qsizetype equals = entry.indexOf(QLatin1Char('='));
        const QString variable = equals < 0 ? entry : entry.left(equals);
        if (equals < 0 || !isEnvironmentName(variable) || entry.contains(QChar(0))) {
            errors->append(environmentKey + QStringLiteral(": ") + quoted(entry)
                           + QStringLiteral(" is not NAME=VALUE (NAME: letters, digits and _, not starting with a digit)"));
        } else if (variables.contains(variable)) {
            errors->append(environmentKey + QStringLiteral(": ") + quoted(variable) + QStringLiteral(" is set twice"));
        } else {
            variables.insert(variable);
        }
    }

    bool delaysOk = !unread.contains(QStringLiteral("restart_delay_ms"))
                    && !unread.contains(QStringLiteral("restart_delay_max_ms"));
    bool allInRange = true;
    for (const ServiceNumericKey &key : serviceNumericKeys) {
        if (unread.contains(QLatin1String(key.iniKey))) {
            allInRange = false;
            continue;
        }
        const qint64 value = key.get(service);
        const QString why = rangeError(ValueKind::Millis, key.min, key.max, QString::number(value), value);
        if (!why.isEmpty()) {
            allInRange = false;
            errors->append(serviceKey(name, QLatin1String(key.iniKey)) + QStringLiteral(": ") + why);
            if (qstrcmp(key.iniKey, "restart_delay_ms") == 0 || qstrcmp(key.iniKey, "restart_delay_max_ms") == 0)
                delaysOk = false;
        }
    }
    if (delaysOk && service.restartDelayMax < service.restartDelay) {
        errors->append(orderError(serviceKey(name, QStringLiteral("restart_delay_max_ms")), service.restartDelayMax.count(),
                                  serviceKey(name, QStringLiteral("restart_delay_ms")), service.restartDelay.count()));
    } else if (allInRange) {
        // The time start_limit starts of a program that fails at once take: the backoff delays
        // between them (doubling from restart_delay, capped at restart_delay_max). If that does
        // not fit in the window the limit can never bite and the service restarts forever.
        qint64 span = 0;
        qint64 delay = service.restartDelay.count();
        for (int i = 1; i < service.startLimit && span < service.startLimitWindow.count(); ++i) {
            span += std::min(delay, qint64(service.restartDelayMax.count()));
            delay = std::min(delay * 2, qint64(service.restartDelayMax.count()));
        }
        if (span >= service.startLimitWindow.count()) {
            errors->append(serviceKey(name, QStringLiteral("start_limit_window_ms")) + QStringLiteral(": ")
                           + QString::number(service.startLimitWindow.count())
                           + QStringLiteral(" is too short: %1 starts of a program that fails at once take at least %2 ms "
                                            "(restart_delay_ms %3, doubling up to restart_delay_max_ms %4), so start_limit "
                                            "would never be reached and the service would restart forever")
                                 .arg(service.startLimit)
                                 .arg(span)
                                 .arg(service.restartDelay.count())
                                 .arg(service.restartDelayMax.count()));
        }
    }

    if (!unread.contains(KeyStopSignal) && (service.stopSignal < 1 || service.stopSignal > SIGRTMAX)) {
        errors->append(serviceKey(name, KeyStopSignal) + QStringLiteral(": ") + QString::number(service.stopSignal)
                       + QStringLiteral(" is not a signal number (1..") + QString::number(SIGRTMAX) + QLatin1Char(')'));
    }
}

// "a, b" -> ["a", "b"]; an empty value -> no items. QSettings has already dropped the quotes
// and the blanks around unquoted items.
std::optional<QStringList> listValue(const QSettings &settings, const QString &key, QStringList *errors)
{
    std::optional<QStringList> items = valueItems(settings.value(key));
    if (!items) {
        errors->append(key + QStringLiteral(": not a plain value"));
        return std::nullopt;
    }
    if (*items == QStringList{QString()})
        items->clear();
    return items;
}

// The syntax of one [service.NAME] group. A key whose value cannot be read is reported, left at
// its default and named in *unread; checkService() judges the rest.
ServiceSettings readService(const QSettings &settings, const QString &name, const QDir &configDir, QStringList *errors,
                            QSet<QString> *unread)
{
    ServiceSettings service;
    service.name = name;

    const QString programKey = serviceKey(name, KeyProgram);
    if (settings.contains(programKey)) {
        if (const std::optional<QString> text = singleValue(settings, programKey, errors)) {
            // No PATH search: what runs on a device must not depend on the environment the
            // broker was started from. Empty stays empty: checkService() says it is required.
            if (!text->isEmpty())
                service.program = QDir::cleanPath(configDir.absoluteFilePath(*text));
        } else {
            unread->insert(KeyProgram);
        }
    }

    const QString argumentsKey = serviceKey(name, KeyArguments);
    if (settings.contains(argumentsKey)) {
        if (const std::optional<QStringList> items = listValue(settings, argumentsKey, errors))
            service.arguments = *items;
        else
            unread->insert(KeyArguments);
    }

    const QString directoryKey = serviceKey(name, KeyWorkingDirectory);
    if (settings.contains(directoryKey)) {
        if (const std::optional<QString> text = singleValue(settings, directoryKey, errors)) {
            if (!text->isEmpty())
                service.workingDirectory = QDir::cleanPath(configDir.absoluteFilePath(*text));
        } else {
            unread->insert(KeyWorkingDirectory);
        }
    }

    const QString environmentKey = serviceKey(name, KeyEnvironment);
    if (settings.contains(environmentKey)) {
        if (const std::optional<QStringList> items = listValue(settings, environmentKey, errors)) {
            for (const QString &item : *items)
                service.environment.append(item.trimmed());
        } else {
            unread->insert(KeyEnvironment);
        }
    }

    const QString restartKey = serviceKey(name, KeyRestart);
    if (settings.contains(restartKey)) {
        const std::optional<QString> text = singleValue(settings, restartKey, errors);
        const std::optional<ServiceSettings::Restart> restart = text ? parseRestartPolicy(*text) : std::nullopt;
        if (restart) {
            service.restart = *restart;
        } else {
            if (text) {
                errors->append(restartKey + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a restart policy (always, on-failure, never)"));
            }
            unread->insert(KeyRestart);
        }
    }

    for (const ServiceNumericKey &key : serviceNumericKeys) {
        const QString fullKey = serviceKey(name, QLatin1String(key.iniKey));
        if (!settings.contains(fullKey))
            continue;
        const std::optional<QString> text = singleValue(settings, fullKey, errors);
        qint64 value = 0;
        if (text && parseWhole(*text, &value)) {
            key.set(service, value);
            continue;
        }
        if (text)
            errors->append(fullKey + QStringLiteral(": ") + quoted(*text) + QStringLiteral(" is not a whole number"));
        unread->insert(QLatin1String(key.iniKey));
    }

    const QString signalKey = serviceKey(name, KeyStopSignal);
    if (settings.contains(signalKey)) {
        const std::optional<QString> text = singleValue(settings, signalKey, errors);
        const std::optional<int> signal = text ? parseSignal(*text) : std::nullopt;
        if (signal) {
            service.stopSignal = *signal;
        } else {
            if (text) {
                errors->append(signalKey + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a signal (TERM, INT, HUP, QUIT, USR1, USR2, KILL or a number 1..")
                               + QString::number(SIGRTMAX) + QStringLiteral(")"));
            }
            unread->insert(KeyStopSignal);
        }
    }

    const QString monitorKeyName = serviceKey(name, KeyServiceMonitor);
    if (settings.contains(monitorKeyName)) {
        const std::optional<QString> text = singleValue(settings, monitorKeyName, errors);
        if (!text || !parseBool(*text, &service.monitor)) {
            if (text) {
                errors->append(monitorKeyName + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
            }
            unread->insert(KeyServiceMonitor);
        }
    }
    return service;
}

// Services in the order of their groups in the file. A file that declares any replaces the
// services of the layer below; a service with an error is left out (and the result is not ok).
void applyServices(const QSettings &settings, const IniLayout &layout, const QDir &configDir, Pass &pass)
{
    QList<ServiceSettings> services;
    bool declared = false;
    for (const QString &group : layout.groups) {
        if (!isServiceGroup(group))
            continue;
        declared = true;
        const QString name = group.mid(ServiceGroupPrefix.size());
        if (!isValidServiceName(name)) {
            pass.errors.append(invalidServiceName(name));
            continue;
        }
        if (services.size() == MaxServices) {
            pass.errors.append(QStringLiteral("[service.") + name + QStringLiteral("]: more than ")
                               + QString::number(MaxServices) + QStringLiteral(" services"));
            break;
        }
        const qsizetype before = pass.errors.size();
        QSet<QString> unread;
        const ServiceSettings service = readService(settings, name, configDir, &pass.errors, &unread);
        checkService(service, &pass.errors, unread);
        if (pass.errors.size() == before)
            services.append(service);
    }
    if (declared)
        pass.config.services = services;
}

// A path key of [monitor]: relative to the file's folder, like a service's program; empty unsets.
void readMonitorPath(const QSettings &settings, const QString &name, const QDir &configDir, QString *out, Pass &pass)
{
    const QString key = monitorKey(name);
    if (!settings.contains(key))
        return;
    if (const std::optional<QString> text = singleValue(settings, key, &pass.errors))
        *out = text->isEmpty() ? QString() : QDir::cleanPath(configDir.absoluteFilePath(*text));
    else
        pass.monitorSuspect = true;
}

void readMonitorBool(const QSettings &settings, const QString &name, bool *out, Pass &pass)
{
    const QString key = monitorKey(name);
    if (!settings.contains(key))
        return;
    const std::optional<QString> text = singleValue(settings, key, &pass.errors);
    if (text && parseBool(*text, out))
        return;
    if (text) {
        pass.errors.append(key + QStringLiteral(": ") + quoted(*text)
                           + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
    }
    pass.monitorSuspect = true;
}

// [monitor] apart from its numeric keys, which the shared table reads.
void applyMonitor(const QSettings &settings, const QDir &configDir, Pass &pass)
{
    MonitorSettings &m = pass.config.monitor;
    const QString listenKey = monitorKey(KeyListen);
    if (settings.contains(listenKey)) {
        if (const std::optional<QStringList> items = valueItems(settings.value(listenKey))) {
            QStringList trimmed;
            for (const QString &item : *items)
                trimmed.append(item.trimmed());
            // Unlike [broker] listen, empty is the default here: no listener of the monitor's own.
            if (trimmed == QStringList{QString()})
                m.listen.clear();
            else if (!parseListenList(trimmed, listenKey, &m.listen, &pass.errors))
                pass.monitorSuspect = true;
        } else {
            pass.errors.append(listenKey + QStringLiteral(": not a plain value"));
            pass.monitorSuspect = true;
        }
    }

    readMonitorBool(settings, KeyTls, &m.tls, pass);
    readMonitorBool(settings, KeyAllowLocalPeers, &m.allowLocalPeers, pass);
    readMonitorPath(settings, KeyCertificate, configDir, &m.certificateFile, pass);
    readMonitorPath(settings, KeyPrivateKey, configDir, &m.privateKeyFile, pass);
    readMonitorPath(settings, KeyTokenFile, configDir, &m.tokenFile, pass);

    // The token is a secret: errors say what is wrong with it, never what it is.
    const QString tokenKey = monitorKey(KeyToken);
    if (settings.contains(tokenKey)) {
        // Not singleValue(): its errors quote the value.
        const std::optional<QStringList> items = valueItems(settings.value(tokenKey));
        if (!items || items->size() != 1) {
            pass.errors.append(tokenKey + (items ? QStringLiteral(": reads as a list; quote a token that contains a comma")
                                                 : QStringLiteral(": not a plain value")));
            pass.monitorSuspect = true;
        } else if (items->constFirst().trimmed().isEmpty()) {
            m.token.clear();
        } else {
            const QByteArray token = items->constFirst().trimmed().toUtf8();
            const QString why = MonitorToken::check(token);
            if (why.isEmpty()) {
                m.token = token;
            } else {
                pass.errors.append(tokenKey + QStringLiteral(": ") + why);
                pass.monitorSuspect = true;
            }
        }
    }
}

// [log] rules: QLoggingCategory filter rules, "CATEGORY[.LEVEL]=true|false", several separated
// by commas (QSettings' list separator; ';' would start a comment). Checked here, so that a typo
// is a config error, not a rule Qt silently ignores.
void applyLogRules(const QSettings &settings, Pass &pass)
{
    const QString key = GroupLog + QLatin1Char('/') + KeyLogRules;
    if (!settings.contains(key))
        return;
    const std::optional<QStringList> items = valueItems(settings.value(key));
    if (!items) {
        pass.errors.append(key + QStringLiteral(": not a plain value"));
        return;
    }
    static const QRegularExpression rule(
        QStringLiteral("^([A-Za-z0-9_*-]+(\\.[A-Za-z0-9_*-]+)*)\\s*=\\s*(true|false)$"));
    QStringList rules;
    for (const QString &item : *items) {
        const QString text = item.trimmed();
        if (text.isEmpty())
            continue;
        if (!rule.match(text).hasMatch()) {
            pass.errors.append(key + QStringLiteral(": ") + quoted(text)
                               + QStringLiteral(" is not a logging rule (CATEGORY[.debug|.info|.warning|.critical]=true|false, "
                                                "e.g. kennel.router.debug=true)"));
            continue;
        }
        rules.append(text);
    }
    pass.config.logRules = rules.join(QLatin1Char('\n'));
}

void applyFileLayer(const QString &path, Pass &pass)
{
    if (path.isEmpty()) {
        pass.errors.append(QStringLiteral("--config: no file name given"));
        return;
    }
    const QFileInfo info(path);
    if (!info.exists()) {
        pass.errors.append(QStringLiteral("config file ") + quoted(path) + QStringLiteral(": no such file"));
        return;
    }
    if (info.isDir()) {
        pass.errors.append(QStringLiteral("config file ") + quoted(path) + QStringLiteral(": is a directory"));
        return;
    }
    // QSettings treats an unreadable file like an empty one; read it ourselves to find out.
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        pass.errors.append(QStringLiteral("config file ") + quoted(path) + QStringLiteral(": cannot read: ")
                           + file.errorString());
        return;
    }
    IniLayout layout;
    const QStringList lineErrors = scanIniLines(file.readAll(), path, &layout);
    pass.errors += lineErrors;

    const QSettings settings(path, QSettings::IniFormat);
    if (settings.status() != QSettings::NoError) {
        if (lineErrors.isEmpty()) {
            pass.errors.append(QStringLiteral("config file ") + quoted(path)
                               + (settings.status() == QSettings::FormatError ? QStringLiteral(": not a valid INI file")
                                                                              : QStringLiteral(": cannot read")));
        }
        return;
    }

    checkKeyNames(settings, &pass.errors);

    const QString listenKey = GroupBroker + QLatin1Char('/') + KeyListen;
    if (settings.contains(listenKey)) {
        if (const std::optional<QStringList> items = valueItems(settings.value(listenKey))) {
            QStringList trimmed;
            for (const QString &item : *items)
                trimmed.append(item.trimmed());
            // "listen =" reads as one empty string; report it as "no address".
            if (trimmed == QStringList{QString()})
                trimmed.clear();
            parseListenList(trimmed, listenKey, &pass.config.listen, &pass.errors);
        } else {
            pass.errors.append(listenKey + QStringLiteral(": not a plain value"));
        }
    }

    for (const NumericKey &key : numericKeys) {
        const QString name = iniName(key);
        if (!settings.contains(name))
            continue;
        const std::optional<QString> text = singleValue(settings, name, &pass.errors);
        qint64 value = 0;
        QString why;
        if (text && parseNumeric(key, *text, &value, &why)) {
            key.set(pass.config, value);
            continue;
        }
        if (text)
            pass.errors.append(name + QStringLiteral(": ") + why);
        if (isSizeKey(key))
            pass.sizesSuspect = true;
        if (isWatchdogKey(key))
            pass.watchdogSuspect = true;
        if (isMonitorKey(key))
            pass.monitorSuspect = true;
    }

    const QString trafficKey = GroupLog + QLatin1Char('/') + KeyTraffic;
    if (settings.contains(trafficKey)) {
        if (const std::optional<QString> text = singleValue(settings, trafficKey, &pass.errors)) {
            if (!parseBool(*text, &pass.config.logTraffic)) {
                pass.errors.append(trafficKey + QStringLiteral(": ") + quoted(*text)
                                   + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
            }
        }
    }

    const QString cgroupKey = GroupSupervisor + QLatin1Char('/') + KeyCgroup;
    if (settings.contains(cgroupKey)) {
        if (const std::optional<QString> text = singleValue(settings, cgroupKey, &pass.errors)) {
            const QString value = text->trimmed().toLower();
            if (value == QLatin1String("auto"))
                pass.config.serviceCgroup = BrokerConfig::ServiceCgroup::Auto;
            else if (value == QLatin1String("off"))
                pass.config.serviceCgroup = BrokerConfig::ServiceCgroup::Off;
            else
                pass.errors.append(cgroupKey + QStringLiteral(": ") + quoted(*text) + QStringLiteral(" is not auto or off"));
        }
    }

    applyLogRules(settings, pass);
    applyWatchdog(settings, layout, pass);
    applyServices(settings, layout, info.absoluteDir(), pass);
    applyMonitor(settings, info.absoluteDir(), pass);
}

void applyFlagLayer(const QCommandLineParser &parser, Pass &pass)
{
    if (parser.isSet(OptListen)) {
        QStringList items;
        for (const QString &value : parser.values(OptListen))
            items.append(value.trimmed());
        parseListenList(items, QStringLiteral("--listen"), &pass.config.listen, &pass.errors);
    }
    for (const NumericKey &key : numericKeys) {
        if (!key.flag)
            continue;
        const QString flag = QLatin1String(key.flag);
        if (!parser.isSet(flag))
            continue;
        const QString text = parser.value(flag).trimmed();
        qint64 value = 0;
        QString why;
        if (parseNumeric(key, text, &value, &why)) {
            key.set(pass.config, value);
        } else {
            pass.errors.append(flagName(key) + QStringLiteral(": ") + why);
            if (isSizeKey(key))
                pass.sizesSuspect = true;
            if (isWatchdogKey(key))
                pass.watchdogSuspect = true;
        }
    }
    if (parser.isSet(OptLogTraffic))
        pass.config.logTraffic = true;

    if (parser.isSet(OptMonitorListen)) {
        QStringList items;
        for (const QString &value : parser.values(OptMonitorListen))
            items.append(value.trimmed());
        if (!parseListenList(items, QStringLiteral("--monitor-listen"), &pass.config.monitor.listen, &pass.errors))
            pass.monitorSuspect = true;
    }
    if (parser.isSet(OptMonitorTokenFile)) {
        const QString path = parser.value(OptMonitorTokenFile).trimmed();
        if (path.isEmpty()) {
            pass.errors.append(QStringLiteral("--monitor-token-file: no file name given"));
            pass.monitorSuspect = true;
        } else {
            // The flag replaces the file's credential, whichever kind it was.
            pass.config.monitor.tokenFile = QFileInfo(path).absoluteFilePath();
            pass.config.monitor.token.clear();
        }
    }
}

} // namespace

std::optional<ListenAddress> parseListenAddress(const QString &input, QString *error)
{
    QString scratch;
    QString &why = error ? *error : scratch;
    why.clear();
    const QString text = input.trimmed();

    if (text.isEmpty()) {
        why = QStringLiteral("empty address; ") + ExpectedForms;
        return std::nullopt;
    }

    ListenAddress address;
    if (text.startsWith(QLatin1String("unix:"), Qt::CaseInsensitive)) {
        address.kind = ListenAddress::Kind::Unix;
        address.path = text.mid(int(qstrlen("unix:")));
        const QString &path = address.path;
        if (path.isEmpty()) {
            why = QStringLiteral("empty Unix socket path");
        } else if (path.contains(QChar(0))) {
            why = QStringLiteral("Unix socket path contains a NUL character");
        } else if (!path.startsWith(QLatin1Char('/')) && !path.startsWith(QLatin1String("./"))
                   && !path.startsWith(QLatin1String("../"))) {
            // A bare "broker.sock" is more likely a mistake than a wish to follow the working
            // directory, so a relative path has to say so.
            why = QStringLiteral("Unix socket path must be absolute (/...) or explicitly relative (./... or ../...)");
        } else if (path.endsWith(QLatin1Char('/'))) {
            why = QStringLiteral("Unix socket path names a directory");
        } else if (QFile::encodeName(path).size() > MaxUnixPathBytes) {
            why = QStringLiteral("Unix socket path is ") + QString::number(QFile::encodeName(path).size())
                  + QStringLiteral(" bytes long; the system limit is ") + QString::number(MaxUnixPathBytes);
        }
        if (!why.isEmpty())
            return std::nullopt;
        return address;
    }

    if (text.contains(QLatin1String("://"))) {
        why = QStringLiteral("not a URL; ") + ExpectedForms;
        return std::nullopt;
    }
    if (!isAscii(text)) {
        why = QStringLiteral("contains characters that cannot appear in an address; ") + ExpectedForms;
        return std::nullopt;
    }

    address.kind = ListenAddress::Kind::Tcp;
    QString host;
    QString portText;
    if (text.startsWith(QLatin1Char('['))) {
        const qsizetype close = text.indexOf(QLatin1Char(']'));
        if (close < 0) {
            why = QStringLiteral("missing ']' after the IPv6 address");
            return std::nullopt;
        }
        const QString rest = text.mid(close + 1);
        if (!rest.startsWith(QLatin1Char(':'))) {
            why = QStringLiteral("missing port after ']'; ") + ExpectedForms;
            return std::nullopt;
        }
        host = text.mid(1, close - 1);
        portText = rest.mid(1);
        if (host.isEmpty()) {
            why = QStringLiteral("empty IPv6 address between brackets");
            return std::nullopt;
        }
        if (canonicalIPv4(host)) {
            why = QStringLiteral("brackets are for IPv6 addresses only; write an IPv4 address as HOST:PORT");
            return std::nullopt;
        }
        const std::optional<QString> canonical = canonicalIPv6(host, &why);
        if (!canonical)
            return std::nullopt;
        address.host = *canonical;
    } else {
        const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
        if (colon < 0) {
            why = QStringLiteral("missing port; ") + ExpectedForms;
            return std::nullopt;
        }
        if (text.indexOf(QLatin1Char(':')) != colon) {
            why = QStringLiteral("an IPv6 address needs brackets, as in [::1]:8000");
            return std::nullopt;
        }
        host = text.left(colon);
        portText = text.mid(colon + 1);
        if (host.isEmpty()) {
            why = QStringLiteral("missing host; use * to listen on every address");
            return std::nullopt;
        }
        if (host == QLatin1String("*")) {
            address.host = host;
        } else if (host.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0) {
            // Fixed rather than resolved: /etc/hosts on a device is not always what one expects,
            // and "localhost" resolving to ::1 only would change who can connect.
            address.host = QStringLiteral("127.0.0.1");
        } else if (const std::optional<QString> canonical = canonicalIPv4(host)) {
            address.host = *canonical;
        } else {
            why = QStringLiteral("host ") + quoted(host)
                  + QStringLiteral(" is not an IP address, \"localhost\" or \"*\" (host names are not resolved)");
            return std::nullopt;
        }
    }

    if (portText.isEmpty()) {
        why = QStringLiteral("missing port; ") + ExpectedForms;
        return std::nullopt;
    }
    if (!isAsciiDigits(portText)) {
        why = QStringLiteral("port ") + quoted(portText) + QStringLiteral(" is not a number");
        return std::nullopt;
    }
    bool ok = false;
    const uint port = portText.toUInt(&ok);
    if (!ok || port > 65535) {
        why = QStringLiteral("port out of range (0..65535)");
        return std::nullopt;
    }
    address.port = quint16(port);
    return address;
}

void ConfigLoader::addOptions(QCommandLineParser &parser)
{
    parser.addOption({OptConfig, QStringLiteral("Read settings from the INI file FILE (docs/CONFIG.md)."),
                      QStringLiteral("FILE")});
    parser.addOption({OptListen,
                      QStringLiteral("Listen on ADDR: HOST:PORT, [IPv6]:PORT or unix:PATH. Repeat for more; "
                                     "replaces the file's list. Default: 127.0.0.1:8000 and a Unix socket."),
                      QStringLiteral("ADDR")});
    const BrokerConfig defaults;
    for (const NumericKey &key : numericKeys) {
        if (!key.flag)
            continue;
        QString range = helpValue(key.kind, key.min) + QStringLiteral("..") + helpValue(key.kind, key.max);
        if (key.kind == ValueKind::MillisOrOff)
            range = QStringLiteral("0 (off) or ") + range;
        if (key.kind == ValueKind::Millis || key.kind == ValueKind::MillisOrOff)
            range += QStringLiteral(" ms");
        if (key.kind == ValueKind::BytesOrAuto)
            range = QStringLiteral("0 (auto) or ") + range;
        if (isBytes(key.kind))
            range += QStringLiteral(", suffix k, M or G");
        const QString help = QLatin1String(key.help) + QStringLiteral(" (") + range + QStringLiteral("; default ")
                             + helpValue(key.kind, key.get(defaults)) + QStringLiteral(").");
        parser.addOption({QLatin1String(key.flag), help, QLatin1String(key.valueName)});
    }
    parser.addOption({OptLogTraffic, QStringLiteral("Log every message the broker routes (verbose).")});
    parser.addOption({OptMonitorListen,
                      QStringLiteral("Listen for monitors only on ADDR (same forms as --listen). Repeat for more; "
                                     "replaces the file's [monitor] list. Default: none."),
                      QStringLiteral("ADDR")});
    parser.addOption({OptMonitorTokenFile,
                      QStringLiteral("Admit monitors that present the token in FILE (mode 600). Replaces the file's "
                                     "[monitor] token or token_file."),
                      QStringLiteral("FILE")});
    parser.addOption({OptCheckConfig,
                      QStringLiteral("Check the configuration and exit: 0 if it is valid, 1 with the errors if not.")});
}

ConfigLoader::Result ConfigLoader::load(const QCommandLineParser &parser)
{
    Pass pass;
    if (parser.isSet(OptConfig))
        applyFileLayer(parser.value(OptConfig), pass);
    applyFlagLayer(parser, pass);
    return pass.finish();
}

ConfigLoader::Result ConfigLoader::loadFile(const QString &path, BrokerConfig base)
{
    Pass pass;
    pass.config = std::move(base);
    applyFileLayer(path, pass);
    return pass.finish();
}

ConfigLoader::Result ConfigLoader::applyFlags(const QCommandLineParser &parser, BrokerConfig base)
{
    Pass pass;
    pass.config = std::move(base);
    applyFlagLayer(parser, pass);
    return pass.finish();
}

QStringList ConfigLoader::validate(const BrokerConfig &config)
{
    QStringList errors;
    QStringList texts;
    for (const ListenAddress &address : config.listen)
        texts.append(address.toString());
    if (!config.listen.isEmpty()) {
        QList<ListenAddress> ignored;
        parseListenList(texts, GroupBroker + QLatin1Char('/') + KeyListen, &ignored, &errors);
    }
    for (const NumericKey &key : numericKeys) {
        const qint64 value = key.get(config);
        const QString why = rangeError(key, QString::number(value), value);
        if (!why.isEmpty())
            errors.append(iniName(key) + QStringLiteral(": ") + why);
    }
    if (!config.monitor.listen.isEmpty()) {
        QStringList monitorTexts;
        for (const ListenAddress &address : config.monitor.listen)
            monitorTexts.append(address.toString());
        QList<ListenAddress> ignored;
        parseListenList(monitorTexts, monitorKey(KeyListen), &ignored, &errors);
    }
    if (!config.monitor.token.isEmpty()) {
        const QString why = MonitorToken::check(config.monitor.token);
        if (!why.isEmpty())
            errors.append(monitorKey(KeyToken) + QStringLiteral(": ") + why);
    }
    errors += checkActionRules(config.watchdog.actionRules);
    errors += crossCheck(config, false, false, false);

    if (config.services.size() > MaxServices) {
        errors.append(QString::number(config.services.size()) + QStringLiteral(" services; at most ")
                      + QString::number(MaxServices));
    }
    QSet<QString> names;
    for (const ServiceSettings &service : config.services) {
        if (names.contains(service.name))
            errors.append(QStringLiteral("[service.") + service.name + QStringLiteral("]: declared twice"));
        names.insert(service.name);
        checkService(service, &errors);
    }
    return errors;
}

bool ConfigLoader::checkConfigRequested(const QCommandLineParser &parser)
{
    return parser.isSet(OptCheckConfig);
}

} // namespace Kennel
