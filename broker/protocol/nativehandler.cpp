#include "nativehandler.h"
#include "logging.h"

#include "brokerconfig.h"
#include "callrouter.h"
#include "clientwatchdog.h"
#include "connectionevents.h"
#include "framecodec.h"
#include "handlercontext.h"
#include "holdsink.h"
#include "nameregistry.h"
#include "accessgate.h"
#include "names.h"
#include "receiveracks.h"
#include "reservednames.h"
#include "router.h"
#include "sendgate.h"
#include "session.h"
#include "topichandler.h"
#include "watchedsession.h"

#include <QCoreApplication>

namespace Kennel {

void NativeHandler::handle(Session &session, const FrameView &frame)
{
    switch (frame.type) {
    case FrameType::Send:
        send(session, frame);
        return;
    case FrameType::Hello:
        hello(session, frame);
        return;
    case FrameType::Ping:
        session.sendFrame(FrameType::Pong, frame.messageId, {}, {}, frame.payload);
        return;
    case FrameType::Pong:
        return;
    case FrameType::Bye:
        session.closeAfterFlush(Session::CloseReason::Bye);
        return;
    case FrameType::Error: {
        int suppressed = 0;
        if (!session.allowPeerLogLine(Session::PeerLine::ClientError, &suppressed))
            return; // a client sending Errors in a loop cannot flood the log
        if (suppressed)
            session.logSuppressedPeerLines(Session::PeerLine::ClientError, suppressed);
        qCInfo(lcProtocol).noquote() << session.describe() << "reported an error:"
                                   << decodeError(frame.payload).value_or(ErrorPayload{}).text;
        return;
    }
    case FrameType::WatchdogFeed:
        if (Q_LIKELY(session.kind() == Session::Kind::Client && m_ctx.watchdog.feed(session.id())))
            return;
        watchdogRefused(session, frame);
        return;
    case FrameType::WatchdogRegister:
        watchdogRegister(session, frame);
        return;
    case FrameType::DeliverAck:
        ReceiverAcks::acknowledge(session, frame, m_ctx.registry);
        return;
    case FrameType::Call:
    case FrameType::Reply:
        if (!m_ctx.calls)
            break;
        m_ctx.calls->handle(session, frame);
        return;
    case FrameType::Subscribe:
    case FrameType::Unsubscribe:
    case FrameType::Publish:
        handleTopicFrame(m_ctx, session, frame);
        return;
    case FrameType::Welcome:
    case FrameType::Deliver:
    case FrameType::DeliveryStatus:
    case FrameType::WatchdogAck:
    case FrameType::CallIncoming:
    case FrameType::CallResult:
    case FrameType::TopicAck:
    case FrameType::PublishStatus:
    case FrameType::Publication:
        session.refuse(ErrorCode::UnknownFrameType,
                       QStringLiteral("%1 frames are sent by the broker, not to it").arg(QLatin1String(frameTypeName(frame.type))),
                       frame.messageId);
        return;
    default:
        break;
    }
    const auto raw = quint8(frame.type);
    if (raw >= quint8(FrameType::MonitorFirst) && raw <= quint8(FrameType::MonitorLast))
        session.refuse(ErrorCode::NotPermitted, QStringLiteral("monitor frames need a monitor connection"), frame.messageId);
    else
        session.refuse(ErrorCode::UnknownFrameType, QStringLiteral("unknown frame type 0x%1").arg(raw, 2, 16, QLatin1Char('0')),
                       frame.messageId);
}

void NativeHandler::hello(Session &session, const FrameView &frame)
{
    if (session.kind() != Session::Kind::Pending) {
        session.refuse(ErrorCode::AlreadyRegistered, QStringLiteral("this connection is already registered"), frame.messageId);
        return;
    }
    const std::optional<HelloPayload> hello = decodeHello(frame.payload);
    if (!hello) {
        session.refuse(ErrorCode::MalformedFrame, QStringLiteral("hello payload is malformed"), frame.messageId, true);
        return;
    }
    if (hello->protocolVersion < Wire::Version) {
        session.refuse(ErrorCode::UnsupportedVersion,
                       QStringLiteral("protocol version %1 is not supported").arg(hello->protocolVersion), frame.messageId, true);
        return;
    }
    // A monitor is not a client: the owner hands the connection (and whatever the peer sent
    // behind its Hello) to the monitor hub, which decides whether to admit it (PROTOCOL §6,
    // docs/MONITOR.md).
    if (hello->role == Role::Monitor && m_ctx.events && m_ctx.events->monitorHello(session, frame))
        return;
    if (hello->role != Role::Client) {
        session.refuse(ErrorCode::NotPermitted, QStringLiteral("only the client role is served on this listener"),
                       frame.messageId, true);
        return;
    }
    // PROTOCOL: a client's Hello has no target and no token. A peer that sends either has
    // misread the protocol (or means to be a monitor); welcoming it would hide that.
    if (!frame.target.isEmpty() || !hello->token.isEmpty()) {
        session.refuse(ErrorCode::MalformedFrame,
                       frame.target.isEmpty() ? QStringLiteral("a client's hello carries no token") : QStringLiteral("a client's hello carries no target"),
                       frame.messageId, true);
        return;
    }
    const int maxName = m_ctx.config.maxNameLength;
    if (!isValidName(frame.source, maxName)) {
        session.refuse(ErrorCode::InvalidName,
                       QStringLiteral("names are 1 to %1 bytes of A-Z a-z 0-9 . _ -").arg(maxName), frame.messageId);
        return;
    }
    // A claimed PID is only a cross-check: the watchdog signals the process the kernel names, never
    // this one. But a client that lies about it is refused rather than believed or ignored.
    if (hello->pid != 0) {
        const ClaimCheckResult claim = checkClaimedPid(session.fd(), pid_t(hello->pid));
        if (claim.status == ClaimCheck::Mismatch) {
            session.refuse(ErrorCode::PidMismatch, claim.detail, frame.messageId, true);
            return;
        }
        if (claim.status == ClaimCheck::Unverifiable)
            qCDebug(lcProtocol).noquote() << session.describe() << "pid claim not verifiable:" << claim.detail;
    }
    session.setClaimedPid(hello->pid);
    const quint32 offered = Wire::KnownFeatures & ~(topicsOffered(m_ctx) ? 0u : quint32(FeatureTopics));
    if (hello->features)
        session.setFeatures(*hello->features & offered);
    // PROTOCOL: a name reserved for a service is registered by its processes only.
    if (m_ctx.reservedNames) {
        if (const QString why = m_ctx.reservedNames->refusal(session, frame.source, m_ctx.registry); !why.isEmpty()) {
            session.refuse(ErrorCode::NameReserved, why, frame.messageId);
            return;
        }
    }
    // PROTOCOL: the access policy's own rules.
    if (m_ctx.access) {
        if (const QString why = m_ctx.access->ownRefusal(session, frame.source); !why.isEmpty()) {
            session.refuse(ErrorCode::PolicyDenied, why, frame.messageId);
            return;
        }
    }
    if (session.features() & FeatureDeliverAck)
        ReceiverAcks::start(session, m_ctx.config.hold.unacked);
    const NameRegistry::Claim claim = m_ctx.registry.registerReceiver(frame.source, &session);
    endEvicted(claim, frame.source, session);
    switch (claim.outcome) {
    case NameRegistry::Outcome::Taken:
        session.refuse(ErrorCode::NameTaken,
                       QStringLiteral("'%1' is registered by another client: %2").arg(QString::fromLatin1(frame.source.toByteArray()), claim.why),
                       frame.messageId);
        return;
    case NameRegistry::Outcome::TookOver:
    case NameRegistry::Outcome::Registered:
    case NameRegistry::Outcome::AlreadyBound:
        break;
    }
    session.setIdentity(Session::Kind::Client, frame.source.toByteArray(), claim.entry);
    if (int suppressed = 0; session.allowPeerLogLine(Session::PeerLine::Registration, &suppressed)) {
        if (suppressed)
            session.logSuppressedPeerLines(Session::PeerLine::Registration, suppressed);
        qCInfo(lcProtocol).noquote() << "registered" << session.describe() << "pid" << hello->pid;
    }
    WelcomePayload welcome;
    welcome.maxFrameSize = m_ctx.config.maxFrameSize;
    welcome.brokerVersion = QCoreApplication::applicationVersion().toUtf8();
    // PROTOCOL §4.1.1: features are answered only to a Hello that listed its own, so a client
    // that sent none gets the version-1 Welcome byte for byte.
    if (hello->features)
        welcome.features = offered;
    session.sendFrame(FrameType::Welcome, frame.messageId, {}, session.name(), encodeWelcome(welcome));
    if (m_ctx.events)
        m_ctx.events->clientRegistered(session);
}

void NativeHandler::watchdogRegister(Session &session, const FrameView &frame)
{
    if (session.kind() != Session::Kind::Client) {
        watchdogRefused(session, frame);
        return;
    }
    const std::optional<WatchdogTerms> asked = decodeWatchdogTerms(frame.payload);
    if (!asked) {
        session.refuse(ErrorCode::InvalidWatchdogTerms, QStringLiteral("watchdog terms are malformed"), frame.messageId);
        return;
    }
    // Whatever the action (notify too), the process of a watched TCP client is established now,
    // once per connection, so that monitors are given its pid (PROTOCOL) — in the
    // "registered" event too — without a snapshot walking /proc. A Unix client's is shown from
    // SO_PEERCRED until a watchdog action needs the owner for real.
    if (session.transport() == Session::Transport::Tcp)
        session.peerProcess();
    const ClientWatchdog::Granted granted = m_ctx.watchdog.registerNative(watchedClient(session), *asked);
    if (!granted.ok) {
        session.refuse(granted.error, granted.reason, frame.messageId);
        return;
    }
    session.sendFrame(FrameType::WatchdogAck, frame.messageId, {}, session.name(), encodeWatchdogTerms(granted.terms));
}

void NativeHandler::watchdogRefused(Session &session, const FrameView &frame)
{
    if (session.kind() != Session::Kind::Client)
        session.refuse(ErrorCode::NotRegistered, QStringLiteral("register with hello before using the watchdog"), frame.messageId);
    else
        session.refuse(ErrorCode::WatchdogUnavailable,
                       QStringLiteral("not watched: send watchdog_register before feeding (or again after an expiry)"),
                       frame.messageId);
}

void NativeHandler::send(Session &session, const FrameView &frame)
{
    const bool wantStatus = frame.flags & WantDeliveryStatus;
    session.noteSendRead(frame.messageId);
    auto answer = [&](DeliveryStatus status) {
        if (wantStatus)
            session.sendFrame(FrameType::DeliveryStatus, frame.messageId, {}, frame.target, encodeDeliveryStatus(status));
    };
    if (Q_UNLIKELY(session.kind() != Session::Kind::Client)) {
        if (wantStatus)
            answer(DeliveryStatus::NotRegistered);
        else
            session.refuse(ErrorCode::NotRegistered, QStringLiteral("register with hello before sending"), frame.messageId);
        session.counters.countUndelivered(DeliveryStatus::NotRegistered);
        m_ctx.router.tapRefused(session, frame.target, frame.payload, DeliveryStatus::NotRegistered);
        return;
    }
    // The broker stamps the sender's registered name; a frame claiming another is refused, not fixed up.
    if (Q_UNLIKELY(!frame.source.isEmpty() && frame.source != QByteArrayView(session.name()))) {
        session.refuse(ErrorCode::SourceMismatch,
                       QStringLiteral("source '%1' is not this connection's name").arg(QString::fromLatin1(frame.source.toByteArray())),
                       frame.messageId);
        return;
    }
    if (Q_UNLIKELY(frame.target.isEmpty())) {
        session.counters.countUndelivered(DeliveryStatus::InvalidTarget);
        m_ctx.router.tapRefused(session, frame.target, frame.payload, DeliveryStatus::InvalidTarget);
        answer(DeliveryStatus::InvalidTarget);
        return;
    }
    const DeliveryStatus status = m_ctx.router.routeNative(session, frame.target, frame.messageId, frame.payload, wantStatus);
    if (status == DeliveryStatus::Delivered && m_ctx.router.statusDeferred())
        return; // PROTOCOL: `delivered` when the receiver acknowledges it
    if (Q_UNLIKELY(status == DeliveryStatus::PolicyDenied)) {
        // PROTOCOL: the status if asked for, else an Error; the gate has logged it.
        if (wantStatus) {
            answer(status);
        } else {
            ++session.counters.refusals;
            session.sendFrame(FrameType::Error, frame.messageId, {}, {},
                              encodeError({ErrorCode::PolicyDenied, m_ctx.sendGate ? m_ctx.sendGate->lastRefusal() : QString()}));
        }
        return;
    }
    if (Q_UNLIKELY(status >= DeliveryStatus::Held)) {
        // PROTOCOL: `held` only to a sender that negotiated held_status; others hear the final status alone.
        if (const std::optional<DeliveryStatus> said = statusForSender(status, session.features() & FeatureHeldStatus))
            answer(*said);
        return;
    }
    answer(status);
}

} // namespace Kennel
