#include "operatorcommands.h"

#include "listingformat.h"
#include "streamformat.h"

#include <unixsignalwatcher.h>

#include <QDateTime>
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QHash>
#include <QSet>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>

namespace KennelCtl {

using namespace Kennel;

namespace {

constexpr int DefaultOneShotTimeoutMs = 5000;

// Flushed per line: a pipeline or a test reading kennelctl sees each line when it happens.
void printLine(FILE *stream, const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stream);
    if (!line.endsWith('\n'))
        std::fputc('\n', stream);
    std::fflush(stream);
}

void report(const QString &text)
{
    printLine(stderr, QByteArrayLiteral("kennelctl: ") + text.toUtf8());
}

// One run: the session, the event loop, the deadline and the signals that end it. Every way out
// goes through finish(), once.
class Run
{
public:
    Run(const OperatorOptions &options, int defaultTimeoutMs)
        : session(options.monitor)
        , m_timeoutMs(options.timeoutMs > 0 ? options.timeoutMs : defaultTimeoutMs)
    {
        QObject::connect(&session, &MonitorSession::ended, &loop, [this](int code, const QString &text) {
            report(text);
            finish(code);
        });
        signalWatcher.watch(SIGINT);
        signalWatcher.watch(SIGTERM);
        // watch and sniff (no default timeout) run until interrupted: that is their normal end. A
        // one-shot command interrupted has not done its work: 128 + the signal, as a shell says.
        const bool streaming = defaultTimeoutMs == 0;
        QObject::connect(&signalWatcher, &UnixSignalWatcher::received, &loop,
                         [this, streaming](int signalNumber) { finish(streaming ? ExitOk : 128 + signalNumber); });
        deadline.setSingleShot(true);
    }

    // onDeadline: what the deadline means for this command (default: a timeout, exit 4).
    int exec(std::optional<MonitorSubscribe> subscribe, std::function<void()> onDeadline = {})
    {
        QObject::connect(&deadline, &QTimer::timeout, &loop, [this, onDeadline] {
            if (onDeadline) {
                onDeadline();
                return;
            }
            report(session.isLive() ? QStringLiteral("timed out after %1 ms").arg(m_timeoutMs)
                                    : QStringLiteral("timed out after %1 ms connecting to %2").arg(m_timeoutMs).arg(session.options().address.toString()));
            finish(ExitTimeout);
        });
        if (m_timeoutMs > 0)
            deadline.start(m_timeoutMs);
        session.start(subscribe);
        if (m_exitCode >= 0)
            return m_exitCode;
        return loop.exec();
    }

    void finish(int code)
    {
        if (m_exitCode >= 0)
            return;
        m_exitCode = code;
        deadline.stop();
        session.finish();
        loop.exit(code);
    }

    bool finished() const { return m_exitCode >= 0; }
    int timeoutMs() const { return m_timeoutMs; }

    QEventLoop loop;
    MonitorSession session;
    UnixSignalWatcher signalWatcher;
    QTimer deadline;

private:
    int m_timeoutMs = 0;
    int m_exitCode = -1;
};

MonitorSubscribe noTraffic()
{
    MonitorSubscribe s;
    s.wantTraffic = false;
    return s;
}

// Collects one snapshot; `done` is called once it is complete.
void collectSnapshot(Run &run, BrokerSnapshot &snapshot, std::function<void()> done)
{
    auto inSnapshot = std::make_shared<bool>(false);
    QObject::connect(&run.session, &MonitorSession::snapshotBegan, &run.loop, [&snapshot, inSnapshot](const MonitorSnapshotBegin &b) {
        snapshot.begin = b;
        snapshot.clients.clear();
        snapshot.services.clear();
        snapshot.held.clear();
        *inSnapshot = true;
    });
    QObject::connect(&run.session, &MonitorSession::held, &run.loop, [&snapshot, inSnapshot](const MonitorHeld &h) {
        if (*inSnapshot)
            snapshot.held.append(h);
    });
    QObject::connect(&run.session, &MonitorSession::clientUpdated, &run.loop, [&snapshot, inSnapshot](const MonitorClient &c) {
        if (*inSnapshot)
            snapshot.clients.append(c);
    });
    QObject::connect(&run.session, &MonitorSession::serviceUpdated, &run.loop, [&snapshot, inSnapshot](const MonitorService &s) {
        if (*inSnapshot)
            snapshot.services.append(s);
    });
    QObject::connect(&run.session, &MonitorSession::snapshotEnded, &run.loop, [&snapshot, &run, inSnapshot, done] {
        if (!*inSnapshot)
            return;
        *inSnapshot = false;
        snapshot.welcomeVersion = run.session.brokerVersion();
        done();
    });
}

} // namespace

int runStatus(const OperatorOptions &options)
{
    Run run(options, DefaultOneShotTimeoutMs);
    BrokerSnapshot snapshot;
    snapshot.address = options.monitor.broker.toString();
    bool haveSnapshot = false;
    bool infoPending = false;
    quint32 infoRequest = 0;
    const auto complete = [&] {
        if (!haveSnapshot || !snapshot.totals || infoPending || run.finished())
            return;
        printLine(stdout, options.json ? statusJson(snapshot) : formatStatus(snapshot));
        run.finish(ExitOk);
    };
    QObject::connect(&run.session, &MonitorSession::live, &run.loop, [&] {
        infoRequest = run.session.requestInfo();
        infoPending = infoRequest != 0;
    });
    QObject::connect(&run.session, &MonitorSession::info, &run.loop, [&](quint32 id, const MonitorBrokerInfo &info) {
        if (id != infoRequest)
            return;
        snapshot.info = info;
        infoPending = false;
        complete();
    });
    // A broker older than the InfoRequest refuses it as an unknown frame: status goes on without.
    QObject::connect(&run.session, &MonitorSession::errorReceived, &run.loop, [&] {
        if (!infoPending)
            return;
        infoPending = false;
        complete();
    });
    collectSnapshot(run, snapshot, [&] {
        haveSnapshot = true;
        complete();
    });
    // Totals come every totals_interval_ms (1 s by default), not with the snapshot: wait for the
    // first, up to the deadline, and say so when it did not come.
    QObject::connect(&run.session, &MonitorSession::totals, &run.loop, [&](const MonitorTotals &t) {
        if (snapshot.totals)
            return;
        snapshot.totals = t;
        complete();
    });
    return run.exec(noTraffic(), [&] {
        if (!haveSnapshot) {
            report(QStringLiteral("timed out after %1 ms waiting for the broker's snapshot").arg(run.timeoutMs()));
            run.finish(ExitTimeout);
            return;
        }
        if (!snapshot.totals)
            report(QStringLiteral("no totals within %1 ms ([monitor] totals_interval_ms is longer); printed without them").arg(run.timeoutMs()));
        printLine(stdout, options.json ? statusJson(snapshot) : formatStatus(snapshot));
        run.finish(ExitOk);
    });
}

int runClients(const OperatorOptions &options)
{
    Run run(options, DefaultOneShotTimeoutMs);
    BrokerSnapshot snapshot;
    collectSnapshot(run, snapshot, [&] {
        printLine(stdout, options.json ? clientsJson(snapshot.clients, snapshot.held)
                                        : formatClients(snapshot.clients, snapshot.held));
        run.finish(ExitOk);
    });
    return run.exec(noTraffic());
}

int runServices(const OperatorOptions &options)
{
    Run run(options, DefaultOneShotTimeoutMs);
    BrokerSnapshot snapshot;
    collectSnapshot(run, snapshot, [&] {
        printLine(stdout, options.json ? servicesJson(snapshot.services) : formatServices(snapshot.services));
        run.finish(ExitOk);
    });
    return run.exec(noTraffic());
}

int runControl(const OperatorOptions &options, MonitorControlAction action, const QByteArray &target)
{
    Run run(options, DefaultOneShotTimeoutMs);
    quint32 requestId = 0;
    QString verb;
    switch (action) {
    case MonitorControlAction::DisconnectClient:
        verb = QStringLiteral("disconnect");
        break;
    case MonitorControlAction::RestartService:
        verb = QStringLiteral("restart");
        break;
    case MonitorControlAction::StopService:
        verb = QStringLiteral("stop");
        break;
    case MonitorControlAction::StartService:
        verb = QStringLiteral("start");
        break;
    default:
        verb = QStringLiteral("control");
        break;
    }
    const QString what = QStringLiteral("%1 %2").arg(verb, QString::fromUtf8(target));
    // No Subscribe: a control needs no stream, and the broker sends none unasked.
    QObject::connect(&run.session, &MonitorSession::live, &run.loop, [&] {
        requestId = run.session.sendControl({action, target, {}});
        if (!requestId) {
            report(QStringLiteral("%1: the request could not be sent").arg(what));
            run.finish(ExitConnectionLost);
        }
    });
    QObject::connect(&run.session, &MonitorSession::controlResult, &run.loop, [&](quint32 id, const MonitorControlResult &result) {
        if (id != requestId)
            return;
        if (result.code == ErrorCode::None) {
            if (options.json)
                printLine(stdout, QJsonDocument(QJsonObject{{QStringLiteral("action"), verb},
                                                            {QStringLiteral("target"), QString::fromUtf8(target)},
                                                            {QStringLiteral("ok"), true},
                                                            {QStringLiteral("text"), result.text}})
                                      .toJson(QJsonDocument::Compact));
            else
                printLine(stdout, (what + QStringLiteral(": ") + (result.text.isEmpty() ? QStringLiteral("done") : result.text)).toUtf8());
            run.finish(ExitOk);
            return;
        }
        report(QStringLiteral("%1 refused: %2%3").arg(what, errorCodeText(result.code),
                                                       result.text.isEmpty() ? QString() : QStringLiteral(": ") + result.text));
        // Roles (PROTOCOL §6.6): not a wrong name or a refused action but a credential that may
        // only watch; its own exit code, so a script tells "use the operator token" from "no such
        // service".
        run.finish(result.code == ErrorCode::ReadOnly ? ExitReadOnly : ExitRefused);
    });
    return run.exec(std::nullopt);
}

int runWatch(const OperatorOptions &options)
{
    Run run(options, 0);
    QHash<quint64, QByteArray> names; // session id -> client name, for ClientGone
    QHash<QString, MonitorService> services;
    bool live = false; // past the snapshot: records are events now
    int printed = 0;
    const auto emitLine = [&](const WatchLine &line) {
        if (run.finished())
            return;
        printLine(stdout, formatWatchLine(line, options.json));
        if (options.count > 0 && ++printed >= options.count)
            run.finish(ExitOk);
    };
    QObject::connect(&run.session, &MonitorSession::snapshotBegan, &run.loop, [&] { live = false; });
    QObject::connect(&run.session, &MonitorSession::snapshotEnded, &run.loop, [&] {
        live = true;
        report(QStringLiteral("watching %1").arg(options.monitor.broker.toString()));
    });
    QObject::connect(&run.session, &MonitorSession::clientUpdated, &run.loop, [&](const MonitorClient &c) {
        const bool known = names.contains(c.sessionId);
        names.insert(c.sessionId, c.name);
        if (live && !known)
            emitLine({c.connectedSinceMs > 0 ? c.connectedSinceMs : QDateTime::currentMSecsSinceEpoch(), QStringLiteral("joined"),
                      QString::fromUtf8(c.name), c.pid, clientKindName(c.kind) + QStringLiteral(" from ") + c.peerAddress});
    });
    QObject::connect(&run.session, &MonitorSession::clientGone, &run.loop, [&](const MonitorClientGone &g) {
        const QByteArray name = names.take(g.sessionId);
        if (live)
            emitLine({g.timeMs, QStringLiteral("left"), QString::fromUtf8(name), 0, g.reason});
    });
    QObject::connect(&run.session, &MonitorSession::watchdogEvent, &run.loop, [&](const MonitorWatchdogEvent &e) {
        if (live)
            emitLine({e.timeMs, watchdogEventName(e.kind), QString::fromUtf8(e.name), e.pid, e.detail});
    });
    // What is held for a name changed (PROTOCOL §6.7): "held NAME 3 (1.2 KiB, oldest 400 ms)",
    // "held NAME none" once its queue emptied.
    QObject::connect(&run.session, &MonitorSession::held, &run.loop, [&](const MonitorHeld &h) {
        if (live)
            emitLine({QDateTime::currentMSecsSinceEpoch(), QStringLiteral("held"), QString::fromUtf8(h.name), 0,
                      h.count ? formatHeld(h) : QStringLiteral("none")});
    });
    QObject::connect(&run.session, &MonitorSession::serviceUpdated, &run.loop, [&](const MonitorService &s) {
        const auto previous = services.constFind(s.name);
        const bool changed = previous == services.constEnd() || previous->state != s.state || previous->pid != s.pid
                             || previous->restarts != s.restarts;
        services.insert(s.name, s);
        if (live && changed)
            emitLine({QDateTime::currentMSecsSinceEpoch(), QStringLiteral("service"), s.name, 0, serviceDetail(s)});
    });
    return run.exec(noTraffic(), [&] {
        if (options.count > 0) {
            report(QStringLiteral("timed out after %1 ms with %2 of %3 events").arg(run.timeoutMs()).arg(printed).arg(options.count));
            run.finish(ExitTimeout);
        } else {
            run.finish(ExitOk);
        }
    });
}

int runSniff(const OperatorOptions &options)
{
    Run run(options, 0);
    const QSet<QByteArray> filter(options.names.cbegin(), options.names.cend());
    int printed = 0;
    QObject::connect(&run.session, &MonitorSession::snapshotEnded, &run.loop, [&] {
        report(QStringLiteral("sniffing %1").arg(options.monitor.broker.toString()));
    });
    QObject::connect(&run.session, &MonitorSession::trafficBatch, &run.loop, [&](const QList<MonitorTrafficRecord> &records) {
        for (const MonitorTrafficRecord &r : records) {
            if (run.finished())
                return;
            if (!filter.isEmpty() && !filter.contains(r.source) && !filter.contains(r.target))
                continue;
            printLine(stdout, formatTrafficLine(r, options.json));
            if (options.count > 0 && ++printed >= options.count)
                run.finish(ExitOk);
        }
    });
    QObject::connect(&run.session, &MonitorSession::trafficDropped, &run.loop, [&](const MonitorTrafficDropped &d) {
        // The broker's sampling or a full queue: say how much was missed, on stderr (stdout stays records).
        report(QStringLiteral("%1 traffic records dropped by the broker ([monitor] max_traffic_per_second or its queue)").arg(d.dropped));
    });
    MonitorSubscribe subscribe;
    subscribe.wantTraffic = true;
    return run.exec(subscribe, [&] {
        if (options.count > 0) {
            report(QStringLiteral("timed out after %1 ms with %2 of %3 records").arg(run.timeoutMs()).arg(printed).arg(options.count));
            run.finish(ExitTimeout);
        } else {
            run.finish(ExitOk);
        }
    });
}

} // namespace KennelCtl
