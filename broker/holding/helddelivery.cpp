#include "helddelivery.h"
#include "logging.h"

#include "brokerconfig.h"
#include "clientwatchdog.h"
#include "deliveryledger.h"
#include "framecodec.h"
#include "legacyframe.h"
#include "memorybudget.h"
#include "nameregistry.h"
#include "router.h"
#include "session.h"
#include "supervisor.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace Kennel {

namespace {
// An old-protocol msg field's text: up to its first NUL (what a native receiver gets, §7.5).
QByteArrayView legacyText(const QByteArray &field)
{
    const void *nul = std::memchr(field.constData(), 0, size_t(field.size()));
    return QByteArrayView(field.constData(), nul ? static_cast<const char *>(nul) - field.constData() : field.size());
}

DeliveryStatus statusOf(HoldTable::Verdict verdict)
{
    switch (verdict) {
    case HoldTable::Verdict::Held: return DeliveryStatus::Held;
    case HoldTable::Verdict::OverNameCount: return DeliveryStatus::DroppedNameCount;
    case HoldTable::Verdict::OverNameBytes: return DeliveryStatus::DroppedNameBytes;
    case HoldTable::Verdict::OverTotal: return DeliveryStatus::DroppedTotal;
    }
    return DeliveryStatus::NoSuchClient;
}

bool expectedInState(Service::State state)
{
    return state == Service::State::Starting || state == Service::State::Running || state == Service::State::Backoff;
}
} // namespace

HeldDelivery::HeldDelivery(const BrokerConfig &config, const NameRegistry &registry, MemoryBudget &budget, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_registry(registry)
    , m_table(budget)
{
    m_expected.setListed(m_config.hold.names);
    m_expiryTimer.setSingleShot(true);
    m_expiryTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_expiryTimer, &QTimer::timeout, this, &HeldDelivery::expireDue);
}

void HeldDelivery::watch(Supervisor &supervisor, const ClientWatchdog &watchdog)
{
    m_supervisor = &supervisor;
    // A service is expected under its own name ([service.NAME]); one that registers another name
    // lists it in [hold] names.
    // [service.NAME] hold = false leaves the service out.
    // An on-demand service is expected under the name it registers, in every state: a message to
    // it is what starts it.
    const auto index = [this] {
        for (Service *service : m_supervisor->services()) {
            if (service->settings().start == ServiceSettings::Start::OnDemand && service->settings().hold) {
                const QByteArray name = service->settings().registeredName().toUtf8();
                m_onDemand.insert(name, service);
                m_expected.setServiceExpected(name, true);
                continue;
            }
            m_expected.setServiceExpected(service->settings().name.toUtf8(),
                                          service->settings().hold && expectedInState(service->state()));
        }
    };
    index();
    // A reload added, changed or removed services: a removed one is deleted soon.
    connect(&supervisor, &Supervisor::reconfigured, this, [this, index] {
        for (auto it = m_onDemand.cbegin(); it != m_onDemand.cend(); ++it)
            m_expected.setServiceExpected(it.key(), false);
        m_onDemand.clear();
        index();
    });
    connect(&supervisor, &Supervisor::serviceStateChanged, this, [this](Service *service, Service::State state) {
        if (service->settings().start == ServiceSettings::Start::OnDemand && service->settings().hold) {
            const QByteArray name = service->settings().registeredName().toUtf8();
            // Its run ended before it registered: the start has failed.
            if (m_starting.contains(name)
                && (state == Service::State::Backoff || state == Service::State::Exited
                    || state == Service::State::Failed || state == Service::State::Stopped)) {
                const Service::Status status = service->status();
                QString why = state == Service::State::Failed ? status.lastError
                              : status.lastExitCode == -1      ? status.lastError
                              : status.lastExitSignal          ? QStringLiteral("killed by signal %1 before it registered").arg(status.lastExitSignal)
                                                               : QStringLiteral("exited with code %1 before it registered").arg(status.lastExitCode);
                if (state == Service::State::Stopped)
                    why = QStringLiteral("stopped before it registered");
                startFailed(name, why);
                // Not brought back by its restart policy: the next message tries again.
                if (state == Service::State::Backoff)
                    service->stop();
            }
            return;
        }
        const QByteArray name = service->settings().name.toUtf8();
        m_expected.setServiceExpected(name, service->settings().hold && expectedInState(state));
        // Stopped by an operator or the shutdown, ended for good, or failed: its connection closing
        // without a Bye on the way does not make it expected.
        if (state == Service::State::Stopped || state == Service::State::Exited || state == Service::State::Failed)
            m_expected.forgetLost(name);
    });
    // Whatever the action (kill, disconnect), the watchdog expects the name back: a supervisor,
    // systemd or the program's own loop restarts it.
    connect(&watchdog, &ClientWatchdog::actionTaken, this,
            [this](quint64, const QByteArray &name, WatchdogAction action, const QString &) {
                if (action != WatchdogAction::Notify)
                    m_expected.noteLost(name, Clock::now() + m_config.hold.lostWindow);
            });
}

DeliveryStatus HeldDelivery::offer(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                                   const char *legacyMsgField, bool wantStatus)
{
    ++m_counters.offers;
    if (!m_config.hold.enabled)
        return DeliveryStatus::NoSuchClient;
    const Clock::time_point now = Clock::now();
    if (!m_expected.isExpected(target, now))
        return DeliveryStatus::NoSuchClient;

    HoldTable::Message message;
    message.target = target.toByteArray();
    message.source = sender.name();
    message.messageId = messageId;
    message.legacyField = legacyMsgField != nullptr;
    message.payload = legacyMsgField ? QByteArray(legacyMsgField, Legacy::MsgFieldSize) : payload.toByteArray();
    const bool native = sender.protocol() == Endpoint::Protocol::Native;
    // Only a connection can be told a status later; a local sender (the monitor's test message)
    // has its answer from the router at once.
    const auto *connection = dynamic_cast<const Session *>(&sender);
    message.senderConnection = native && wantStatus && connection ? connection->id() : 0;
    message.senderHearsHeld = native && connection && (connection->features() & FeatureHeldStatus);
    if (!native)
        ++m_counters.fromLegacy;

    // A bound refuses the newest (this message): the router counts and logs it like any drop.
    const HoldTable::Verdict verdict = m_table.hold(std::move(message), m_config.hold.limitsFor(target), now);
    if (verdict == HoldTable::Verdict::Held && !m_expiryTimer.isActive())
        scheduleExpiry();
    if (verdict == HoldTable::Verdict::Held)
        Q_EMIT heldChanged(target.toByteArray());
    else if (!native)
        ++m_counters.legacyUntold; // dropped at a bound: the old protocol has no way to say so
    const DeliveryStatus status = statusOf(verdict);
    if (verdict == HoldTable::Verdict::Held && !m_onDemand.isEmpty() && !m_starting.contains(target.toByteArray())) {
        const QByteArray name = target.toByteArray();
        // Later, from the event loop: the sender hears `held` (the router's answer to this offer)
        // before any start_failed for the same message.
        if (m_onDemand.contains(name))
            QMetaObject::invokeMethod(this, [this, name] { maybeStartOnDemand(name); }, Qt::QueuedConnection);
    }
    return status;
}

bool HeldDelivery::expectCall(QByteArrayView name)
{
    if (!m_config.hold.enabled || !m_expected.isExpected(name, Clock::now()))
        return false;
    const QByteArray key = name.toByteArray();
    if (m_onDemand.contains(key) && !m_starting.contains(key))
        QMetaObject::invokeMethod(this, [this, key] { maybeStartOnDemand(key, true); }, Qt::QueuedConnection);
    return true;
}

void HeldDelivery::maybeStartOnDemand(const QByteArray &name, bool forCall)
{
    Service *service = m_onDemand.value(name);
    if (!service || !m_supervisor || m_starting.contains(name) || (!forCall && !m_table.summary(name)))
        return;
    const Service::State state = service->state();
    // A process that runs, starts or waits to restart (its restart policy's) is coming back as
    // any supervised service: its messages wait for it like any held name's.
    if (state != Service::State::Stopped && state != Service::State::Exited && state != Service::State::Failed)
        return;
    auto *timer = new QTimer(this);
    timer->setSingleShot(true);
    connect(timer, &QTimer::timeout, this, [this, name, service] {
        startFailed(name, QStringLiteral("did not register within start_timeout_ms (%1 ms)")
                              .arg(service->settings().startTimeout.count()));
        service->stop();
    });
    m_starting.insert(name, timer);
    timer->start(service->settings().startTimeout);
    ++m_counters.onDemandStarts;
    const auto summary = m_table.summary(name);
    qCInfo(lcHold).noquote() << "starting on-demand service" << service->name() << "for"
                             << (summary ? summary->count : 0) << "held message(s)" << (forCall ? "and a call" : "")
                             << "to" << QString::fromLatin1(name);
    if (!m_supervisor->startOnDemand(service))
        startFailed(name, QStringLiteral("the broker is stopping"));
}

void HeldDelivery::startFailed(const QByteArray &name, const QString &why)
{
    if (QTimer *timer = m_starting.take(name))
        timer->deleteLater();
    ++m_counters.startFailures;
    const std::deque<HoldTable::Message> held = m_table.takeStartFailed(name);
    qCWarning(lcHold).noquote() << "on-demand start for" << QString::fromLatin1(name) << "failed:" << why << "-"
                                << held.size() << "held message(s) answered start_failed";
    const Clock::time_point now = Clock::now();
    for (const HoldTable::Message &message : held) {
        logOutcome(message, DeliveryStatus::StartFailed);
        tapOutcome(message, DeliveryStatus::StartFailed, now);
        tell(message, DeliveryStatus::StartFailed);
    }
    scheduleExpiry();
    if (!held.empty())
        Q_EMIT heldChanged(name);
    Q_EMIT onDemandStartFailed(name);
}

void HeldDelivery::registered(Session &holder)
{
    m_expected.noteRegistered(holder.name());
    if (QTimer *timer = m_starting.take(holder.name()))
        timer->deleteLater(); // the on-demand start succeeded
    if (m_table.count() == 0)
        return;
    std::deque<HoldTable::Message> held = m_table.take(holder.name());
    if (held.empty())
        return;
    const Clock::time_point now = Clock::now();
    const qint64 waitedMs = std::chrono::duration_cast<std::chrono::milliseconds>(now - held.front().heldAt).count();
    qCInfo(lcHold).noquote() << "delivering" << held.size() << "held message(s) to" << holder.describe()
                             << "- the oldest held for" << waitedMs << "ms";
    // In order, and before anything newer: nothing else runs between registration and here.
    for (const HoldTable::Message &message : held) {
        const DeliveryStatus status = deliverTo(holder, message);
        // Handed to an acknowledging holder (Held) is delivered as far as the traffic view goes.
        tapOutcome(message, status == DeliveryStatus::Held ? DeliveryStatus::Delivered : status, now);
        if (status == DeliveryStatus::Held) {
            ++m_counters.delivered; // to an acknowledging holder: its sender is told at the acknowledgement
            continue;
        }
        if (status == DeliveryStatus::Delivered) {
            ++m_counters.delivered;
        } else {
            ++m_counters.refusedAtFlush;
            logOutcome(message, status, "at delivery");
        }
        tell(message, status);
        if (!holder.isOpen())
            break; // out of memory: what is left is lost with the connection
    }
    scheduleExpiry();
    Q_EMIT heldChanged(holder.name());
}

DeliveryStatus HeldDelivery::deliverTo(Session &receiver, const HoldTable::Message &message)
{
    const QByteArray &source = message.source;
    const QByteArrayView payload = message.legacyField ? legacyText(message.payload) : QByteArrayView(message.payload);
    const bool toLegacy = receiver.protocol() == Session::Protocol::Legacy;
    size_t frameSize;
    // The same checks and encoding as Router::deliver (PROTOCOL §5.2, §7.5, R-8.1.2).
    if (toLegacy) {
        if (source.size() > Legacy::MaxNameLength)
            return DeliveryStatus::SenderNameUnfit;
        if (!message.legacyField && payload.size() > Legacy::MaxTextLength)
            return DeliveryStatus::TooLargeForTarget;
        frameSize = Legacy::FrameSize;
    } else {
        frameSize = size_t(Wire::HeaderSize + source.size() + message.target.size() + payload.size());
    }
    const size_t bound = size_t(m_config.maxOutputQueueBytes);
    const size_t largestDeliver = size_t(m_config.maxFrameSize) + size_t(Wire::MaxNameLength);
    if (frameSize > std::max(bound, largestDeliver))
        return DeliveryStatus::TooLargeForTarget;
    if ((receiver.pendingOutput() + frameSize > bound && receiver.pendingOutput() != 0)
        || (receiver.unacked && receiver.unacked->isFull(frameSize)))
        return DeliveryStatus::TargetQueueFull;
    char *dst = receiver.reserveOutput(frameSize);
    if (!dst)
        return DeliveryStatus::TargetQueueFull;
    if (toLegacy) {
        const QByteArrayView msg = message.legacyField ? QByteArrayView(message.payload) : payload;
        Legacy::encode(dst, Legacy::Command::Forward, 0, message.target, source, msg);
    } else {
        writeHeader(dst, FrameType::Deliver, quint32(frameSize - Wire::HeaderSize), message.messageId,
                    quint8(source.size()), quint8(message.target.size()), NoFlags);
        char *p = dst + Wire::HeaderSize;
        std::memcpy(p, source.constData(), size_t(source.size()));
        p += source.size();
        std::memcpy(p, message.target.constData(), size_t(message.target.size()));
        p += message.target.size();
        if (!payload.isEmpty())
            std::memcpy(p, payload.data(), size_t(payload.size()));
        // PROTOCOL: an acknowledging holder keeps it, and its sender hears `delivered` at the acknowledgement.
        if (receiver.unacked && receiver.unacked->record(dst, frameSize, message.senderConnection)) {
            receiver.commitOutput(frameSize);
            ++receiver.counters.messagesOut;
            receiver.counters.bytesOut += quint64(payload.size());
            return DeliveryStatus::Held; // "still held": by the ledger, until acknowledged
        }
    }
    receiver.commitOutput(frameSize);
    ++receiver.counters.messagesOut;
    receiver.counters.bytesOut += quint64(payload.size());
    return DeliveryStatus::Delivered;
}

void HeldDelivery::tell(const HoldTable::Message &message, DeliveryStatus status)
{
    if (message.legacyField && status != DeliveryStatus::Delivered && status != DeliveryStatus::Held)
        ++m_counters.legacyUntold;
    if (!message.senderConnection)
        return;
    // The sender is the native client registered under the message's source, on the very
    // connection that sent it: a reconnected sender numbers its messages anew.
    const NameEntry *entry = m_registry.find(message.source);
    auto *sender = entry ? dynamic_cast<Session *>(entry->receiver) : nullptr;
    if (!sender || sender->id() != message.senderConnection || !sender->isOpen()) {
        ++m_counters.untold;
        return;
    }
    if (const std::optional<DeliveryStatus> said = statusForSender(status, message.senderHearsHeld))
        sender->sendFrame(FrameType::DeliveryStatus, message.messageId, {}, message.target, encodeDeliveryStatus(*said));
}

void HeldDelivery::scheduleExpiry()
{
    const std::optional<Clock::time_point> next = m_table.nextExpiry();
    if (!next) {
        m_expiryTimer.stop();
        return;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now());
    // +1: the timer's millisecond must not end before the deadline's nanoseconds.
    m_expiryTimer.start(std::max<qint64>(0, qint64(wait.count()) + 1));
}

void HeldDelivery::expireDue()
{
    const Clock::time_point now = Clock::now();
    const std::vector<HoldTable::Message> gone = m_table.expire(now);
    const QByteArray *last = nullptr;
    for (const HoldTable::Message &message : gone) {
        logOutcome(message, DeliveryStatus::Expired);
        tapOutcome(message, DeliveryStatus::Expired, now);
        tell(message, DeliveryStatus::Expired);
        // Oldest first per name: one change per name that lost some.
        if (!last || *last != message.target)
            Q_EMIT heldChanged(message.target);
        last = &message.target;
    }
    scheduleExpiry();
}

void HeldDelivery::connectionClosed(Session &session)
{
    if (session.kind() != Session::Kind::Client && session.kind() != Session::Kind::LegacyReceiver)
        return;
    // Gone without a goodbye: the process died, or hung and was cut off. A Bye, an operator's
    // disconnect, a refusal or the broker's own stop do not make a name expected.
    switch (session.closeReason()) {
    case Session::CloseReason::PeerClosed:
    case Session::CloseReason::ReadError:
    case Session::CloseReason::WriteError:
    case Session::CloseReason::IdleTimeout:
        m_expected.noteLost(session.name(), Clock::now() + m_config.hold.lostWindow);
        break;
    default:
        break;
    }
    if (session.unacked && session.unacked->count() > 0)
        reholdUnacknowledged(session);
    if (session.kind() == Session::Kind::LegacyReceiver)
        reholdLegacyUnsent(session);
}

bool HeldDelivery::heldAgainAfter(const Session &session, Clock::time_point now) const
{
    // Taken over: the name's new holder is registering right now and is flushed what is held.
    const Session::CloseReason reason = session.closeReason();
    return m_config.hold.enabled && reason != Session::CloseReason::Shutdown
           && (reason == Session::CloseReason::TakenOver || m_expected.isExpected(session.name(), now));
}

void HeldDelivery::reholdLegacyUnsent(Session &session)
{
    bool partial = false;
    const QByteArray frames = session.takeUnsentLegacyFrames(&partial);
    if (partial) {
        ++m_counters.legacyUnsentLost;
        qCWarning(lcHold).noquote() << session.describe()
                                    << "ended in the middle of writing a message to it: that one is lost (its sender was told delivered)";
    }
    if (frames.isEmpty())
        return;
    const Clock::time_point now = Clock::now();
    std::vector<HoldTable::Message> messages;
    for (qsizetype at = 0; at + Legacy::FrameSize <= frames.size(); at += Legacy::FrameSize) {
        const Legacy::DecodeResult decoded = Legacy::decode(QByteArrayView(frames.constData() + at, Legacy::FrameSize));
        if (decoded.error != Legacy::DecodeError::None)
            continue; // never: the broker encoded them
        HoldTable::Message message;
        message.target = session.name();
        message.source = decoded.frame.source.toByteArray();
        message.payload = decoded.frame.msgField.toByteArray();
        message.legacyField = true;
        messages.push_back(std::move(message));
    }
    if (!heldAgainAfter(session, now)) {
        m_counters.legacyUnsentLost += messages.size();
        qCWarning(lcHold).noquote() << session.describe() << "ended with" << messages.size()
                                    << "message(s) queued to it and not written; its name is not expected back: they are lost (their senders were told delivered)";
        return;
    }
    const std::vector<HoldTable::Verdict> verdicts = m_table.holdFront(std::move(messages), m_config.hold.limitsFor(session.name()), now);
    size_t held = 0;
    for (HoldTable::Verdict verdict : verdicts)
        held += verdict == HoldTable::Verdict::Held;
    m_counters.legacyUnsentReheld += held;
    m_counters.legacyUnsentLost += verdicts.size() - held;
    qCInfo(lcHold).noquote() << session.describe() << "ended with" << verdicts.size()
                             << "message(s) queued to it and not written:" << held << "held again for its name"
                             << (held < verdicts.size() ? "(the rest over the hold's bounds, lost)" : "");
    scheduleExpiry();
    const QByteArray name = session.name();
    if (held && m_onDemand.contains(name) && !m_starting.contains(name))
        QMetaObject::invokeMethod(this, [this, name] { maybeStartOnDemand(name); }, Qt::QueuedConnection);
}

void HeldDelivery::reholdUnacknowledged(Session &session)
{
    std::vector<DeliveryLedger::Entry> entries = session.unacked->takeAll();
    const Clock::time_point now = Clock::now();
    const bool expected = heldAgainAfter(session, now);
    std::vector<HoldTable::Message> messages;
    messages.reserve(entries.size());
    for (const DeliveryLedger::Entry &entry : entries) {
        const DecodeResult decoded = decodeFrame(entry.frame, std::numeric_limits<quint32>::max());
        if (decoded.error != DecodeError::None)
            continue; // never: the ledger keeps frames as the broker wrote them
        HoldTable::Message message;
        message.target = session.name();
        message.source = decoded.frame.source.toByteArray();
        message.payload = decoded.frame.payload.toByteArray();
        message.messageId = decoded.frame.messageId;
        message.senderConnection = entry.senderConnection;
        if (const NameEntry *sender = m_registry.find(message.source)) {
            const auto *connection = dynamic_cast<const Session *>(sender->receiver);
            message.senderHearsHeld = connection && connection->id() == entry.senderConnection
                                      && (connection->features() & FeatureHeldStatus);
        }
        messages.push_back(std::move(message));
    }
    if (!expected) {
        // Also when the broker stops: these were written to the receiver and may have been
        // processed, so `shutting_down` (send it again, PROTOCOL) could make a duplicate.
        const DeliveryStatus status = DeliveryStatus::Unacknowledged;
        m_counters.unacknowledged += messages.size();
        qCWarning(lcHold).noquote() << session.describe() << "ended with" << messages.size()
                                    << "unacknowledged message(s); its name is not expected back: answered"
                                    << deliveryStatusName(status);
        for (const HoldTable::Message &message : messages)
            tell(message, status);
        return;
    }
    // The verdicts need the messages after holdFront() has taken them.
    std::vector<HoldTable::Message> copies = messages;
    const std::vector<HoldTable::Verdict> verdicts = m_table.holdFront(std::move(messages), m_config.hold.limitsFor(session.name()), now);
    size_t held = 0;
    for (size_t i = 0; i < copies.size(); ++i) {
        const DeliveryStatus status = statusOf(verdicts[i]);
        if (status == DeliveryStatus::Held) {
            ++held;
        } else {
            ++m_counters.unacknowledged;
            logOutcome(copies[i], status, "when held again");
        }
        tell(copies[i], status);
    }
    m_counters.reheld += held;
    if (held)
        Q_EMIT heldChanged(session.name());
    qCInfo(lcHold).noquote() << session.describe() << "ended with" << copies.size()
                             << "unacknowledged message(s):" << held << "held again for its name";
    scheduleExpiry();
    const QByteArray name = session.name();
    if (held && m_onDemand.contains(name) && !m_starting.contains(name))
        QMetaObject::invokeMethod(this, [this, name] { maybeStartOnDemand(name); }, Qt::QueuedConnection);
}

void HeldDelivery::shutdown()
{
    m_expiryTimer.stop();
    for (QTimer *timer : std::as_const(m_starting))
        timer->deleteLater();
    m_starting.clear();
    const Clock::time_point now = Clock::now();
    for (const HoldTable::Message &message : m_table.takeAll()) {
        logOutcome(message, DeliveryStatus::ShuttingDown);
        tapOutcome(message, DeliveryStatus::ShuttingDown, now);
        tell(message, DeliveryStatus::ShuttingDown);
    }
}

void HeldDelivery::tapOutcome(const HoldTable::Message &message, DeliveryStatus status, Clock::time_point now) const
{
    TrafficTap *tap = m_router ? m_router->tap() : nullptr;
    if (Q_LIKELY(!tap))
        return;
    const QByteArrayView payload = message.legacyField ? legacyText(message.payload) : QByteArrayView(message.payload);
    const qint64 heldMs = std::chrono::duration_cast<std::chrono::milliseconds>(now - message.heldAt).count();
    tap->recordHeldOutcome(message.source, message.target, payload, status, std::max<qint64>(0, heldMs));
}

void HeldDelivery::logOutcome(const HoldTable::Message &message, DeliveryStatus status, const char *detail)
{
    int suppressed = 0;
    if (!m_log.allow(&suppressed))
        return;
    if (suppressed)
        qCWarning(lcHold, "%d more hold outcomes not logged", suppressed);
    qCWarning(lcHold).noquote() << "held message" << message.messageId << "from" << QString::fromLatin1(message.source)
                                << "to" << QString::fromLatin1(message.target) << "not delivered:"
                                << deliveryStatusName(status) << (detail ? detail : "")
                                << (message.senderConnection || !message.legacyField ? "" : "(old-protocol sender, not told)");
}

} // namespace Kennel
