#include "monitoradmission.h"

#include "monitorauthenticator.h"
#include "monitorconnection.h"
#include "monitorlistener.h"
#include "monitorserviceview.h"
#include "service.h"

#include <QLoggingCategory>
#include <QPointer>

#include <algorithm>

namespace Kennel {

namespace {
Q_LOGGING_CATEGORY(lcMonitorAdmission, "kennel.monitor", QtInfoMsg)
} // namespace

MonitorAdmission::MonitorAdmission(const MonitorSettings &settings, const MonitorServiceView &services)
    : m_settings(settings)
    , m_services(services)
    , m_authenticator(std::make_unique<MonitorAuthenticator>(settings))
{
}

MonitorAdmission::~MonitorAdmission() = default;

bool MonitorAdmission::loadCredentials(QString *error)
{
    return m_authenticator->load(error);
}

bool MonitorAdmission::replaceCredentials(const MonitorSettings &settings, QString *error)
{
    return m_authenticator->replaceCredentials(settings, error);
}

bool MonitorAdmission::tokenFilesChanged(const MonitorSettings &settings) const
{
    return m_authenticator->tokenFilesChanged(settings);
}

bool MonitorAdmission::isProven(const QString &address) const
{
    return m_authenticator->isProven(address);
}

QString MonitorAdmission::waitingRoomRefusal(const MonitorConnection &connection, const QList<MonitorConnection *> &connections)
{
    const MonitorConnection::Peer &peer = connection.peer();
    MonitorAuthenticator::Peer who;
    who.address = peer.address;
    who.isUnix = peer.isUnix;
    const QString key = MonitorAuthenticator::throttleKey(who);
    const QString prefix = MonitorAuthenticator::prefixKey(who);
    const bool proven = !peer.isUnix && m_authenticator->isProven(peer.address);
    int room = 0;
    int sameAddress = 0;
    int samePrefix = 0;
    for (const MonitorConnection *other : connections) {
        if (other == &connection || other->peer().isUnix != peer.isUnix)
            continue;
        const MonitorConnection::State state = other->state();
        if (state != MonitorConnection::State::AwaitingHello && state != MonitorConnection::State::Authenticating)
            continue;
        ++room;
        if (peer.isUnix)
            continue;
        MonitorAuthenticator::Peer them;
        them.address = other->peer().address;
        if (MonitorAuthenticator::throttleKey(them) == key)
            ++sameAddress;
        if (!prefix.isEmpty() && MonitorAuthenticator::prefixKey(them) == prefix)
            ++samePrefix;
    }
    // Unix peers have a room of their own: a local operator never waits behind TCP guessers.
    if (peer.isUnix) {
        if (room >= pendingLimit()) {
            ++m_counters.refusedRoomFull;
            return QStringLiteral("%1 monitor connections on Unix sockets are already waiting to be admitted").arg(pendingLimit());
        }
        return {};
    }
    // A proven address (an operator's) may open as many monitors at once as may be admitted.
    const int addressCap = proven ? std::max(m_settings.maxWaitingPerAddress, m_settings.maxMonitors)
                                  : m_settings.maxWaitingPerAddress;
    if (sameAddress >= addressCap) {
        ++m_counters.refusedPerAddress;
        return QStringLiteral("%1 monitor connections from %2 are already waiting to be admitted (max_waiting_per_address)")
            .arg(addressCap).arg(key);
    }
    if (proven)
        return {};
    if (!prefix.isEmpty() && samePrefix >= m_settings.maxWaitingPerPrefix) {
        ++m_counters.refusedPerPrefix;
        return QStringLiteral("%1 monitor connections from %2 are already waiting to be admitted (max_waiting_per_prefix)")
            .arg(m_settings.maxWaitingPerPrefix).arg(prefix);
    }
    if (room >= pendingLimit()) {
        ++m_counters.refusedRoomFull;
        return QStringLiteral("%1 monitor connections are already waiting to be admitted").arg(pendingLimit());
    }
    return {};
}

void MonitorAdmission::authenticate(MonitorConnection *connection, const QByteArray &token, Decided done)
{
    MonitorAuthenticator::Peer peer;
    peer.address = connection->peer().address;
    peer.isUnix = connection->peer().isUnix;
    peer.uid = connection->peer().uid;
    if (peer.isUnix && connection->peer().pid) {
        // Looked up when the Hello is decided, the closest to the act the broker can get.
        if (const Service *service = m_services.serviceOwning(*connection->peer().pid)) {
            peer.service = service->name();
            peer.serviceMayMonitor = service->settings().monitor;
        }
    }
    QPointer<MonitorConnection> guard(connection);
    m_authenticator->authenticate(peer, token, connection,
                                  [guard, done = std::move(done)](bool admitted, const QString &how, MonitorRole role) {
                                      if (guard)
                                          done(guard, admitted, how, role);
                                  });
}

void MonitorAdmission::noteTimedOut(const MonitorConnection &connection)
{
    ++m_counters.timedOut;
    qCWarning(lcMonitorAdmission).noquote() << connection.describe() << "not admitted within"
                                            << m_settings.admissionTimeout.count() << "ms (admission_timeout_ms);"
                                            << m_counters.timedOut << "timed out in all";
}

MonitorAdmission::Counters MonitorAdmission::counters(const MonitorListener *listener) const
{
    Counters counters = m_counters;
    counters.guessesRefused = m_authenticator->guessesRefused();
    counters.servicesRefused = m_authenticator->servicesRefused();
    counters.failures = m_authenticator->failures();
    if (listener) {
        counters.handshakesRefusedPerAddress = listener->refusedPerAddress();
        counters.handshakesRefusedPerPrefix = listener->refusedPerPrefix();
        counters.handshakesRefusedFull = listener->refusedFull();
    }
    return counters;
}

int MonitorAdmission::pendingLimit() const
{
    return std::max(MinPendingMonitors, 4 * m_settings.maxMonitors);
}

} // namespace Kennel
