#include "monitorlink.h"

#include "names.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslSocket>

#include <algorithm>
#include <utility>

// Info: connections made and lost. Debug: attempts and every frame type received
// (QT_LOGGING_RULES="kennel.monitorapp.link.debug=true").
Q_LOGGING_CATEGORY(lcMonitorLink, "kennel.monitorapp.link", QtInfoMsg)

namespace Kennel {

namespace {

using namespace std::chrono_literals;

// Control requests carry short texts; a multi-megabyte "test message" is a slip of the mouse.
constexpr qsizetype MaxControlText = 64 * 1024;
// Malformed monitor payloads are logged, but a broken broker must not flood the log.
constexpr quint64 MalformedLogLimit = 20;

QString latin1(const char *text)
{
    return text ? QString::fromLatin1(text) : QStringLiteral("unknown");
}

QString describeError(ErrorCode code, const QString &text)
{
    QString result = QStringLiteral("%1 (%2)").arg(latin1(errorCodeName(code))).arg(int(code));
    if (!text.isEmpty())
        result += QStringLiteral(": ") + text;
    return result;
}

} // namespace

MonitorLink::MonitorLink(QObject *parent)
    : FramedConnection(&lcMonitorLink, parent)
{
}

MonitorLink::~MonitorLink()
{
    // No signals from a half-destroyed object: retire the transport quietly.
    shutdownQuietly();
}

void MonitorLink::setSettings(const Settings &settings)
{
    m_settings = settings;
}

QString MonitorLink::stateName(State state)
{
    switch (state) {
    case State::Disconnected:
        return QStringLiteral("Disconnected");
    case State::Connecting:
        return QStringLiteral("Connecting");
    case State::Encrypting:
        return QStringLiteral("Encrypting");
    case State::Authenticating:
        return QStringLiteral("Authenticating");
    case State::Live:
        return QStringLiteral("Live");
    case State::Reconnecting:
        return QStringLiteral("Reconnecting");
    }
    return QString();
}

QString MonitorLink::statusText() const
{
    switch (m_state) {
    case State::Disconnected:
        return m_lastError.isEmpty() ? QStringLiteral("Disconnected")
                                     : QStringLiteral("Disconnected: %1").arg(m_lastError);
    case State::Connecting:
        return QStringLiteral("Connecting to %1…").arg(peerText());
    case State::Encrypting:
        return QStringLiteral("Encrypting (TLS) with %1…").arg(peerText());
    case State::Authenticating:
        return QStringLiteral("Authenticating with %1…").arg(peerText());
    case State::Live: {
        QString text = QStringLiteral("Live: %1").arg(peerText());
        if (!m_brokerVersion.isEmpty())
            text += QStringLiteral(", broker %1").arg(m_brokerVersion);
        if (!m_monitorIdentity.isEmpty())
            text += QStringLiteral(", admitted by %1").arg(m_monitorIdentity);
        if (m_settings.tls && !m_settings.address.isUnix())
            text += QStringLiteral(", TLS");
        return text;
    }
    case State::Reconnecting: {
        const qint64 seconds = (std::max<qint64>(msUntilReconnect(), 0) + 999) / 1000;
        QString text = QStringLiteral("Reconnecting to %1 in %2 s").arg(peerText()).arg(seconds);
        if (!m_lastError.isEmpty())
            text += QStringLiteral(" (%1)").arg(m_lastError);
        return text;
    }
    }
    return QString();
}

qint64 MonitorLink::msUntilReconnect() const
{
    if (m_state != State::Reconnecting)
        return -1;
    return FramedConnection::msUntilReconnect();
}

void MonitorLink::open()
{
    if (m_state != State::Disconnected && m_state != State::Reconnecting) {
        qCDebug(lcMonitorLink) << "open() ignored: already" << m_state;
        return;
    }
    auto refuse = [this](const QString &text) {
        qCWarning(lcMonitorLink).noquote() << "cannot connect:" << text;
        m_lastError = text;
        stopRetrying();
        if (m_state == State::Disconnected)
            Q_EMIT stateChanged(m_state); // the state stays, the reason is new
        else
            setState(State::Disconnected);
    };
    if (!pendingTransport() && !isUsable(m_settings.address)) {
        refuse(m_settings.address.isValid()
                   ? QStringLiteral("cannot connect to port 0 (%1)").arg(m_settings.address.toString())
                   : QStringLiteral("no broker address set"));
        return;
    }
    if (!m_settings.name.isEmpty() && !isValidName(m_settings.name)) {
        refuse(QStringLiteral("\"%1\" is not a valid monitor name (1..64 of [A-Za-z0-9._-])")
                   .arg(QString::fromUtf8(m_settings.name)));
        return;
    }
    const bool tls = m_settings.tls && !pendingTransport() && m_settings.address.isTcp();
    if (tls && !QSslSocket::supportsSsl()) {
        refuse(QStringLiteral("TLS is not available: Qt has no working TLS backend here (%1)")
                   .arg(QSslSocket::sslLibraryVersionString()));
        return;
    }
    if (tls && m_settings.trust == TlsTrust::CaFile
        && QSslCertificate::fromPath(m_settings.caFile, QSsl::Pem).isEmpty()) {
        refuse(QStringLiteral("no PEM certificate could be read from the CA file \"%1\"").arg(m_settings.caFile));
        return;
    }
    if (tls && m_settings.trust == TlsTrust::Pinned && m_settings.pinnedSha256.size() != 32) {
        refuse(QStringLiteral("the pinned fingerprint must be a SHA-256 (64 hex digits)"));
        return;
    }
    // Each open() takes the settings as they are now, the CA file read once.
    FramedConnection::Options &o = options();
    o.address = m_settings.address;
    o.tls = m_settings.tls;
    o.tlsConfiguration = QSslConfiguration::defaultConfiguration();
    o.tlsConfiguration.setPeerVerifyMode(QSslSocket::VerifyPeer);
    if (tls && m_settings.trust == TlsTrust::CaFile)
        o.tlsConfiguration.setCaCertificates(QSslCertificate::fromPath(m_settings.caFile, QSsl::Pem));
    o.pinnedSha256 = m_settings.trust == TlsTrust::Pinned ? m_settings.pinnedSha256 : QByteArray();
    o.handshakeTimeout = m_settings.handshakeTimeout;
    o.autoReconnect = m_settings.autoReconnect;
    o.backoffMin = m_settings.backoffMin;
    o.backoffMax = m_settings.backoffMax;
    o.backoffJitter = true;
    o.maxIncomingFrameSize = m_settings.maxIncomingFrameSize;
    o.idleTimeout = m_settings.idleTimeout;
    o.tcpKeepAlive = true;
    FramedConnection::open();
}

void MonitorLink::close()
{
    stopRetrying();
    if (transport()) {
        if (isTransportUp())
            writeFrame(FrameType::Bye, 0, NoFlags, {}, {}, {});
        closeConnection(Cause::Requested, QString());
        return;
    }
    m_lastError.clear();
    setState(State::Disconnected);
}

// --- the connection's hooks ----------------------------------------------------------------------

void MonitorLink::attemptStarted()
{
    m_brokerVersion.clear();
    m_monitorIdentity.clear();
    setState(State::Connecting);
}

void MonitorLink::encryptionStarted()
{
    // The token waits for the handshake and the certificate check.
    setState(State::Encrypting);
}

void MonitorLink::transportReady()
{
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.pid = quint32(QCoreApplication::applicationPid());
    hello.token = m_settings.token;
    const QByteArray name = m_settings.name.isEmpty()
        ? QByteArray("kennel-monitor-") + QByteArray::number(QCoreApplication::applicationPid())
        : m_settings.name;
    if (!writeFrame(FrameType::Hello, nextMessageId(), NoFlags, name, {}, encodeHello(hello)))
        return;
    setState(State::Authenticating);
}

void MonitorLink::transportLost(Failure failure, const QString &text)
{
    // A certificate that is not trusted will not be trusted on the next try either.
    closeConnection(failure == Failure::Untrusted ? Cause::Fatal : Cause::Lost, text);
}

// --- frames -------------------------------------------------------------------------------------

void MonitorLink::frameReceived(const Frame &frame)
{
    const quint8 raw = quint8(frame.type);
    if (raw >= quint8(FrameType::MonitorFirst) && raw <= quint8(FrameType::MonitorLast)) {
        if (m_state != State::Live) {
            qCWarning(lcMonitorLink) << "ignoring monitor frame" << raw << "before Welcome";
            return;
        }
        handleMonitorFrame(frame);
        return;
    }
    switch (frame.type) {
    case FrameType::Welcome:
        handleWelcome(frame);
        return;
    case FrameType::Error:
        handleError(frame);
        return;
    case FrameType::Bye:
        closeConnection(Cause::Lost, QStringLiteral("the broker said Bye"));
        return;
    case FrameType::Ping:
        writeFrame(FrameType::Pong, frame.messageId, NoFlags, {}, {}, frame.payload);
        return;
    case FrameType::Pong:
        return; // its arrival has already reset the idle clock
    default:
        // Client frames (Deliver, DeliveryStatus...) have no business on a monitor connection, and
        // unknown ones are a newer broker's: neither is worth ending the stream for.
        qCDebug(lcMonitorLink) << "ignoring" << latin1(frameTypeName(frame.type)) << "frame";
        return;
    }
}

void MonitorLink::handleWelcome(const Frame &frame)
{
    if (m_state != State::Authenticating) {
        closeConnection(Cause::Lost, QStringLiteral("unexpected Welcome"));
        return;
    }
    const std::optional<WelcomePayload> welcome = decodeWelcome(frame.payload);
    if (!welcome) {
        closeConnection(Cause::Lost, QStringLiteral("malformed Welcome payload"));
        return;
    }
    handshakeDone();
    m_lastError.clear();
    m_brokerVersion = QString::fromUtf8(welcome->brokerVersion);
    qCInfo(lcMonitorLink).noquote() << "monitoring" << peerText() << "- broker" << m_brokerVersion;

    // The link decodes publications and calls as records of their own (PROTOCOL §6.8); an older
    // broker ignores the flag and sends publications as traffic to "topic:TOPIC".
    MonitorSubscribe subscribe = m_settings.subscribe;
    subscribe.wantBusRecords = true;
    if (!writeFrame(MonitorFrame::Subscribe, nextMessageId(), NoFlags, {}, {}, encodeMonitorSubscribe(subscribe)))
        return;
    const quint64 before = generation();
    setState(State::Live);
    if (before == generation())
        Q_EMIT welcomed(m_brokerVersion);
}

void MonitorLink::handleError(const Frame &frame)
{
    const std::optional<ErrorPayload> payload = decodeError(frame.payload);
    if (!payload) {
        closeConnection(Cause::Lost, QStringLiteral("malformed Error payload"));
        return;
    }
    const QString text = describeError(payload->code, payload->text);
    const quint64 before = generation();
    Q_EMIT errorReceived(payload->code, payload->text);
    if (before != generation())
        return;
    if (m_state == State::Live) {
        // Refused controls and the like; the broker closes the connection itself when it means to.
        qCInfo(lcMonitorLink).noquote() << "broker reported" << text;
        return;
    }
    // PROTOCOL §4.1: before Welcome only our Hello is outstanding, so an Error refuses it.
    switch (payload->code) {
    case ErrorCode::TooManyClients:
    case ErrorCode::ShuttingDown:
    case ErrorCode::NameTaken:
    case ErrorCode::RegisterTimeout:
        closeConnection(Cause::Lost, QStringLiteral("the broker refused this monitor: %1").arg(text));
        return;
    default:
        // A refused token, a version or name the broker will not take: the same Hello would be
        // refused again, and each try lengthens the broker's penalty for this address.
        closeConnection(Cause::Fatal, QStringLiteral("the broker refused this monitor: %1").arg(text));
        return;
    }
}

void MonitorLink::noteMalformed(const Frame &frame)
{
    ++m_malformedFrames;
    if (m_malformedFrames <= MalformedLogLimit)
        qCWarning(lcMonitorLink).nospace() << "skipped a malformed " << latin1(monitorFrameName(frame.type))
                                           << " payload of " << frame.payload.size() << " bytes"
                                           << (m_malformedFrames == MalformedLogLimit ? " (no more of these are logged)" : "");
}

void MonitorLink::handleMonitorFrame(const Frame &frame)
{
    // A payload the codec refuses is skipped, not fatal: losing one record is better than losing
    // the operator's whole view over one broker bug; the count is kept for the status.
    switch (quint8(frame.type)) {
    case quint8(MonitorFrame::SnapshotBegin):
        if (auto v = decodeMonitorSnapshotBegin(frame.payload)) {
            m_monitorIdentity = v->monitorIdentity;
            if (!v->brokerVersion.isEmpty())
                m_brokerVersion = v->brokerVersion;
            Q_EMIT snapshotBegan(*v);
        } else {
            noteMalformed(frame);
        }
        return;
    case quint8(MonitorFrame::Client):
        if (auto v = decodeMonitorClient(frame.payload))
            Q_EMIT clientUpdated(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Service):
        if (auto v = decodeMonitorService(frame.payload))
            Q_EMIT serviceUpdated(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::SnapshotEnd):
        Q_EMIT snapshotEnded();
        return;
    case quint8(MonitorFrame::ClientGone):
        if (auto v = decodeMonitorClientGone(frame.payload))
            Q_EMIT clientGone(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::WatchdogEvent):
        if (auto v = decodeMonitorWatchdogEvent(frame.payload))
            Q_EMIT watchdogEvent(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Traffic):
        if (auto v = decodeMonitorTrafficBatch(frame.payload))
            Q_EMIT trafficBatch(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::TrafficDropped):
        if (auto v = decodeMonitorTrafficDropped(frame.payload))
            Q_EMIT trafficDropped(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Totals):
        if (auto v = decodeMonitorTotals(frame.payload))
            Q_EMIT totals(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Held):
        if (auto v = decodeMonitorHeld(frame.payload))
            Q_EMIT held(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::ControlResult):
        if (auto v = decodeMonitorControlResult(frame.payload))
            Q_EMIT controlResult(frame.messageId, *v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Publications):
        if (auto v = decodeMonitorPublicationBatch(frame.payload))
            Q_EMIT publicationBatch(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Calls):
        if (auto v = decodeMonitorCallBatch(frame.payload))
            Q_EMIT callBatch(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Topics):
        if (auto v = decodeMonitorTopics(frame.payload))
            Q_EMIT topicsReceived(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Subscriptions):
        if (auto v = decodeMonitorSubscriptions(frame.payload))
            Q_EMIT subscriptionsReceived(frame.messageId, *v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::ServiceOutput):
        if (auto v = decodeMonitorServiceOutput(frame.payload))
            Q_EMIT serviceOutputReceived(frame.messageId, *v);
        else
            noteMalformed(frame);
        return;
    default:
        qCDebug(lcMonitorLink) << "ignoring monitor frame type" << int(frame.type);
        return;
    }
}

// --- control -------------------------------------------------------------------------------------

quint32 MonitorLink::sendControl(const MonitorControl &control)
{
    if (m_state != State::Live || !transport())
        return 0;
    if (control.target.isEmpty() || control.target.size() > Wire::MaxNameLength || control.text.size() > MaxControlText) {
        qCWarning(lcMonitorLink) << "control request not sent: target must be 1..64 bytes and text at most"
                                 << MaxControlText << "bytes";
        return 0;
    }
    const quint32 id = nextMessageId();
    if (!writeFrame(MonitorFrame::Control, id, NoFlags, {}, {}, encodeMonitorControl(control)))
        return 0;
    qCInfo(lcMonitorLink).noquote() << "asked the broker: control" << int(control.action) << "on"
                                    << QString::fromUtf8(control.target) << "(request" << id << ")";
    return id;
}

quint32 MonitorLink::requestSubscriptions(quint64 sessionId)
{
    if (m_state != State::Live || !transport())
        return 0;
    const quint32 id = nextMessageId();
    if (!writeFrame(MonitorFrame::Subscriptions, id, NoFlags, {}, {}, encodeMonitorSubscriptionsRequest({sessionId})))
        return 0;
    return id;
}

quint32 MonitorLink::requestServiceOutput(const MonitorServiceOutputRequest &request)
{
    if (m_state != State::Live || !transport() || request.service.isEmpty())
        return 0;
    const quint32 id = nextMessageId();
    if (!writeFrame(MonitorFrame::ServiceOutputRequest, id, NoFlags, {}, {}, encodeMonitorServiceOutputRequest(request)))
        return 0;
    return id;
}

quint32 MonitorLink::disconnectClient(const QByteArray &clientName)
{
    return sendControl({MonitorControlAction::DisconnectClient, clientName, {}});
}

quint32 MonitorLink::sendTestMessage(const QByteArray &clientName, const QByteArray &text)
{
    return sendControl({MonitorControlAction::SendTestMessage, clientName, text});
}

quint32 MonitorLink::restartService(const QString &serviceName)
{
    return sendControl({MonitorControlAction::RestartService, serviceName.toUtf8(), {}});
}

quint32 MonitorLink::stopService(const QString &serviceName)
{
    return sendControl({MonitorControlAction::StopService, serviceName.toUtf8(), {}});
}

quint32 MonitorLink::startService(const QString &serviceName)
{
    return sendControl({MonitorControlAction::StartService, serviceName.toUtf8(), {}});
}

// --- teardown ------------------------------------------------------------------------------------

void MonitorLink::closeConnection(Cause cause, const QString &text)
{
    if (!transport() && m_state == State::Disconnected)
        return;
    const bool wasLive = m_state == State::Live;
    const Ended ended = endConnection(cause == Cause::Requested, cause == Cause::Lost);
    if (cause != Cause::Requested) {
        m_lastError = text;
        if (wasLive)
            qCWarning(lcMonitorLink).noquote() << "connection to" << peerText() << "lost:" << text;
        else if (text != m_lastLoggedFailure)
            qCInfo(lcMonitorLink).noquote() << "connecting to" << peerText() << "failed:" << text;
        else // a broker that stays away fails every retry the same way: once is enough at info
            qCDebug(lcMonitorLink).noquote() << "connecting to" << peerText() << "failed again:" << text;
        m_lastLoggedFailure = wasLive ? QString() : text;
    } else {
        m_lastError.clear();
    }
    setState(ended.reconnectDelay ? State::Reconnecting : State::Disconnected);
}

void MonitorLink::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    qCDebug(lcMonitorLink) << "state" << stateName(state);
    Q_EMIT stateChanged(state);
}

// --- fingerprints --------------------------------------------------------------------------------

QByteArray MonitorLink::certificateSha256(const QSslCertificate &certificate)
{
    return FramedConnection::certificateSha256(certificate);
}

QString MonitorLink::formatFingerprint(const QByteArray &sha256)
{
    return FramedConnection::formatFingerprint(sha256);
}

std::optional<QByteArray> MonitorLink::parseFingerprint(const QString &text)
{
    QString hex;
    for (QChar c : text) {
        if (c == u':' || c.isSpace())
            continue;
        hex += c;
    }
    if (hex.size() != 64)
        return std::nullopt;
    for (QChar c : std::as_const(hex)) {
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f') || (c >= u'A' && c <= u'F')))
            return std::nullopt;
    }
    return QByteArray::fromHex(hex.toLatin1());
}

} // namespace Kennel
