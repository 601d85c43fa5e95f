#include "bridgesection.h"

#include "bridgesettings.h"
#include "bridgetopicssection.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QHostAddress>
#include <QRegularExpression>
#include <QSettings>

#include <iterator>

namespace Kennel::Config {

namespace {

const NumericKey bridgeTable[] = {
    {"bridge", "keepalive_s", nullptr, nullptr, nullptr, ValueKind::Count, 5, 3600,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.keepaliveSeconds; },
     [](BrokerConfig &c, qint64 v) { c.bridge.keepaliveSeconds = int(v); }},
    {"bridge", "spool_max_bytes", nullptr, nullptr, nullptr, ValueKind::Bytes, 4096, 64 * GiB,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.spoolMaxBytes; },
     [](BrokerConfig &c, qint64 v) { c.bridge.spoolMaxBytes = v; }},
    {"bridge", "status_timeout_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 100, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.statusTimeout.count(); },
     [](BrokerConfig &c, qint64 v) { c.bridge.statusTimeout = std::chrono::milliseconds(v); }},
    {"bridge", "reconnect_min_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 10, 600000,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.reconnectMin.count(); },
     [](BrokerConfig &c, qint64 v) { c.bridge.reconnectMin = std::chrono::milliseconds(v); }},
    {"bridge", "reconnect_max_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 10, 3600000,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.reconnectMax.count(); },
     [](BrokerConfig &c, qint64 v) { c.bridge.reconnectMax = std::chrono::milliseconds(v); }},
    {"bridge", "summary_interval_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 200, 3600000,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.summaryInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.bridge.summaryInterval = std::chrono::milliseconds(v); }},
    {"bridge", "inflight", nullptr, nullptr, nullptr, ValueKind::Count, 1, 65535,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.inflight; },
     [](BrokerConfig &c, qint64 v) { c.bridge.inflight = int(v); }},
    {"bridge", "dedup_window", nullptr, nullptr, nullptr, ValueKind::Count, 16, 10000000,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.dedupWindow; },
     [](BrokerConfig &c, qint64 v) { c.bridge.dedupWindow = int(v); }},
    // The durable duplicate filter's second bound (broker/bridge/dedupstore.h).
    {"bridge", "dedup_origins", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.dedupOrigins; },
     [](BrokerConfig &c, qint64 v) { c.bridge.dedupOrigins = int(v); }},
};

// The text keys, in the order they are read and listed.
const QString KeyUrl = QStringLiteral("url");
const QString KeyBoard = QStringLiteral("board");
const QString KeyPrefix = QStringLiteral("prefix");
const QString KeyClientId = QStringLiteral("client_id");
const QString KeyUsername = QStringLiteral("username");
const QString KeyPasswordFile = QStringLiteral("password_file");
const QString KeyCaFile = QStringLiteral("ca_file");
const QString KeyCertFile = QStringLiteral("cert_file");
const QString KeyKeyFile = QStringLiteral("key_file");
const QString KeySpoolPath = QStringLiteral("spool_path");
const QString KeySpoolSync = QStringLiteral("spool_sync");
// What the summary advertises as this board's monitor address (a board behind NAT).
const QString KeyMonitorAddress = QStringLiteral("monitor_address");

QString bridgeKey(const QString &key)
{
    return GroupBridge + QLatin1Char('/') + key;
}

// A file key: relative to the config file's directory, as [monitor]'s are.
QString pathIn(const QDir &dir, const QString &value)
{
    return value.isEmpty() ? value : QFileInfo(dir, value).absoluteFilePath();
}

// Empty if `text` is HOST:PORT as another machine can use it: a DNS name, an IPv4 address or a
// [bracketed] IPv6 address, and a port 1 to 65535; else why not.
QString monitorAddressError(const QString &text)
{
    const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
    if (colon <= 0)
        return QStringLiteral("is not HOST:PORT");
    bool ok = false;
    const QString portText = text.mid(colon + 1);
    const int port = portText.toInt(&ok);
    if (!ok || port < 1 || port > 65535 || portText.startsWith(QLatin1Char('+')))
        return QStringLiteral("has no port 1 to 65535 after the last ':'");
    const QString host = text.left(colon);
    if (host.startsWith(QLatin1Char('['))) {
        QHostAddress v6;
        if (!host.endsWith(QLatin1Char(']')) || !v6.setAddress(host.mid(1, host.size() - 2))
            || v6.protocol() != QAbstractSocket::IPv6Protocol)
            return QStringLiteral("has no IPv6 address inside [ ]");
        return {};
    }
    if (host.contains(QLatin1Char(':')))
        return QStringLiteral("has an IPv6 address without [ ] (write [ADDRESS]:PORT)");
    if (host == QLatin1String("0.0.0.0"))
        return QStringLiteral("is a wildcard, not an address another machine can reach");
    // Numeric hosts are names too to the rules below; a dotted quad must be an address.
    static const QRegularExpression quad(QStringLiteral("^[0-9.]+$"));
    if (quad.match(host).hasMatch()) {
        QHostAddress v4;
        if (!v4.setAddress(host) || v4.protocol() != QAbstractSocket::IPv4Protocol)
            return QStringLiteral("has no valid IPv4 address");
        return {};
    }
    static const QRegularExpression name(
        QStringLiteral("^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"));
    if (!name.match(host).hasMatch())
        return QStringLiteral("has no host name (letters, digits, '-' and '.') or address");
    return {};
}

} // namespace

const QList<NumericKey> &bridgeNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(bridgeTable), std::end(bridgeTable));
    return keys;
}

QStringList bridgeKeys()
{
    return QStringList{KeyUrl, KeyBoard, KeyPrefix, KeyClientId, KeyUsername, KeyPasswordFile, KeyCaFile,
                       KeyCertFile, KeyKeyFile, KeySpoolPath, KeySpoolSync, KeyMonitorAddress}
           + bridgeTopicsKeys() + numericKeyNames(GroupBridge);
}

void addBridgeOptions(QCommandLineParser &parser)
{
    parser.addOption({OptBridge,
                      QStringLiteral("Bridge this board to the MQTT broker at URL (mqtt://HOST:PORT or mqtts://HOST:PORT; "
                                     "docs/FLEET.md). Replaces [bridge] url."),
                      QStringLiteral("URL")});
    parser.addOption({OptBoard, QStringLiteral("This board's id on the bridge (1 to 32 of A-Z a-z 0-9 . _ -). "
                                               "Replaces [bridge] board."),
                      QStringLiteral("ID")});
    parser.addOption({OptBridgeSpool, QStringLiteral("The bridge's spool file. Replaces [bridge] spool_path."),
                      QStringLiteral("PATH")});
    parser.addOption({OptBridgeMonitorAddress,
                      QStringLiteral("The monitor address this board's summary advertises (HOST:PORT, e.g. a port "
                                     "forward to it). Replaces [bridge] monitor_address."),
                      QStringLiteral("HOST:PORT")});
}

void applyBridge(const QSettings &settings, const QDir &configDir, Pass &pass)
{
    BridgeSettings &b = pass.config.bridge;
    auto text = [&](const QString &key, QString *out, bool isPath) {
        const QString name = bridgeKey(key);
        if (!settings.contains(name))
            return;
        if (const std::optional<QString> value = singleValue(settings, name, &pass.errors))
            *out = isPath ? pathIn(configDir, value->trimmed()) : value->trimmed();
    };
    text(KeyUrl, &b.url, false);
    QString board = QString::fromLatin1(b.board);
    text(KeyBoard, &board, false);
    b.board = board.toLatin1();
    text(KeyPrefix, &b.prefix, false);
    text(KeyClientId, &b.clientId, false);
    text(KeyUsername, &b.username, false);
    text(KeyPasswordFile, &b.passwordFile, true);
    text(KeyCaFile, &b.caFile, true);
    text(KeyCertFile, &b.certFile, true);
    text(KeyKeyFile, &b.keyFile, true);
    text(KeySpoolPath, &b.spoolPath, true);
    text(KeyMonitorAddress, &b.monitorAddress, false);
    QString sync;
    text(KeySpoolSync, &sync, false);
    if (!sync.isEmpty()) {
        if (sync == QLatin1String("normal"))
            b.spoolSyncFull = false;
        else if (sync == QLatin1String("full"))
            b.spoolSyncFull = true;
        else
            pass.errors.append(bridgeKey(KeySpoolSync) + QStringLiteral(": ") + quoted(sync)
                               + QStringLiteral(" is not normal or full"));
    }
}

void applyBridgeFlags(const QCommandLineParser &parser, Pass &pass)
{
    if (parser.isSet(OptBridge))
        pass.config.bridge.url = parser.value(OptBridge).trimmed();
    if (parser.isSet(OptBoard))
        pass.config.bridge.board = parser.value(OptBoard).trimmed().toLatin1();
    if (parser.isSet(OptBridgeSpool))
        pass.config.bridge.spoolPath = QFileInfo(parser.value(OptBridgeSpool).trimmed()).absoluteFilePath();
    if (parser.isSet(OptBridgeMonitorAddress))
        pass.config.bridge.monitorAddress = parser.value(OptBridgeMonitorAddress).trimmed();
}

QStringList bridgeCrossCheck(const BrokerConfig &config)
{
    QStringList errors;
    const BridgeSettings &b = config.bridge;
    if (!b.enabled()) {
        if (!b.board.isEmpty())
            errors.append(QStringLiteral("[bridge] board (--board) is set but url (--bridge) is not"));
        return errors;
    }
    const BridgeUrl url = parseBridgeUrl(b.url);
    if (!url.ok)
        errors.append(QStringLiteral("[bridge] url (--bridge): ") + url.error);
    if (b.board.isEmpty())
        errors.append(QStringLiteral("[bridge] board (--board): a bridged broker needs its board id"));
    else if (!isValidBoard(b.board))
        errors.append(QStringLiteral("[bridge] board (--board): ") + quoted(QString::fromLatin1(b.board))
                      + QStringLiteral(" is not a board id (1 to %1 of A-Z a-z 0-9 . _ -)").arg(MaxBoardLength));
    if (b.prefix.count(QLatin1String("{board}")) != 1 || b.prefix.contains(QLatin1Char('+'))
        || b.prefix.contains(QLatin1Char('#')) || !b.prefix.endsWith(QLatin1Char('/')))
        errors.append(QStringLiteral("[bridge] prefix: ") + quoted(b.prefix)
                      + QStringLiteral(" must hold {board} once, end with '/' and have no + or #"));
    if (b.reconnectMin > b.reconnectMax)
        errors.append(QStringLiteral("[bridge] reconnect_min_ms (%1) is above reconnect_max_ms (%2)")
                          .arg(b.reconnectMin.count())
                          .arg(b.reconnectMax.count()));
    if (url.ok && !url.tls && (!b.caFile.isEmpty() || !b.certFile.isEmpty() || !b.keyFile.isEmpty()))
        errors.append(QStringLiteral("[bridge] ca_file, cert_file and key_file are for mqtts:// URLs"));
    if (b.certFile.isEmpty() != b.keyFile.isEmpty())
        errors.append(QStringLiteral("[bridge] cert_file and key_file go together"));
    for (const QString *path : {&b.passwordFile, &b.caFile, &b.certFile, &b.keyFile}) {
        if (!path->isEmpty() && !QFileInfo(*path).isReadable())
            errors.append(QStringLiteral("[bridge] ") + quoted(*path) + QStringLiteral(": cannot read"));
    }
    if (!b.passwordFile.isEmpty() && b.username.isEmpty())
        errors.append(QStringLiteral("[bridge] password_file needs username"));
    if (!b.monitorAddress.isEmpty()) {
        const QString why = monitorAddressError(b.monitorAddress);
        if (!why.isEmpty())
            errors.append(QStringLiteral("[bridge] monitor_address (--bridge-monitor-address): ") + quoted(b.monitorAddress)
                          + QStringLiteral(" ") + why);
    }
    return errors;
}

} // namespace Kennel::Config
