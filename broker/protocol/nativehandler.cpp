#include "nativehandler.h"
#include "logging.h"

#include "brokercontext.h"
#include "brokerconfig.h"
#include "framecodec.h"
#include "nameregistry.h"
#include "names.h"
#include "router.h"
#include "session.h"

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
    case FrameType::Error:
        qCInfo(lcProtocol).noquote() << session.describe() << "reported an error:"
                                   << decodeError(frame.payload).value_or(ErrorPayload{}).text;
        return;
    case FrameType::WatchdogRegister:
    case FrameType::WatchdogFeed:
        session.refuse(ErrorCode::WatchdogUnavailable, QStringLiteral("this broker has no watchdog yet"), frame.messageId);
        return;
    case FrameType::Welcome:
    case FrameType::Deliver:
    case FrameType::DeliveryStatus:
    case FrameType::WatchdogAck:
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
    if (hello->role != Role::Client) {
        session.refuse(ErrorCode::NotPermitted, QStringLiteral("only the client role is served on this listener"),
                       frame.messageId, true);
        return;
    }
    const int maxName = m_ctx.config->maxNameLength;
    if (!isValidName(frame.source, maxName)) {
        session.refuse(ErrorCode::InvalidName,
                       QStringLiteral("names are 1 to %1 bytes of A-Z a-z 0-9 . _ -").arg(maxName), frame.messageId);
        return;
    }
    // The claimed PID is kept and checked against the kernel's answer where the watchdog acts on it.
    session.setClaimedPid(hello->pid);
    NameEntry *entry = nullptr;
    switch (m_ctx.registry->registerReceiver(frame.source, &session, &entry)) {
    case NameRegistry::Outcome::Taken:
        session.refuse(ErrorCode::NameTaken,
                       QStringLiteral("'%1' is registered by another client").arg(QString::fromLatin1(frame.source.toByteArray())),
                       frame.messageId);
        return;
    case NameRegistry::Outcome::TookOver:
    case NameRegistry::Outcome::Registered:
    case NameRegistry::Outcome::AlreadyBound:
        break;
    }
    session.setIdentity(Session::Kind::Client, frame.source.toByteArray(), entry);
    qCInfo(lcProtocol).noquote() << "registered" << session.describe() << "pid" << hello->pid;
    WelcomePayload welcome;
    welcome.maxFrameSize = m_ctx.config->maxFrameSize;
    welcome.brokerVersion = QCoreApplication::applicationVersion().toUtf8();
    session.sendFrame(FrameType::Welcome, frame.messageId, {}, session.name(), encodeWelcome(welcome));
}

void NativeHandler::send(Session &session, const FrameView &frame)
{
    const bool wantStatus = frame.flags & WantDeliveryStatus;
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
        answer(DeliveryStatus::InvalidTarget);
        return;
    }
    answer(m_ctx.router->routeNative(session, frame.target, frame.messageId, frame.payload));
}

} // namespace Kennel
