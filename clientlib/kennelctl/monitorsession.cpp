#include "monitorsession.h"

#include <framecodec.h>

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QSslCertificate>
#include <QSslSocket>

// The client library's category: kennelctl's log rules (quiet unless --verbose) cover it too.
Q_LOGGING_CATEGORY(lcCtlMonitor, "kennel.client", QtInfoMsg)

namespace KennelCtl {

using namespace Kennel;

QString errorCodeText(ErrorCode code)
{
    const char *name = errorCodeName(code);
    return QStringLiteral("%1 (%2)").arg(name ? QString::fromLatin1(name) : QStringLiteral("unknown")).arg(int(code));
}

MonitorSession::MonitorSession(const MonitorOptions &options, QObject *parent)
    : FramedConnection(&lcCtlMonitor, parent)
    , m_options(options)
{
}

MonitorSession::~MonitorSession()
{
    shutdownQuietly();
}

void MonitorSession::start(std::optional<MonitorSubscribe> subscribe)
{
    m_subscribe = subscribe;
    FramedConnection::Options &o = this->options();
    o.address = m_options.broker;
    o.tls = m_options.tls && m_options.broker.isTcp();
    o.tlsConfiguration = QSslConfiguration::defaultConfiguration();
    o.tlsConfiguration.setPeerVerifyMode(QSslSocket::VerifyPeer);
    if (o.tls && !m_options.caFile.isEmpty())
        o.tlsConfiguration.setCaCertificates(QSslCertificate::fromPath(m_options.caFile, QSsl::Pem));
    o.pinnedSha256 = m_options.pinSha256;
    o.handshakeTimeout = std::chrono::milliseconds(m_options.connectTimeoutMs);
    o.autoReconnect = false;
    // Traffic batches are some 64 KiB; this is a ceiling against a broken peer.
    o.maxIncomingFrameSize = 16 * 1024 * 1024;
    o.idleTimeout = std::chrono::milliseconds(15000);
    open();
}

void MonitorSession::finish()
{
    m_ended = true;
    shutdownQuietly();
}

quint32 MonitorSession::sendControl(const MonitorControl &control)
{
    if (!m_live)
        return 0;
    const quint32 id = nextMessageId();
    if (!writeFrame(MonitorFrame::Control, id, NoFlags, {}, {}, encodeMonitorControl(control)))
        return 0;
    return id;
}

quint32 MonitorSession::requestInfo()
{
    if (!m_live)
        return 0;
    const quint32 id = nextMessageId();
    if (!writeFrame(MonitorFrame::InfoRequest, id, NoFlags, {}, {}, {}))
        return 0;
    return id;
}

void MonitorSession::transportReady()
{
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.pid = quint32(QCoreApplication::applicationPid());
    hello.token = m_options.token;
    const QByteArray name = QByteArrayLiteral("kennelctl-") + QByteArray::number(QCoreApplication::applicationPid());
    writeFrame(FrameType::Hello, nextMessageId(), NoFlags, name, {}, encodeHello(hello));
}

void MonitorSession::transportLost(Failure failure, const QString &text)
{
    const QString where = m_options.broker.toString();
    if (m_live) {
        end(ExitConnectionLost, QStringLiteral("connection to %1 lost: %2").arg(where, text));
    } else if (failure == Failure::Timeout) {
        end(ExitTimeout, QStringLiteral("no answer from %1 within %2 ms: %3").arg(where).arg(m_options.connectTimeoutMs).arg(text));
    } else if (failure == Failure::RemoteClosed && isTransportUp()) {
        // Closed behind our Hello without an Error: a refusal all the same (e.g. the door shut).
        end(ExitNotAdmitted, QStringLiteral("not admitted as a monitor by %1: the broker closed the connection").arg(where));
    } else {
        end(ExitCannotConnect, QStringLiteral("cannot connect to %1: %2").arg(where, text));
    }
}

void MonitorSession::end(int exitCode, const QString &text)
{
    if (m_ended)
        return;
    m_ended = true;
    m_live = false;
    endConnection(false, false);
    Q_EMIT ended(exitCode, text);
}

void MonitorSession::frameReceived(const Frame &frame)
{
    if (m_ended)
        return;
    const quint8 raw = quint8(frame.type);
    if (raw >= quint8(FrameType::MonitorFirst) && raw <= quint8(FrameType::MonitorLast)) {
        if (m_live)
            handleMonitorFrame(frame);
        return;
    }
    switch (frame.type) {
    case FrameType::Welcome: {
        if (m_live)
            return;
        const std::optional<WelcomePayload> welcome = decodeWelcome(frame.payload);
        if (!welcome) {
            end(ExitCannotConnect, QStringLiteral("malformed Welcome from %1").arg(m_options.broker.toString()));
            return;
        }
        handshakeDone();
        m_brokerVersion = QString::fromUtf8(welcome->brokerVersion);
        if (m_subscribe
            && !writeFrame(MonitorFrame::Subscribe, nextMessageId(), NoFlags, {}, {}, encodeMonitorSubscribe(*m_subscribe)))
            return;
        m_live = true;
        Q_EMIT live();
        return;
    }
    case FrameType::Error: {
        const std::optional<ErrorPayload> error = decodeError(frame.payload);
        const QString text = error ? errorCodeText(error->code) + (error->text.isEmpty() ? QString() : QStringLiteral(": ") + error->text)
                                   : QStringLiteral("malformed Error");
        if (!m_live) {
            // Before Welcome only our Hello is outstanding (PROTOCOL §4.1): this refuses it.
            end(ExitNotAdmitted, QStringLiteral("not admitted as a monitor by %1: %2").arg(m_options.broker.toString(), text));
            return;
        }
        if (error && error->code == ErrorCode::ShuttingDown) {
            end(ExitConnectionLost, QStringLiteral("the broker is shutting down"));
            return;
        }
        qCDebug(lcCtlMonitor).noquote() << "broker reported" << text;
        Q_EMIT errorReceived(error ? error->code : ErrorCode::MalformedFrame, text);
        return;
    }
    case FrameType::Bye:
        end(ExitConnectionLost, QStringLiteral("the broker said Bye"));
        return;
    case FrameType::Ping:
        writeFrame(FrameType::Pong, frame.messageId, NoFlags, {}, {}, frame.payload);
        return;
    default:
        return;
    }
}

void MonitorSession::handleMonitorFrame(const Frame &frame)
{
    // A payload this version cannot read is skipped: a newer broker's record must not end a run.
    switch (quint8(frame.type)) {
    case quint8(MonitorFrame::SnapshotBegin):
        if (auto v = decodeMonitorSnapshotBegin(frame.payload))
            Q_EMIT snapshotBegan(*v);
        return;
    case quint8(MonitorFrame::Client):
        if (auto v = decodeMonitorClient(frame.payload))
            Q_EMIT clientUpdated(*v);
        return;
    case quint8(MonitorFrame::Service):
        if (auto v = decodeMonitorService(frame.payload))
            Q_EMIT serviceUpdated(*v);
        return;
    case quint8(MonitorFrame::SnapshotEnd):
        Q_EMIT snapshotEnded();
        return;
    case quint8(MonitorFrame::ClientGone):
        if (auto v = decodeMonitorClientGone(frame.payload))
            Q_EMIT clientGone(*v);
        return;
    case quint8(MonitorFrame::WatchdogEvent):
        if (auto v = decodeMonitorWatchdogEvent(frame.payload))
            Q_EMIT watchdogEvent(*v);
        return;
    case quint8(MonitorFrame::Traffic):
        if (auto v = decodeMonitorTrafficBatch(frame.payload))
            Q_EMIT trafficBatch(*v);
        return;
    case quint8(MonitorFrame::TrafficDropped):
        if (auto v = decodeMonitorTrafficDropped(frame.payload))
            Q_EMIT trafficDropped(*v);
        return;
    case quint8(MonitorFrame::Totals):
        if (auto v = decodeMonitorTotals(frame.payload))
            Q_EMIT totals(*v);
        return;
    case quint8(MonitorFrame::Held):
        if (auto v = decodeMonitorHeld(frame.payload))
            Q_EMIT held(*v);
        return;
    case quint8(MonitorFrame::ControlResult):
        if (auto v = decodeMonitorControlResult(frame.payload))
            Q_EMIT controlResult(frame.messageId, *v);
        return;
    case quint8(MonitorFrame::Info):
        if (auto v = decodeMonitorBrokerInfo(frame.payload))
            Q_EMIT info(frame.messageId, *v);
        return;
    default:
        return;
    }
}

} // namespace KennelCtl
