#include "monitorsection.h"

#include "brokersection.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSettings>

#include <pwd.h>
#include <unistd.h>

#include <iterator>

namespace Kennel::Config {

namespace {

const QString KeyListen = QStringLiteral("listen");
const QString KeyTls = QStringLiteral("tls");
const QString KeyCertificate = QStringLiteral("certificate");
const QString KeyPrivateKey = QStringLiteral("private_key");
const QString KeyToken = QStringLiteral("token");
const QString KeyTokenFile = QStringLiteral("token_file");
const QString KeyAllowLocalPeers = QStringLiteral("allow_local_peers");
// Roles.
const QString KeyReadOnlyToken = QStringLiteral("read_only_token");
const QString KeyReadOnlyTokenFile = QStringLiteral("read_only_token_file");
const QString KeyOperatorUids = QStringLiteral("operator_uids");
const QString KeyReadOnlyUids = QStringLiteral("read_only_uids");

const NumericKey monitorTable[] = {
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
    // Admission that cannot be starved.
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
    // Topics (PROTOCOL §6.8).
    {"monitor", "topics_per_record", nullptr, nullptr, nullptr, ValueKind::Count, 0, 10000,
     [](const BrokerConfig &c) -> qint64 { return c.monitor.topicsPerRecord; },
     [](BrokerConfig &c, qint64 v) { c.monitor.topicsPerRecord = int(v); }},
};

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

// A token key: the token is a secret, so errors say what is wrong with it, never what it is.
void readMonitorToken(const QSettings &settings, const QString &name, QByteArray *out, Pass &pass)
{
    const QString tokenKey = monitorKey(name);
    if (!settings.contains(tokenKey))
        return;
    // Not singleValue(): its errors quote the value.
    const std::optional<QStringList> items = valueItems(settings.value(tokenKey));
    if (!items || items->size() != 1) {
        pass.errors.append(tokenKey + (items ? QStringLiteral(": reads as a list; quote a token that contains a comma")
                                             : QStringLiteral(": not a plain value")));
        pass.monitorSuspect = true;
    } else if (items->constFirst().trimmed().isEmpty()) {
        out->clear();
    } else {
        const QByteArray token = items->constFirst().trimmed().toUtf8();
        const QString why = MonitorToken::check(token);
        if (why.isEmpty()) {
            *out = token;
        } else {
            pass.errors.append(tokenKey + QStringLiteral(": ") + why);
            pass.monitorSuspect = true;
        }
    }
}

// A list of users: uids, or names looked up when the configuration is read. Empty: unset (the
// key's default); "none": an empty list.
void readMonitorUids(const QSettings &settings, const QString &name, std::optional<QList<uint>> *out, Pass &pass)
{
    const QString key = monitorKey(name);
    if (!settings.contains(key))
        return;
    const std::optional<QStringList> items = valueItems(settings.value(key));
    if (!items) {
        pass.errors.append(key + QStringLiteral(": not a plain value"));
        pass.monitorSuspect = true;
        return;
    }
    if (items->size() == 1 && items->constFirst().trimmed().isEmpty()) {
        out->reset();
        return;
    }
    if (items->size() == 1 && items->constFirst().trimmed() == QLatin1String("none")) {
        *out = QList<uint>();
        return;
    }
    QList<uint> uids;
    for (const QString &raw : *items) {
        const QString item = raw.trimmed();
        if (item.isEmpty())
            continue;
        bool isNumber = false;
        const uint uid = item.toUInt(&isNumber);
        if (isNumber) {
            uids.append(uid);
            continue;
        }
        if (const passwd *pw = ::getpwnam(item.toUtf8().constData())) {
            uids.append(uint(pw->pw_uid));
            continue;
        }
        pass.errors.append(key + QStringLiteral(": ") + quoted(item) + QStringLiteral(" is neither a uid nor a user of this system"));
        pass.monitorSuspect = true;
    }
    *out = uids;
}

// The token a token key or its file gives (the file read as the authenticator reads it); empty
// when neither is set or the file cannot be read (reported elsewhere).
QByteArray effectiveToken(const QByteArray &token, const QString &file)
{
    if (!file.isEmpty()) {
        QString ignored;
        return MonitorToken::readFile(file, &ignored).value_or(QByteArray());
    }
    return token;
}

} // namespace

const QList<NumericKey> &monitorNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(monitorTable), std::end(monitorTable));
    return keys;
}

QStringList monitorKeys()
{
    return QStringList{KeyListen, KeyTls, KeyCertificate, KeyPrivateKey, KeyToken, KeyTokenFile, KeyAllowLocalPeers}
           + QStringList{KeyReadOnlyToken, KeyReadOnlyTokenFile, KeyOperatorUids, KeyReadOnlyUids} // roles
           + numericKeyNames(GroupMonitor);
}

bool isMonitorKey(const NumericKey &key)
{
    return GroupMonitor == QLatin1String(key.group);
}

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

    // Roles: the read-only token is checked like the operator's, and must differ from it (the
    // same secret cannot give two roles); a uid has one role.
    if (!m.readOnlyToken.isEmpty() && !m.readOnlyTokenFile.isEmpty()) {
        errors.append(monitorKey(KeyReadOnlyToken) + QStringLiteral(": set together with ") + monitorKey(KeyReadOnlyTokenFile)
                      + QStringLiteral("; give one of them"));
    } else if (!m.readOnlyTokenFile.isEmpty()) {
        QString why = fileProblem(m.readOnlyTokenFile);
        if (why.isEmpty())
            MonitorToken::readFile(m.readOnlyTokenFile, &why);
        if (!why.isEmpty())
            errors.append(monitorKey(KeyReadOnlyTokenFile) + QStringLiteral(": ") + quoted(m.readOnlyTokenFile) + QStringLiteral(": ") + why);
    }
    if (!m.readOnlyToken.isEmpty() || !m.readOnlyTokenFile.isEmpty()) {
        const QByteArray readOnly = effectiveToken(m.readOnlyToken, m.readOnlyTokenFile);
        if (!readOnly.isEmpty() && readOnly == effectiveToken(m.token, m.tokenFile)) {
            errors.append(monitorKey(KeyReadOnlyToken) + QStringLiteral(": the same token as ") + monitorKey(KeyToken)
                          + QStringLiteral("; a read-only token must differ from the operator token"));
        }
    }
    for (const uint uid : m.readOnlyUids) {
        if (m.operatorUids && m.operatorUids->contains(uid)) {
            errors.append(monitorKey(KeyReadOnlyUids) + QStringLiteral(": uid %1 is also in ").arg(uid) + monitorKey(KeyOperatorUids)
                          + QStringLiteral("; give each uid one role"));
        }
    }

    const bool hasToken = !m.token.isEmpty() || !m.tokenFile.isEmpty() || !m.readOnlyToken.isEmpty() || !m.readOnlyTokenFile.isEmpty();
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

    readMonitorToken(settings, KeyToken, &m.token, pass);

    // Roles.
    readMonitorToken(settings, KeyReadOnlyToken, &m.readOnlyToken, pass);
    readMonitorPath(settings, KeyReadOnlyTokenFile, configDir, &m.readOnlyTokenFile, pass);
    readMonitorUids(settings, KeyOperatorUids, &m.operatorUids, pass);
    std::optional<QList<uint>> readOnlyUids = m.readOnlyUids;
    readMonitorUids(settings, KeyReadOnlyUids, &readOnlyUids, pass);
    m.readOnlyUids = readOnlyUids.value_or(QList<uint>());
}

void applyMonitorFlags(const QCommandLineParser &parser, Pass &pass)
{
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

void validateMonitor(const BrokerConfig &config, QStringList *errors)
{
    if (!config.monitor.listen.isEmpty()) {
        QStringList monitorTexts;
        for (const ListenAddress &address : config.monitor.listen)
            monitorTexts.append(address.toString());
        QList<ListenAddress> ignored;
        parseListenList(monitorTexts, monitorKey(KeyListen), &ignored, errors);
    }
    if (!config.monitor.token.isEmpty()) {
        const QString why = MonitorToken::check(config.monitor.token);
        if (!why.isEmpty())
            errors->append(monitorKey(KeyToken) + QStringLiteral(": ") + why);
    }
    if (!config.monitor.readOnlyToken.isEmpty()) {
        const QString why = MonitorToken::check(config.monitor.readOnlyToken);
        if (!why.isEmpty())
            errors->append(monitorKey(KeyReadOnlyToken) + QStringLiteral(": ") + why);
    }
}

} // namespace Kennel::Config
