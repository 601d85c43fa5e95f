#include "legacyhandler.h"
#include "logging.h"

#include "clientwatchdog.h"
#include "connectionevents.h"
#include "handlercontext.h"
#include "legacyframe.h"
#include "nameregistry.h"
#include "accessgate.h"
#include "names.h"
#include "reservednames.h"
#include "router.h"
#include "session.h"
#include "topichandler.h"
#include "watchedsession.h"


namespace Kennel {

namespace {
QString text(QByteArrayView bytes)
{
    return QString::fromLatin1(bytes.toByteArray());
}

bool isValidLegacyName(QByteArrayView name)
{
    return isValidName(name, Legacy::MaxNameLength);
}
} // namespace

void LegacyHandler::handle(Session &session, const Legacy::FrameView &frame)
{
    switch (frame.command) {
    case Legacy::Command::Forward:
        if (Q_LIKELY(checkSender(session, frame)) && !publishMappedLegacy(m_ctx, session, frame))
            m_ctx.router.routeLegacy(session, frame);
        return;
    case Legacy::Command::RegisterReceiver:
        registerReceiver(session, frame);
        return;
    case Legacy::Command::Watchdog:
        // checkSender binds the connection to its name, and only for the process that holds the
        // name already: nobody feeds or registers another process's name.
        if (Q_UNLIKELY(!checkSender(session, frame)))
            return;
        if (frame.wdt != 0) {
            if (Q_UNLIKELY(!m_ctx.watchdog.feed(session.id()))) {
                int suppressed = 0;
                if (m_unwatchedFeedLog.allow(&suppressed))
                    qCInfo(lcLegacy).noquote() << session.describe()
                                               << "fed the watchdog without registering (cmd 1, wdt 0) first: ignored"
                                               << (suppressed ? QStringLiteral("(%1 more not shown)").arg(suppressed) : QString());
            }
        } else {
            m_ctx.watchdog.registerLegacy(watchedClient(session));
        }
        return;
    }
}

void LegacyHandler::registerReceiver(Session &session, const Legacy::FrameView &frame)
{
    if (session.kind() == Session::Kind::LegacyReceiver && frame.source == QByteArrayView(session.name()))
        return; // the same registration again: harmless
    if (session.kind() != Session::Kind::Pending) {
        session.refuse(ErrorCode::AlreadyRegistered,
                       QStringLiteral("cmd 0 for '%1' on a connection already acting as '%2'")
                           .arg(text(frame.source), QString::fromLatin1(session.name())),
                       0, true);
        return;
    }
    if (!isValidLegacyName(frame.source)) {
        session.refuse(ErrorCode::InvalidName,
                       QStringLiteral("'%1' is not a valid name (1 to 9 of A-Z a-z 0-9 . _ -)").arg(text(frame.source)), 0, true);
        return;
    }
    // PROTOCOL: the old protocol cannot say why; the connection is closed.
    if (!reservedNameAllowed(session, frame.source) || !policyAllowsOwning(session, frame.source))
        return;
    const NameRegistry::Claim claim = m_ctx.registry.registerReceiver(frame.source, &session);
    endEvicted(claim, frame.source, session);
    if (claim.outcome == NameRegistry::Outcome::Taken) {
        session.refuse(ErrorCode::NameTaken,
                       QStringLiteral("'%1' is taken: %2").arg(text(frame.source), claim.why), 0, true);
        return;
    }
    session.setIdentity(Session::Kind::LegacyReceiver, frame.source.toByteArray(), claim.entry);
    if (int suppressed = 0; session.allowPeerLogLine(Session::PeerLine::Registration, &suppressed)) {
        if (suppressed)
            session.logSuppressedPeerLines(Session::PeerLine::Registration, suppressed);
        qCInfo(lcLegacy).noquote() << "registered legacy receive connection" << session.describe();
    }
    if (m_ctx.events)
        m_ctx.events->clientRegistered(session);
}

bool LegacyHandler::checkSender(Session &session, const Legacy::FrameView &frame)
{
    if (Q_LIKELY(session.kind() != Session::Kind::Pending)) {
        // Fast path: a connection keeps the name it first used; it cannot switch to another.
        if (Q_LIKELY(frame.source == QByteArrayView(session.name())))
            return true;
        session.refuse(ErrorCode::SourceMismatch,
                       QStringLiteral("source_name '%1' on a connection acting as '%2'")
                           .arg(text(frame.source), QString::fromLatin1(session.name())),
                       0, true);
        return false;
    }
    if (!isValidLegacyName(frame.source)) {
        session.refuse(ErrorCode::InvalidName,
                       QStringLiteral("'%1' is not a valid name (1 to 9 of A-Z a-z 0-9 . _ -)").arg(text(frame.source)), 0, true);
        return false;
    }
    if (!reservedNameAllowed(session, frame.source) || !policyAllowsOwning(session, frame.source))
        return false;
    const NameRegistry::Claim claim = m_ctx.registry.bindLegacySender(frame.source, &session);
    endEvicted(claim, frame.source, session);
    if (claim.outcome == NameRegistry::Outcome::Taken) {
        session.refuse(ErrorCode::NameTaken,
                       QStringLiteral("'%1' refused: a main connection may only act for its own process, and %2")
                           .arg(text(frame.source), claim.why),
                       0, true);
        return false;
    }
    session.setIdentity(Session::Kind::LegacySender, frame.source.toByteArray(), claim.entry);
    if (int suppressed = 0; session.allowPeerLogLine(Session::PeerLine::Registration, &suppressed)) {
        if (suppressed)
            session.logSuppressedPeerLines(Session::PeerLine::Registration, suppressed);
        qCInfo(lcLegacy).noquote() << "legacy main connection" << session.describe() << "bound to its name";
    }
    if (m_ctx.events)
        m_ctx.events->clientRegistered(session);
    return true;
}

bool LegacyHandler::reservedNameAllowed(Session &session, QByteArrayView name)
{
    if (!m_ctx.reservedNames)
        return true;
    const QString why = m_ctx.reservedNames->refusal(session, name, m_ctx.registry);
    if (why.isEmpty())
        return true;
    session.refuse(ErrorCode::NameReserved, why, 0, true);
    return false;
}

bool LegacyHandler::policyAllowsOwning(Session &session, QByteArrayView name)
{
    if (!m_ctx.access)
        return true;
    const QString why = m_ctx.access->ownRefusal(session, name);
    if (why.isEmpty())
        return true;
    session.refuse(ErrorCode::PolicyDenied, why, 0, true);
    return false;
}

} // namespace Kennel
