// MonitorSession: kennelctl's one connection to the broker's privileged monitor stream
// (docs/MONITOR.md, PROTOCOL §6), admitted like kennel-monitor: a Unix-socket peer by its uid, or a
// token (--token-file), over TLS when asked. A FramedConnection that says Hello with role Monitor,
// subscribes once welcomed (when asked to), decodes the records and hands each on as a signal;
// also sends control requests. No reconnect: a command-line run either gets in or says why and
// exits with the code for it (ended()).
#pragma once

#include "commands.h"

#include <brokeraddress.h>
#include <framedconnection.h>
#include <monitorcodec.h>

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>

namespace KennelCtl {

// How kennelctl reaches and is admitted to the monitor stream.
struct MonitorOptions
{
    Kennel::BrokerAddress broker;
    QByteArray token;       // empty: admitted by peer credentials (Unix socket) or not at all
    bool tls = false;
    QString caFile;         // PEM; empty: the system's CAs
    QByteArray pinSha256;   // 32 raw bytes; trust exactly this certificate
    int connectTimeoutMs = 10000;
};

class MonitorSession : public Kennel::FramedConnection
{
    Q_OBJECT

public:
    explicit MonitorSession(const MonitorOptions &options, QObject *parent = nullptr);
    ~MonitorSession() override;

    // Connects; once welcomed, sends `subscribe` if given, then emits live().
    void start(std::optional<Kennel::MonitorSubscribe> subscribe);
    // Bye and close; no signal follows.
    void finish();
    // 0 when not live.
    quint32 sendControl(const Kennel::MonitorControl &control);
    // Asks for the broker's version, pid and listeners (answered by info(); an older broker
    // answers errorReceived(UnknownFrameType)). 0 when not live.
    quint32 requestInfo();

    bool isLive() const { return m_live; }
    QString brokerVersion() const { return m_brokerVersion; }

Q_SIGNALS:
    void live();
    // The session is over: cannot connect (ExitCannotConnect), not admitted (ExitNotAdmitted),
    // no Welcome in time (ExitTimeout), or lost after admission (ExitConnectionLost).
    void ended(int exitCode, const QString &text);
    void snapshotBegan(const Kennel::MonitorSnapshotBegin &snapshot);
    void snapshotEnded();
    void clientUpdated(const Kennel::MonitorClient &client);
    void clientGone(const Kennel::MonitorClientGone &gone);
    void serviceUpdated(const Kennel::MonitorService &service);
    void watchdogEvent(const Kennel::MonitorWatchdogEvent &event);
    void trafficBatch(const QList<Kennel::MonitorTrafficRecord> &records);
    void trafficDropped(const Kennel::MonitorTrafficDropped &dropped);
    void totals(const Kennel::MonitorTotals &totals);
    // What is held for a name (PROTOCOL §6.7): in the snapshot and when it changes; count 0: emptied.
    void held(const Kennel::MonitorHeld &held);
    void controlResult(quint32 requestId, const Kennel::MonitorControlResult &result);
    void info(quint32 requestId, const Kennel::MonitorBrokerInfo &info);
    // An Error frame after admission (a refused request); the connection stays.
    void errorReceived(Kennel::ErrorCode code, const QString &text);

protected:
    void transportReady() override;
    void frameReceived(const Kennel::Frame &frame) override;
    void transportLost(Failure failure, const QString &text) override;

private:
    void handleMonitorFrame(const Kennel::Frame &frame);
    void end(int exitCode, const QString &text);

    MonitorOptions m_options;
    std::optional<Kennel::MonitorSubscribe> m_subscribe;
    QString m_brokerVersion;
    bool m_live = false;
    bool m_ended = false;
};

// "no_such_client (8)"-style name of an ErrorCode, for messages.
QString errorCodeText(Kennel::ErrorCode code);

} // namespace KennelCtl
