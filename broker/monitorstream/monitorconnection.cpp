#include "monitorconnection.h"

#include "brokerconfig.h"
#include "logthrottle.h"
#include "memorybudget.h"
#include "monitorcodec.h"
#include "monitorhub.h"
#include "names.h"

#include <QAbstractSocket>
#include <QDateTime>
#include <QLocalSocket>
#include <QLoggingCategory>

#include <algorithm>
#include <limits>

namespace Kennel {

namespace {
Q_LOGGING_CATEGORY(lcMonitorConnection, "kennel.monitor", QtInfoMsg)

// Input is read in chunks of this size; Qt's own read buffer holds at most as much, so what a
// monitor sends faster than it is handled (or before it is admitted) waits in the kernel.
constexpr qint64 ReadChunk = 64 * 1024;
// A traffic record without its names and preview: i64 time, three u16 lengths, u32 size, u16 status.
constexpr qsizetype RecordOverhead = 8 + 2 + 2 + 4 + 2 + 2;

// Refusals can be provoked by anyone who can connect: logged, but not without bound.
LogThrottle refusalLog(10);

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}
} // namespace

MonitorConnection::MonitorConnection(MonitorHub &hub, QIODevice *device, Peer peer, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_device(device)
    , m_peer(std::move(peer))
    , m_decoder(hub.config().maxFrameSize)
{
    m_device->setParent(this);
    m_maxQueueBytes = qMax<qint64>(1, hub.config().monitor.maxQueueBytes);
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device)) {
        socket->setReadBufferSize(ReadChunk);
        connect(socket, &QAbstractSocket::disconnected, this, &MonitorConnection::finish);
    } else if (auto *local = qobject_cast<QLocalSocket *>(m_device)) {
        local->setReadBufferSize(ReadChunk);
        connect(local, &QLocalSocket::disconnected, this, &MonitorConnection::finish);
    }
    connect(m_device, &QIODevice::readyRead, this, &MonitorConnection::readInput);
    connect(m_device, &QIODevice::bytesWritten, this, &MonitorConnection::syncBudget);

    m_helloTimer.setSingleShot(true);
    m_helloTimer.setInterval(hub.config().registerTimeout);
    connect(&m_helloTimer, &QTimer::timeout, this, [this] {
        if (m_state == State::Authenticating) {
            // The answer is held back (failure delay) or the check is stuck: the waiting room's
            // place is given up rather than held for as long as an attacker's penalty grows.
            m_hub.admissionTimedOut(this);
            refuse(ErrorCode::RegisterTimeout,
                   QStringLiteral("not admitted within %1 ms (admission_timeout_ms); try again later")
                       .arg(m_hub.config().monitor.admissionTimeout.count()),
                   m_helloMessageId, true);
            return;
        }
        refuse(ErrorCode::RegisterTimeout,
               QStringLiteral("no monitor hello within %1 ms").arg(m_hub.config().registerTimeout.count()), 0, true);
    });
    m_closeTimer.setSingleShot(true);
    m_closeTimer.setInterval(CloseTimeoutMs);
    connect(&m_closeTimer, &QTimer::timeout, this, [this] { abortNow(QStringLiteral("its last frames were not flushed in time")); });
    m_trafficTimer.setSingleShot(true);
    m_trafficTimer.setInterval(BatchIntervalMs);
    connect(&m_trafficTimer, &QTimer::timeout, this, &MonitorConnection::flushTraffic);
}

MonitorConnection::~MonitorConnection() = default;

QString MonitorConnection::describe() const
{
    if (m_name.isEmpty())
        return QStringLiteral("monitor connection (%1)").arg(m_peer.display);
    return QStringLiteral("monitor '%1' (%2)").arg(QString::fromLatin1(m_name), m_peer.display);
}

void MonitorConnection::start(const std::optional<Frame> &hello, const QByteArray &unread)
{
    if (!unread.isEmpty())
        m_decoder.append(unread);
    if (hello)
        handleFrame(*hello);
    if (m_state == State::AwaitingHello)
        m_helloTimer.start();
    // Bytes may have arrived before anyone listened (during a TLS handshake, or behind a Hello):
    // look at them from the event loop, not from inside whoever called start().
    QMetaObject::invokeMethod(this, &MonitorConnection::readInput, Qt::QueuedConnection);
    const bool gone = [this] {
        if (auto *socket = qobject_cast<QAbstractSocket *>(m_device))
            return socket->state() == QAbstractSocket::UnconnectedState;
        if (auto *local = qobject_cast<QLocalSocket *>(m_device))
            return local->state() == QLocalSocket::UnconnectedState;
        return !m_device->isOpen();
    }();
    if (gone)
        QMetaObject::invokeMethod(this, &MonitorConnection::finish, Qt::QueuedConnection);
}

void MonitorConnection::readInput()
{
    while (!m_finished) {
        if (!processBuffered())
            return;
        const QByteArray chunk = m_device->read(ReadChunk);
        if (chunk.isEmpty())
            return;
        m_decoder.append(chunk);
    }
}

bool MonitorConnection::processBuffered()
{
    // Frames are taken only while the connection may act on them: not while its credentials are
    // checked (they wait in the decoder, and further input in the kernel), not once it closes.
    while (m_state == State::AwaitingHello || m_state == State::Admitted) {
        if (std::optional<Frame> frame = m_decoder.next()) {
            handleFrame(*frame);
            continue;
        }
        const DecodeError error = m_decoder.error();
        if (error == DecodeError::None)
            return true;
        if (error == DecodeError::InvalidName) {
            // PROTOCOL §2.1: the frame is skipped and the connection stays; a bad Hello counts
            // towards the attempts a monitor gets.
            const bool last = m_state == State::AwaitingHello && ++m_helloAttempts >= MaxHelloAttempts;
            refuse(ErrorCode::InvalidName,
                   QStringLiteral("names are 1 to %1 bytes of A-Z a-z 0-9 . _ -").arg(m_hub.config().maxNameLength), 0, last);
            continue;
        }
        refuse(errorCodeFor(error), QLatin1String(decodeErrorName(error)), 0, true);
        return false;
    }
    return false;
}

void MonitorConnection::handleFrame(const Frame &frame)
{
    if (m_state == State::AwaitingHello) {
        if (frame.type == FrameType::Hello)
            handleHello(frame);
        else
            refuse(ErrorCode::NotRegistered, QStringLiteral("a monitor connection starts with a hello (role monitor)"),
                   frame.messageId, true);
        return;
    }
    if (m_state == State::Admitted)
        handleAdmitted(frame);
}

void MonitorConnection::handleHello(const Frame &frame)
{
    const std::optional<HelloPayload> hello = decodeHello(frame.payload);
    if (!hello) {
        refuse(ErrorCode::MalformedFrame, QStringLiteral("hello payload is malformed"), frame.messageId, true);
        return;
    }
    if (hello->protocolVersion < Wire::Version) {
        refuse(ErrorCode::UnsupportedVersion, QStringLiteral("protocol version %1 is not supported").arg(hello->protocolVersion),
               frame.messageId, true);
        return;
    }
    if (hello->role != Role::Monitor) {
        refuse(ErrorCode::NotPermitted, QStringLiteral("this listener serves monitors only"), frame.messageId, true);
        return;
    }
    const int maxName = m_hub.config().maxNameLength;
    if (!isValidName(frame.source, maxName)) {
        refuse(ErrorCode::InvalidName, QStringLiteral("names are 1 to %1 bytes of A-Z a-z 0-9 . _ -").arg(maxName),
               frame.messageId, ++m_helloAttempts >= MaxHelloAttempts);
        return;
    }
    m_name = frame.source;
    m_state = State::Authenticating;
    m_helloMessageId = frame.messageId;
    m_helloTimer.start(m_hub.config().monitor.admissionTimeout);
    m_hub.authenticate(this, hello->token, frame.messageId);
}

void MonitorConnection::handleAdmitted(const Frame &frame)
{
    if (frame.type == MonitorFrame::Subscribe) {
        const std::optional<MonitorSubscribe> request = decodeMonitorSubscribe(frame.payload);
        if (!request)
            refuse(ErrorCode::MalformedFrame, QStringLiteral("subscribe payload is malformed"), frame.messageId, false);
        else if (queuedBytes() >= m_maxQueueBytes)
            // Another snapshot on top of one not yet read is how a monitor that pipelines
            // Subscribes and never reads made the broker queue without bound.
            m_hub.refuseSnapshot(this, frame.messageId);
        else
            m_hub.subscribe(this, *request);
        return;
    }
    if (frame.type == MonitorFrame::Control) {
        const std::optional<MonitorControl> request = decodeMonitorControl(frame.payload);
        if (!request)
            refuse(ErrorCode::MalformedFrame, QStringLiteral("control payload is malformed"), frame.messageId, false);
        else
            m_hub.control(this, *request, frame.messageId);
        return;
    }
    if (frame.type == MonitorFrame::InfoRequest) {
        m_hub.sendInfo(this, frame.messageId);
        return;
    }
    if (frame.type == MonitorFrame::Subscriptions) {
        const std::optional<MonitorSubscriptionsRequest> request = decodeMonitorSubscriptionsRequest(frame.payload);
        if (!request)
            refuse(ErrorCode::MalformedFrame, QStringLiteral("subscriptions request is malformed"), frame.messageId, false);
        else
            m_hub.subscriptions(this, *request, frame.messageId);
        return;
    }
    if (frame.type == MonitorFrame::ServiceOutputRequest) {
        const std::optional<MonitorServiceOutputRequest> request = decodeMonitorServiceOutputRequest(frame.payload);
        if (!request)
            refuse(ErrorCode::MalformedFrame, QStringLiteral("service output request is malformed"), frame.messageId, false);
        else
            m_hub.serviceOutput(this, *request, frame.messageId);
        return;
    }
    switch (frame.type) {
    case FrameType::Ping:
        sendEvent(FrameType::Pong, frame.messageId, {}, frame.payload);
        return;
    case FrameType::Pong:
        return;
    case FrameType::Bye:
        qCInfo(lcMonitorConnection).noquote() << describe() << "said bye";
        closeGracefully();
        return;
    case FrameType::Error:
        qCInfo(lcMonitorConnection).noquote() << describe() << "reported an error:"
                                              << decodeError(frame.payload).value_or(ErrorPayload{}).text;
        return;
    case FrameType::Hello:
        refuse(ErrorCode::AlreadyRegistered, QStringLiteral("this connection is already admitted"), frame.messageId, false);
        return;
    case FrameType::Send:
    case FrameType::WatchdogRegister:
    case FrameType::WatchdogFeed:
        refuse(ErrorCode::NotPermitted,
               QStringLiteral("a monitor is not a client: it cannot send messages or be watched (%1)")
                   .arg(QLatin1String(frameTypeName(frame.type))),
               frame.messageId, false);
        return;
    case FrameType::Welcome:
    case FrameType::Deliver:
    case FrameType::DeliveryStatus:
    case FrameType::WatchdogAck:
        refuse(ErrorCode::UnknownFrameType,
               QStringLiteral("%1 frames are sent by the broker, not to it").arg(QLatin1String(frameTypeName(frame.type))),
               frame.messageId, false);
        return;
    default:
        break;
    }
    // The rest of the monitor range goes from the broker to monitors (PROTOCOL §6.3).
    if (const char *monitorName = monitorFrameName(frame.type))
        refuse(ErrorCode::UnknownFrameType,
               QStringLiteral("%1 frames are sent by the broker, not to it").arg(QLatin1String(monitorName)), frame.messageId, false);
    else
        refuse(ErrorCode::UnknownFrameType, QStringLiteral("unknown frame type 0x%1").arg(quint8(frame.type), 2, 16, QLatin1Char('0')),
               frame.messageId, false);
}

void MonitorConnection::admit(const QString &how, MonitorRole role, quint32 helloMessageId, QByteArrayView welcomePayload)
{
    if (m_state != State::Authenticating)
        return;
    m_state = State::Admitted;
    m_helloTimer.stop();
    m_admittedHow = how;
    m_role = role;
    writeFrame(FrameType::Welcome, helloMessageId, {}, m_name, welcomePayload);
    // Whatever the monitor sent behind its Hello (a pipelined Subscribe) has waited until now.
    QMetaObject::invokeMethod(this, &MonitorConnection::readInput, Qt::QueuedConnection);
}

void MonitorConnection::refuse(ErrorCode code, const QString &text, quint32 messageId, bool close)
{
    if (m_finished || m_state == State::Closing)
        return;
    int suppressed = 0;
    if (refusalLog.allow(&suppressed)) {
        if (suppressed)
            qCWarning(lcMonitorConnection, "%d more monitor refusals not logged", suppressed);
        qCWarning(lcMonitorConnection).noquote() << "refused" << describe() << errorCodeName(code) << "-" << text
                                                 << (close ? "(closing)" : "");
    }
    writeFrame(FrameType::Error, messageId, {}, {}, encodeError({code, text}));
    if (close)
        closeGracefully();
}

void MonitorConnection::setSubscription(bool wantTraffic, int previewBytes, int maxPerSecond)
{
    m_subscribed = true;
    m_wantTraffic = wantTraffic;
    m_previewBytes = qMax(0, previewBytes);
    m_maxPerSecond = qMax(0, maxPerSecond);
    // A batch never makes a frame larger than the broker announced, and traffic alone never takes
    // a monitor's queue far past its bound.
    const qsizetype recordMax = RecordOverhead + 2 * Wire::MaxNameLength + m_previewBytes;
    qsizetype limit = qMin<qsizetype>(BatchBytes, qsizetype(m_maxQueueBytes / 2));
    limit = qMin<qsizetype>(limit, qsizetype(m_hub.config().maxFrameSize) - Wire::HeaderSize);
    m_batchLimit = qMax<qsizetype>(limit, 2 + recordMax);
    if (!m_wantTraffic) {
        m_batch = QByteArray();
        m_heldTrailer = QByteArray();
        m_batchRecords = 0;
        m_publicationBatch = QByteArray();
        m_publicationRecords = 0;
        m_callBatch = QByteArray();
        m_callRecords = 0;
    } else {
        m_batch.reserve(m_batchLimit);
    }
}

void MonitorConnection::sendEvent(FrameType type, quint32 messageId, QByteArrayView source, QByteArrayView payload)
{
    if (m_state != State::Admitted)
        return;
    if (m_batchRecords || m_publicationRecords || m_callRecords)
        flushTraffic();
    writeFrame(type, messageId, source, {}, payload);
}

void MonitorConnection::recordTraffic(qint64 timeUs, QByteArrayView source, QByteArrayView target, QByteArrayView payload,
                                      DeliveryStatus status, qint64 heldMs)
{
    if (Q_UNLIKELY(m_state != State::Admitted || !m_wantTraffic))
        return;
    const qint64 second = timeUs / 1000000;
    if (second != m_rateSecond) {
        m_rateSecond = second;
        m_rateCount = 0;
    }
    if (m_rateCount >= m_maxPerSecond || m_device->bytesToWrite() + m_batch.size() >= m_maxQueueBytes) {
        // Counted, not queued; the marker goes out with a later flush, when there is room.
        ++m_droppedUnreported;
        ++m_recordsDropped;
        armTrafficFlush();
        return;
    }
    ++m_rateCount;
    const QByteArrayView preview = payload.first(qMin<qsizetype>(payload.size(), m_previewBytes));
    // A held outcome adds its trailer entry (and the trailer's count, for the first).
    const qsizetype recordSize = RecordOverhead + source.size() + target.size() + preview.size() + (heldMs >= 0 ? 8 : 0);
    if (m_batchRecords && m_batch.size() + m_heldTrailer.size() + recordSize > m_batchLimit)
        flushTraffic();
    if (m_batch.size() < 2) {
        // The count in front, written here so the batch keeps the capacity it has grown to.
        m_batch.resize(2);
        m_batch.data()[0] = 0;
        m_batch.data()[1] = 0;
    }
    if (heldMs >= 0)
        appendMonitorHeldTrailerEntry(m_heldTrailer, m_batchRecords, heldMs);
    appendMonitorTrafficRecord(m_batch, timeUs, source, target, quint32(payload.size()), status, preview);
    ++m_batchRecords;
    ++m_recordsSent;
    if (m_batchRecords == std::numeric_limits<quint16>::max() || m_batch.size() + m_heldTrailer.size() >= m_batchLimit)
        flushTraffic();
    else
        armTrafficFlush();
}

bool MonitorConnection::admitRecord(qint64 timeUs)
{
    const qint64 second = timeUs / 1000000;
    if (second != m_rateSecond) {
        m_rateSecond = second;
        m_rateCount = 0;
    }
    if (m_rateCount >= m_maxPerSecond || queuedBytes() >= m_maxQueueBytes) {
        ++m_droppedUnreported;
        ++m_recordsDropped;
        armTrafficFlush();
        return false;
    }
    ++m_rateCount;
    return true;
}

void MonitorConnection::appendBusRecord(QByteArray &batch, quint16 &count, qsizetype recordMax,
                                        const std::function<void(QByteArray &)> &append)
{
    if (count && batch.size() + recordMax > m_batchLimit)
        flushTraffic();
    if (batch.size() < 2) {
        batch.resize(2);
        batch.data()[0] = 0;
        batch.data()[1] = 0;
    }
    append(batch); // bumps the count in front
    ++count;
    ++m_recordsSent;
    if (count == std::numeric_limits<quint16>::max() || batch.size() >= m_batchLimit)
        flushTraffic();
    else
        armTrafficFlush();
}

void MonitorConnection::recordPublication(qint64 timeUs, QByteArrayView publisher, const TrafficTap::Publication &publication)
{
    if (Q_UNLIKELY(m_state != State::Admitted || !m_wantTraffic))
        return;
    if (!m_wantBusRecords) {
        // What a monitor that does not know Publications records has always been sent.
        const QByteArray target = QByteArrayLiteral("topic:") + publication.topic.toByteArray();
        recordTraffic(timeUs, publisher, target, publication.payload,
                      publication.notTaken ? DeliveryStatus::TargetQueueFull : DeliveryStatus::Delivered);
        return;
    }
    if (!admitRecord(timeUs))
        return;
    MonitorPublicationRecord record;
    record.timeUs = timeUs;
    record.publisher = QByteArray::fromRawData(publisher.data(), publisher.size());
    record.topic = QByteArray::fromRawData(publication.topic.data(), publication.topic.size());
    record.size = quint32(publication.payload.size());
    record.reached = publication.reached;
    record.notTaken = publication.notTaken;
    record.retain = publication.retain;
    record.result = publication.result;
    const QByteArrayView preview = publication.payload.first(qMin<qsizetype>(publication.payload.size(), m_previewBytes));
    record.preview = QByteArray::fromRawData(preview.data(), preview.size());
    const qsizetype recordMax = 40 + record.publisher.size() + record.topic.size() + record.preview.size();
    appendBusRecord(m_publicationBatch, m_publicationRecords, recordMax,
                    [&record](QByteArray &batch) { appendMonitorPublicationRecord(batch, record); });
}

void MonitorConnection::recordCall(qint64 timeUs, const TrafficTap::CallEnd &call)
{
    if (Q_UNLIKELY(m_state != State::Admitted || !m_wantTraffic || !m_wantBusRecords))
        return;
    if (!admitRecord(timeUs))
        return;
    MonitorCallRecord record;
    record.timeUs = timeUs;
    record.caller = QByteArray::fromRawData(call.caller.data(), call.caller.size());
    record.callee = QByteArray::fromRawData(call.callee.data(), call.callee.size());
    record.outcome = call.outcome;
    record.code = call.code;
    record.roundTripUs = quint32(std::clamp<qint64>(call.roundTripUs, 0, std::numeric_limits<quint32>::max()));
    record.replySize = call.replySize;
    const qsizetype recordMax = 32 + record.caller.size() + record.callee.size();
    appendBusRecord(m_callBatch, m_callRecords, recordMax,
                    [&record](QByteArray &batch) { appendMonitorCallRecord(batch, record); });
}

qint64 MonitorConnection::queuedBytes() const
{
    return m_device->bytesToWrite() + m_batch.size() + m_heldTrailer.size() + m_publicationBatch.size() + m_callBatch.size();
}

void MonitorConnection::armTrafficFlush()
{
    if (!m_trafficTimer.isActive())
        m_trafficTimer.start();
}

void MonitorConnection::flushTraffic()
{
    m_trafficTimer.stop();
    if (m_state != State::Admitted) {
        m_batch.resize(0);
        m_heldTrailer.resize(0);
        m_batchRecords = 0;
        m_publicationBatch.resize(0);
        m_publicationRecords = 0;
        m_callBatch.resize(0);
        m_callRecords = 0;
        return;
    }
    const auto writeBatch = [this](FrameType type, QByteArray &batch, quint16 &count) {
        if (!count)
            return;
        char header[Wire::HeaderSize];
        // The traffic batch carries the held outcomes' trailer (PROTOCOL) after its records.
        const QByteArray &trailer = type == MonitorFrame::Traffic ? m_heldTrailer : QByteArray();
        writeHeader(header, type, quint32(batch.size() + trailer.size()), 0, 0, 0, NoFlags);
        m_device->write(header, Wire::HeaderSize);
        // The char* overload copies: the batch keeps its buffer for the next records.
        m_device->write(batch.constData(), batch.size());
        if (!trailer.isEmpty())
            m_device->write(trailer.constData(), trailer.size());
        batch.resize(0);
        count = 0;
    };
    writeBatch(MonitorFrame::Traffic, m_batch, m_batchRecords);
    m_heldTrailer.resize(0);
    writeBatch(MonitorFrame::Publications, m_publicationBatch, m_publicationRecords);
    writeBatch(MonitorFrame::Calls, m_callBatch, m_callRecords);
    if (m_droppedUnreported) {
        if (m_device->bytesToWrite() < m_maxQueueBytes) {
            MonitorTrafficDropped dropped;
            dropped.timeMs = nowMs();
            dropped.dropped = m_droppedUnreported;
            m_droppedUnreported = 0;
            writeFrame(MonitorFrame::TrafficDropped, 0, {}, {}, encodeMonitorTrafficDropped(dropped));
        } else {
            armTrafficFlush(); // no room yet: try again later
        }
    }
    checkQueueBound();
}

void MonitorConnection::writeFrame(FrameType type, quint32 messageId, QByteArrayView source, QByteArrayView target,
                                   QByteArrayView payload)
{
    if (m_finished)
        return;
    QByteArray frame;
    appendFrame(frame, type, messageId, NoFlags, source, target, payload);
    m_device->write(frame);
    checkQueueBound();
}

void MonitorConnection::setSnapshotInProgress(bool inProgress)
{
    m_inSnapshot = inProgress;
    if (inProgress) {
        m_snapshotStart = m_device->bytesToWrite();
        return;
    }
    // One snapshot may pass the bound (the monitor asked for it, and with thousands of clients it
    // is larger than a small bound); a second one is refused until the queue drained (Subscribe).
    m_snapshotAllowance = std::max<qint64>(0, m_device->bytesToWrite() - m_snapshotStart);
    checkQueueBound();
}

void MonitorConnection::syncBudget()
{
    const qint64 now = m_finished ? 0 : queuedBytes();
    if (now == m_budgetAccounted)
        return;
    const qint64 delta = now - m_budgetAccounted;
    m_budgetAccounted = now;
    if (m_hub.monitorBudget().add(delta))
        m_hub.monitorBudgetExceeded();
}

void MonitorConnection::checkQueueBound()
{
    syncBudget();
    if (m_snapshotAllowance && m_device->bytesToWrite() < m_maxQueueBytes)
        m_snapshotAllowance = 0;
    if (m_overflowed || m_inSnapshot || m_device->bytesToWrite() <= 2 * m_maxQueueBytes + m_snapshotAllowance)
        return;
    // It stopped reading. Events cannot be dropped, so the monitor goes; from the event loop, not
    // from inside whatever wrote (a broadcast, the router's tap).
    m_overflowed = true;
    m_hub.noteQueueOverflow();
    const qint64 queued = m_device->bytesToWrite();
    m_state = State::Closing;
    m_trafficTimer.stop();
    QMetaObject::invokeMethod(this, [this, queued] {
        abortNow(QStringLiteral("it is not reading: %1 bytes queued, more than twice max_queue_bytes (%2)")
                     .arg(queued).arg(m_maxQueueBytes));
    }, Qt::QueuedConnection);
}

void MonitorConnection::closeWithBye(const QString &reason)
{
    if (m_finished || m_state == State::Closing)
        return;
    if (m_state == State::Admitted) {
        if (m_batchRecords || m_publicationRecords || m_callRecords)
            flushTraffic();
        writeFrame(FrameType::Bye, 0, {}, {}, reason.toUtf8());
        // Now, as far as the socket takes it: at shutdown the event loop may not run much longer.
        if (auto *socket = qobject_cast<QAbstractSocket *>(m_device))
            socket->flush();
        else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
            local->flush();
    }
    closeGracefully();
}

void MonitorConnection::closeGracefully()
{
    if (m_finished || m_state == State::Closing)
        return;
    m_state = State::Closing;
    m_helloTimer.stop();
    m_trafficTimer.stop();
    m_closeTimer.start();
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device)) {
        socket->disconnectFromHost(); // after the write buffer is flushed; disconnected() follows
        if (socket->state() == QAbstractSocket::UnconnectedState)
            finish();
    } else if (auto *local = qobject_cast<QLocalSocket *>(m_device)) {
        local->disconnectFromServer();
        if (local->state() == QLocalSocket::UnconnectedState)
            finish();
    } else {
        m_device->close();
        finish();
    }
}

void MonitorConnection::shed(ErrorCode code, const QString &why)
{
    if (m_finished)
        return;
    if (m_state == State::Admitted) {
        // Past the queue it already has: the Error is written only as far as the socket takes it.
        QByteArray frame;
        appendFrame(frame, FrameType::Error, 0, NoFlags, {}, {}, encodeError({code, why}));
        m_device->write(frame);
        if (auto *socket = qobject_cast<QAbstractSocket *>(m_device))
            socket->flush();
        else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
            local->flush();
    }
    abortNow(why);
}

void MonitorConnection::abortNow(const QString &why)
{
    if (m_finished)
        return;
    qCWarning(lcMonitorConnection).noquote() << "disconnected" << describe() << "-" << why;
    m_state = State::Closing;
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device))
        socket->abort();
    else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
        local->abort();
    else
        m_device->close();
    finish();
}

void MonitorConnection::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_state = State::Closing;
    m_helloTimer.stop();
    m_closeTimer.stop();
    m_trafficTimer.stop();
    m_batch = QByteArray();
    m_heldTrailer = QByteArray();
    m_batchRecords = 0;
    m_publicationBatch = QByteArray();
    m_publicationRecords = 0;
    m_callBatch = QByteArray();
    m_callRecords = 0;
    syncBudget(); // gives its share of the monitor budget back
    Q_EMIT finished(this);
    deleteLater();
}

} // namespace Kennel
