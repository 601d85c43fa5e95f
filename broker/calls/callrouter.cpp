#include "callrouter.h"
#include "logging.h"

#include "brokerconfig.h"
#include "framecodec.h"
#include "nameregistry.h"
#include "router.h"
#include "sendgate.h"
#include "session.h"

#include <QtEndian>

#include <algorithm>
#include <cstring>

namespace Kennel {

namespace {
constexpr size_t CallRequestFixedSize = 4; // u32 deadlineMs (PROTOCOL §5.6)
constexpr size_t CallReplyFixedSize = 2;   // u16 code
constexpr size_t CallResultFixedSize = 4;  // u16 outcome, u16 code

QString latin1(QByteArrayView bytes)
{
    return QString::fromLatin1(bytes.data(), bytes.size());
}
} // namespace

CallRouter::CallRouter(const BrokerConfig &config, const NameRegistry &registry, SessionLookup sessions, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_registry(registry)
    , m_sessions(std::move(sessions))
{
    m_deadlineTimer.setSingleShot(true);
    m_deadlineTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_deadlineTimer, &QTimer::timeout, this, &CallRouter::expireDue);
}

void CallRouter::handle(Session &session, const FrameView &frame)
{
    // PROTOCOL §4.1.1, R-2.2.1: a feature's requests from a client that did not list it (or has
    // sent no Hello) are unknown frames.
    if (!(session.features() & FeatureCalls)) {
        session.refuse(ErrorCode::UnknownFrameType,
                       QStringLiteral("%1 frames need the calls feature in hello").arg(QLatin1String(frameTypeName(frame.type))),
                       frame.messageId);
        return;
    }
    if (session.kind() != Session::Kind::Client) {
        session.refuse(ErrorCode::NotRegistered, QStringLiteral("register with hello before calling or replying"),
                       frame.messageId);
        return;
    }
    if (frame.type == FrameType::Call)
        call(session, frame);
    else
        reply(session, frame);
}

bool CallRouter::callable(const Session &callee) const
{
    return callee.protocol() == Session::Protocol::Native && callee.kind() == Session::Kind::Client
           && (callee.features() & FeatureCalls);
}

void CallRouter::call(Session &caller, const FrameView &frame)
{
    if (frame.payload.size() < qsizetype(CallRequestFixedSize)) {
        caller.refuse(ErrorCode::InvalidCall, QStringLiteral("a call's payload starts with a 4-byte deadline"), frame.messageId);
        return;
    }
    if (!frame.source.isEmpty() && frame.source != QByteArrayView(caller.name())) {
        caller.refuse(ErrorCode::SourceMismatch,
                      QStringLiteral("source '%1' is not this connection's name").arg(latin1(frame.source)), frame.messageId);
        return;
    }
    const quint32 askedMs = qFromBigEndian<quint32>(frame.payload.data());
    const QByteArrayView payload = frame.payload.sliced(CallRequestFixedSize);
    if (frame.target.isEmpty()) {
        answer(caller, frame.messageId, frame.target, CallOutcome::InvalidTarget);
        return;
    }
    if (m_shuttingDown) {
        answer(caller, frame.messageId, frame.target, CallOutcome::ShuttingDown);
        return;
    }
    // PROTOCOL: a call is a message to the callee; a denied one ends at once with
    // the rule in the body. The gate has counted it with the denied sends and logged it; it stays
    // the connection's refusal it was when it was answered with an Error.
    if (Q_UNLIKELY(m_sendGate) && !m_sendGate->allowsName(caller, frame.target, PolicyPath::Call)) {
        ++caller.counters.refusals;
        answer(caller, frame.messageId, frame.target, CallOutcome::PolicyDenied, 0, m_sendGate->lastRefusal().toUtf8());
        return;
    }
    if (m_table.hasCallerId(caller.id(), frame.messageId)) {
        answer(caller, frame.messageId, frame.target, CallOutcome::DuplicateId);
        return;
    }
    const CallSettings &limits = m_config.calls;
    if (m_table.outstandingOf(caller.id()) >= limits.maxOutstanding) {
        answer(caller, frame.messageId, frame.target, CallOutcome::TooManyCalls);
        return;
    }
    const auto defaultDeadline = std::min(limits.defaultDeadline, limits.maxDeadline);
    const std::chrono::milliseconds deadline =
        askedMs == 0 ? defaultDeadline : std::min(std::chrono::milliseconds(askedMs), limits.maxDeadline);

    const NameEntry *entry = m_registry.find(frame.target);
    auto *callee = entry ? dynamic_cast<Session *>(entry->receiver) : nullptr;
    const Clock::time_point now = Clock::now();
    CallTable::Call entryCall;
    entryCall.callerConnection = caller.id();
    entryCall.callerCallId = frame.messageId;
    entryCall.caller = caller.name();
    entryCall.target = frame.target.toByteArray();
    entryCall.startedAt = now;
    entryCall.deadline = now + deadline;

    if (callee) {
        if (!callable(*callee)) {
            answer(caller, frame.messageId, frame.target, CallOutcome::NotCallable);
            return;
        }
        entryCall.calleeConnection = callee->id();
        // Checked before the call is added: a full callee costs no table entry.
        const size_t frameSize = Wire::HeaderSize + size_t(caller.name().size() + frame.target.size())
                                 + CallRequestFixedSize + size_t(payload.size());
        const size_t pending = callee->pendingOutput();
        if (pending != 0 && pending + frameSize > size_t(m_config.maxOutputQueueBytes)) {
            answer(caller, frame.messageId, frame.target, CallOutcome::QueueFull);
            return;
        }
        const quint32 id = m_table.add(std::move(entryCall));
        ++m_counters.calls;
        const CallTable::Call &added = *m_table.find(id);
        if (!deliver(*callee, added, payload, now)) {
            const std::optional<CallTable::Call> gone = m_table.take(id);
            finish(*gone, CallOutcome::QueueFull);
            return;
        }
        scheduleDeadline();
        return;
    }
    // Nobody holds the name: wait for it only where held delivery would hold a message.
    if (!m_expects || !m_expects(frame.target)) {
        answer(caller, frame.messageId, frame.target, CallOutcome::NoSuchClient);
        return;
    }
    entryCall.payload = payload.toByteArray();
    m_table.add(std::move(entryCall));
    ++m_counters.calls;
    ++m_counters.waited;
    qCDebug(lcCalls).noquote() << "call" << frame.messageId << "from" << caller.describe() << "waits for"
                               << latin1(frame.target);
    scheduleDeadline();
}

bool CallRouter::deliver(Session &callee, const CallTable::Call &call, QByteArrayView payload, Clock::time_point now)
{
    const qint64 leftMs = std::max<qint64>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline - now).count());
    const size_t frameSize =
        Wire::HeaderSize + size_t(call.caller.size() + call.target.size()) + CallRequestFixedSize + size_t(payload.size());
    char *dst = callee.reserveOutput(frameSize);
    if (!dst)
        return false;
    writeHeader(dst, FrameType::CallIncoming, quint32(frameSize - Wire::HeaderSize), call.id, quint8(call.caller.size()),
                quint8(call.target.size()), NoFlags);
    char *p = dst + Wire::HeaderSize;
    std::memcpy(p, call.caller.constData(), size_t(call.caller.size()));
    p += call.caller.size();
    std::memcpy(p, call.target.constData(), size_t(call.target.size()));
    p += call.target.size();
    qToBigEndian<quint32>(quint32(std::min<qint64>(leftMs, 0xFFFFFFFF)), p);
    p += CallRequestFixedSize;
    if (!payload.isEmpty())
        std::memcpy(p, payload.data(), size_t(payload.size()));
    callee.commitOutput(frameSize);
    ++m_counters.delivered;
    return true;
}

void CallRouter::reply(Session &callee, const FrameView &frame)
{
    // Read in place (decodeCallReply would copy the reply's payload): it is copied once, into the
    // caller's queue.
    if (frame.payload.size() < qsizetype(CallReplyFixedSize)) {
        callee.refuse(ErrorCode::InvalidCall, QStringLiteral("a reply's payload starts with a 2-byte code"), frame.messageId);
        return;
    }
    const CallTable::Call *call = m_table.find(frame.messageId);
    if (!call || call->calleeConnection != callee.id()) {
        // Late (the call timed out or its caller went), never made, or made to someone else:
        // dropped. Not answered: a late reply is normal, and a peer guessing ids learns nothing.
        const bool stranger = call != nullptr;
        ++(stranger ? m_counters.strangerReplies : m_counters.lateReplies);
        int suppressed = 0;
        if (m_log.allow(&suppressed)) {
            if (suppressed)
                qCInfo(lcCalls, "%d more dropped replies not logged", suppressed);
            qCInfo(lcCalls).noquote() << "reply" << frame.messageId << "from" << callee.describe() << "dropped:"
                                      << (stranger ? "the call was made to another connection"
                                                   : "no such call outstanding (late, or never made)");
        }
        return;
    }
    const quint16 code = qFromBigEndian<quint16>(frame.payload.data());
    const QByteArrayView payload = frame.payload.sliced(CallReplyFixedSize);
    const std::optional<CallTable::Call> done = m_table.take(frame.messageId);
    if (code == 0)
        finish(*done, CallOutcome::Replied, 0, payload);
    else
        finish(*done, CallOutcome::ErrorReply, code, payload);
}

void CallRouter::answer(Session &caller, quint32 callerCallId, QByteArrayView target, CallOutcome outcome, quint16 code,
                        QByteArrayView payload, qint64 roundTripUs)
{
    tapCall(caller.name(), target, outcome, code, roundTripUs, payload.size());
    const auto index = size_t(outcome);
    if (index < m_counters.outcomes.size())
        ++m_counters.outcomes[index];
    if (outcome != CallOutcome::Replied && outcome != CallOutcome::ErrorReply) {
        int suppressed = 0;
        if (m_log.allow(&suppressed)) {
            if (suppressed)
                qCInfo(lcCalls, "%d more call outcomes not logged", suppressed);
            qCInfo(lcCalls).noquote() << "call" << callerCallId << "from" << caller.describe() << "to" << latin1(target)
                                      << "ended:" << callOutcomeName(outcome);
        }
    }
    if (!caller.isOpen())
        return;
    // Written straight into the caller's queue, as deliver() writes a CallIncoming: no encoded copy
    // of the result in between.
    const size_t body = size_t(target.size()) + CallResultFixedSize + size_t(payload.size());
    char *dst = caller.reserveOutput(Wire::HeaderSize + body);
    if (!dst)
        return;
    writeHeader(dst, FrameType::CallResult, quint32(body), callerCallId, 0, quint8(target.size()), NoFlags);
    char *p = dst + Wire::HeaderSize;
    if (!target.isEmpty())
        std::memcpy(p, target.data(), size_t(target.size()));
    p += target.size();
    qToBigEndian<quint16>(quint16(outcome), p);
    qToBigEndian<quint16>(code, p + 2);
    p += CallResultFixedSize;
    if (!payload.isEmpty())
        std::memcpy(p, payload.data(), size_t(payload.size()));
    caller.commitOutput(Wire::HeaderSize + body);
}

void CallRouter::finish(const CallTable::Call &call, CallOutcome outcome, quint16 code, QByteArrayView payload)
{
    const qint64 roundTripUs = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - call.startedAt).count();
    Session *caller = m_sessions ? m_sessions(call.callerConnection) : nullptr;
    if (!caller || !caller->isOpen()) {
        ++m_counters.untold;
        tapCall(call.caller, call.target, outcome, code, roundTripUs, payload.size());
        return;
    }
    answer(*caller, call.callerCallId, call.target, outcome, code, payload, roundTripUs);
}

void CallRouter::registered(Session &holder)
{
    if (m_table.size() == 0)
        return;
    const std::vector<quint32> waiting = m_table.waitingFor(holder.name());
    if (waiting.empty())
        return;
    const Clock::time_point now = Clock::now();
    qCInfo(lcCalls).noquote() << "delivering" << waiting.size() << "waiting call(s) to" << holder.describe();
    for (quint32 id : waiting) {
        const CallTable::Call *call = m_table.find(id);
        if (!call)
            continue;
        if (!callable(holder) || !holder.isOpen()) {
            const std::optional<CallTable::Call> gone = m_table.take(id);
            finish(*gone, CallOutcome::NotCallable);
            continue;
        }
        const QByteArray payload = call->payload;
        m_table.bind(id, holder.id());
        if (!deliver(holder, *m_table.find(id), payload, now)) {
            const std::optional<CallTable::Call> gone = m_table.take(id);
            finish(*gone, CallOutcome::QueueFull);
        }
    }
}

void CallRouter::connectionClosed(const Session &session)
{
    if (m_table.size() != 0) {
        // As a caller: its results have nowhere to go. A reply still coming is dropped as late.
        m_table.takeForCaller(session.id());
        // As a callee (PROTOCOL ): whatever the reason — a Bye, a crash, the watchdog.
        const std::vector<CallTable::Call> orphaned = m_table.takeForCallee(session.id());
        for (const CallTable::Call &call : orphaned)
            finish(call, CallOutcome::CalleeGone);
    }
    m_table.forget(session.id());
}

void CallRouter::startFailed(const QByteArray &name)
{
    for (quint32 id : m_table.waitingFor(name)) {
        if (const std::optional<CallTable::Call> call = m_table.take(id))
            finish(*call, CallOutcome::StartFailed);
    }
}

void CallRouter::shutdown()
{
    m_shuttingDown = true;
    m_deadlineTimer.stop();
    for (const CallTable::Call &call : m_table.takeAll())
        finish(call, CallOutcome::ShuttingDown);
}

void CallRouter::scheduleDeadline()
{
    const std::optional<Clock::time_point> next = m_table.nextDeadline();
    if (!next) {
        m_deadlineTimer.stop();
        m_armedFor.reset();
        return;
    }
    // Armed for an earlier one already: that timeout re-arms for the rest.
    if (m_deadlineTimer.isActive() && m_armedFor && *m_armedFor <= *next)
        return;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now());
    m_armedFor = next;
    // +1: the timer's millisecond must not end before the deadline's nanoseconds.
    m_deadlineTimer.start(std::max<qint64>(0, qint64(wait.count()) + 1));
}

void CallRouter::expireDue()
{
    m_armedFor.reset();
    for (const CallTable::Call &call : m_table.takeDue(Clock::now()))
        finish(call, CallOutcome::Timeout);
    scheduleDeadline();
}

void CallRouter::tapCall(QByteArrayView caller, QByteArrayView callee, CallOutcome outcome, quint16 code,
                         qint64 roundTripUs, qsizetype replySize)
{
    TrafficTap *tap = m_tapSource ? m_tapSource->tap() : nullptr;
    if (Q_LIKELY(!tap))
        return;
    TrafficTap::CallEnd end;
    end.caller = caller;
    end.callee = callee;
    end.outcome = outcome;
    end.code = code;
    end.roundTripUs = roundTripUs;
    end.replySize = quint32(replySize);
    tap->recordCall(end);
}

} // namespace Kennel
