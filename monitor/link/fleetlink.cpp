#include "fleetlink.h"

#include "mqttlink.h"
#include "mqtturl.h"

#include <QCoreApplication>
#include <QFile>
#include <QLoggingCategory>
#include <QSysInfo>

Q_LOGGING_CATEGORY(lcFleetLink, "kennel.monitorapp.fleet.link", QtInfoMsg)

namespace Kennel {

namespace {
const QString BoardPlaceholder = QStringLiteral("{board}");
constexpr qint64 MaxPasswordFileBytes = 4096;
} // namespace

FleetLink::FleetLink(QObject *parent)
    : QObject(parent)
    , m_link(new MqttLink(this))
{
    connect(m_link, &MqttLink::connected, this, [this] {
        qCInfo(lcFleetLink).noquote() << "fleet MQTT broker" << m_settings.url << "connected";
        subscribe();
        setState(State::Connected);
    });
    connect(m_link, &MqttLink::disconnected, this, [this](const QString &why) {
        qCInfo(lcFleetLink).noquote() << "fleet MQTT broker" << m_settings.url << "lost:" << why;
        setState(State::Connecting);
    });
    connect(m_link, &MqttLink::messageReceived, this, &FleetLink::received);
}

FleetLink::~FleetLink() = default;

bool FleetLink::validPrefix(const QString &prefix, QString *error)
{
    if (prefix.count(BoardPlaceholder) != 1) {
        *error = QStringLiteral("the prefix '%1' must hold {board} once").arg(prefix);
        return false;
    }
    if (prefix.contains(QLatin1Char('+')) || prefix.contains(QLatin1Char('#')) || !prefix.endsWith(QLatin1Char('/'))) {
        *error = QStringLiteral("the prefix '%1' must end with '/' and hold no MQTT wildcard (+ #)").arg(prefix);
        return false;
    }
    // The view subscribes with '+' in the place of {board}, and '+' stands for a whole level only.
    const qsizetype at = prefix.indexOf(BoardPlaceholder);
    if ((at > 0 && prefix.at(at - 1) != QLatin1Char('/')) || prefix.mid(at + BoardPlaceholder.size(), 1) != QLatin1String("/")) {
        *error = QStringLiteral("the prefix '%1' must hold {board} as a whole topic level (between '/'s) for the fleet view").arg(prefix);
        return false;
    }
    return true;
}

bool FleetLink::open(const Settings &settings, QString *error)
{
    const MqttUrl url = parseMqttUrl(settings.url, QStringLiteral("--fleet-username and --fleet-password-file"));
    if (!url.ok) {
        *error = url.error;
        return false;
    }
    if (!validPrefix(settings.prefix, error))
        return false;
    MqttLink::Options o;
    if (!settings.passwordFile.isEmpty()) {
        QFile file(settings.passwordFile);
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("password file %1: %2").arg(settings.passwordFile, file.errorString());
            return false;
        }
        if (file.size() > MaxPasswordFileBytes) {
            *error = QStringLiteral("password file %1 is over %2 bytes; not a password file").arg(settings.passwordFile).arg(MaxPasswordFileBytes);
            return false;
        }
        o.password = file.readLine(MaxPasswordFileBytes).trimmed();
    }
    if (!url.tls && (!settings.caFile.isEmpty() || !settings.certFile.isEmpty() || !settings.keyFile.isEmpty())) {
        *error = QStringLiteral("a CA file, certificate or key needs an mqtts:// URL");
        return false;
    }
    if (settings.certFile.isEmpty() != settings.keyFile.isEmpty()) {
        *error = QStringLiteral("a client certificate needs its key, and a key its certificate");
        return false;
    }
    close();
    m_settings = settings;
    const qsizetype at = settings.prefix.indexOf(BoardPlaceholder);
    m_head = settings.prefix.left(at).toUtf8();
    m_tail = settings.prefix.mid(at + BoardPlaceholder.size()).toUtf8();
    o.host = url.host;
    o.port = url.port;
    o.tls = url.tls;
    o.clientId = !settings.clientId.isEmpty()
        ? settings.clientId
        : QStringLiteral("kennel-monitor-%1-%2").arg(QSysInfo::machineHostName()).arg(QCoreApplication::applicationPid()).toUtf8().left(64);
    o.cleanSession = true;
    o.keepaliveSeconds = settings.keepaliveSeconds;
    o.username = settings.username.toUtf8();
    o.caFile = settings.caFile;
    o.certFile = settings.certFile;
    o.keyFile = settings.keyFile;
    o.reconnectMin = settings.reconnectMin;
    o.reconnectMax = settings.reconnectMax;
    o.logCategory = lcFleetLink;
    setState(State::Connecting);
    m_link->start(o);
    return true;
}

void FleetLink::close()
{
    m_link->stop();
    setState(State::Disconnected);
}

void FleetLink::subscribe()
{
    for (const char *leaf : {"online", "summary", "events"})
        m_link->subscribe(m_head + '+' + m_tail + leaf);
}

void FleetLink::received(const QByteArray &topic, const QByteArray &payload)
{
    // HEAD BOARD TAIL LEAF, with BOARD one topic level.
    for (const char *leaf : {"online", "summary", "events"}) {
        const QByteArray end = m_tail + leaf;
        if (!topic.startsWith(m_head) || !topic.endsWith(end) || topic.size() <= m_head.size() + end.size())
            continue;
        const QByteArray board = topic.mid(m_head.size(), topic.size() - m_head.size() - end.size());
        if (board.contains('/'))
            continue;
        const QString id = QString::fromUtf8(board);
        if (leaf[0] == 'o')
            Q_EMIT onlineReceived(id, payload);
        else if (leaf[0] == 's')
            Q_EMIT summaryReceived(id, payload);
        else
            Q_EMIT eventReceived(id, payload);
        return;
    }
    ++m_unmatched;
}

void FleetLink::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

QString FleetLink::lastError() const
{
    return m_link->lastError();
}

QString FleetLink::statusText() const
{
    switch (m_state) {
    case State::Disconnected:
        return QStringLiteral("Fleet: not connected");
    case State::Connecting:
        return lastError().isEmpty() ? QStringLiteral("Fleet: connecting to %1").arg(m_settings.url)
                                     : QStringLiteral("Fleet: connecting to %1 (%2)").arg(m_settings.url, lastError());
    case State::Connected:
        return QStringLiteral("Fleet: %1").arg(m_settings.url);
    }
    return {};
}

} // namespace Kennel
