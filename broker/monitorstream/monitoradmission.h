// Who gets in as a monitor, before MonitorHub lets a connection subscribe or act
// (docs/SECURITY.md, docs/MONITOR.md): the waiting room of connections that said Hello and are
// not admitted yet (per address, per prefix, all of them; Unix peers in a room of their own),
// the credentials and their guess rate (MonitorAuthenticator), the addresses proven by the right
// token, the services that may not monitor, and the counters of everything refused on the way.
#pragma once

#include "brokerconfig.h"
#include "monitorcodec.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <functional>
#include <memory>

namespace Kennel {

class MonitorAuthenticator;
class MonitorConnection;
class MonitorListener;
class MonitorServiceView;

class MonitorAdmission
{
public:
    // Connections that said Hello as a monitor and are not admitted yet (their credentials are
    // being checked, perhaps slowed down): at most this many, or 4 x max_monitors if larger, for
    // TCP peers; as many again for Unix peers, which never wait behind TCP ones. Per address and
    // per prefix [monitor] max_waiting_per_address / max_waiting_per_prefix apply on top (not to
    // an address proven by the right token recently, which may have max(that cap, max_monitors)
    // and is not held to its prefix's).
    static constexpr int MinPendingMonitors = 16;

    // Refused at the door by the waiting-room caps; refused because their answer did not come
    // within admission_timeout; the authenticator's own counters; the monitor listeners' TLS
    // handshakes refused (per address, per prefix, all full).
    struct Counters
    {
        quint64 refusedPerAddress = 0;
        quint64 refusedPerPrefix = 0;
        quint64 refusedRoomFull = 0;
        quint64 timedOut = 0;
        quint64 guessesRefused = 0;
        quint64 servicesRefused = 0;
        quint64 failures = 0;
        quint64 handshakesRefusedPerAddress = 0;
        quint64 handshakesRefusedPerPrefix = 0;
        quint64 handshakesRefusedFull = 0;
    };

    MonitorAdmission(const MonitorSettings &settings, const MonitorServiceView &services);
    ~MonitorAdmission();

    // Reads the credentials (token file); false with *error if they cannot be had.
    bool loadCredentials(QString *error);
    bool replaceCredentials(const MonitorSettings &settings, QString *error);
    bool tokenFilesChanged(const MonitorSettings &settings) const; // MonitorAuthenticator's
    // Did this address present the right token recently (it skips the per-prefix caps)?
    bool isProven(const QString &address) const;
    // Empty if `connection` may wait for admission beside `connections` (every monitor
    // connection, any state), else why not (and the counter is bumped).
    QString waitingRoomRefusal(const MonitorConnection &connection, const QList<MonitorConnection *> &connections);
    // Checks the token (and, for a Unix peer, whose process it is); calls done(admitted, how,
    // role) later from the event loop, unless `connection` is gone by then.
    using Decided = std::function<void(MonitorConnection *connection, bool admitted, const QString &how, MonitorRole role)>;
    void authenticate(MonitorConnection *connection, const QByteArray &token, Decided done);
    // `connection` did not finish its admission within admission_timeout: counted and logged.
    void noteTimedOut(const MonitorConnection &connection);
    // Ours, the authenticator's and (if there is one) the monitor listener's.
    Counters counters(const MonitorListener *listener) const;
    int pendingLimit() const;

private:
    const MonitorSettings &m_settings;
    const MonitorServiceView &m_services;
    std::unique_ptr<MonitorAuthenticator> m_authenticator;
    Counters m_counters;
};

} // namespace Kennel
