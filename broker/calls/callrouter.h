// Calls in the broker (PROTOCOL §5.6, docs/ARCHITECTURE.md "Calls"): the glue between the call
// table (pure bookkeeping, calltable.h) and the broker's connections. It
// - takes a Call from a registered client and hands it to the callee as a CallIncoming, under an
//   id of the broker's, or waits for a callee that is expected back (held delivery's answer), or
//   answers at once (no_such_client, too_many_calls, ...);
// - forwards a Reply to its caller as a CallResult, matched by (callee connection, call id): a
//   reply from any other connection, or after the call ended, is dropped and counted;
// - ends calls at their deadline (one timer, armed to the earliest), when the callee's
//   connection ends (callee_gone), and forgets a caller's calls when the caller goes.
#pragma once

#include "calltable.h"
#include "frame.h"
#include "logthrottle.h"

#include <QByteArrayView>
#include <QObject>
#include <QTimer>

#include <array>
#include <functional>

namespace Kennel {

struct BrokerConfig;
struct FrameView;
class NameRegistry;
class Router;
class SendGate;
class Session;

class CallRouter : public QObject
{
    Q_OBJECT

public:
    using Clock = CallTable::Clock;
    // A live connection by its id (Broker::sessionById), or nullptr.
    using SessionLookup = std::function<Session *(quint64)>;
    // Whether a name nobody holds is expected back (held delivery, PROTOCOL §5.4); asking may
    // start an on-demand service.
    using ExpectsName = std::function<bool(QByteArrayView)>;

    static constexpr int OutcomeCount = 13; // one slot per CallOutcome value

    struct Counters
    {
        quint64 calls = 0;          // Calls taken into the table
        quint64 delivered = 0;      // CallIncoming frames written to a callee
        quint64 waited = 0;         // calls that waited for their callee to register
        quint64 lateReplies = 0;    // Replies to no outstanding call (after its timeout, or never made)
        quint64 strangerReplies = 0;// Replies naming a call made to another connection
        quint64 untold = 0;         // results whose caller had gone
        std::array<quint64, OutcomeCount> outcomes{}; // results, by outcome
    };

    CallRouter(const BrokerConfig &config, const NameRegistry &registry, SessionLookup sessions,
               QObject *parent = nullptr);

    void setExpectedNames(ExpectsName expects) { m_expects = std::move(expects); }
    // Ended calls are reported to the router's traffic tap while one is set (monitors, PROTOCOL §6.8).
    void setTapSource(const Router *router) { m_tapSource = router; }
    // Asked for every call while set (PROTOCOL ): only while the policy has send rules on names.
    void setSendGate(SendGate *gate) { m_sendGate = gate; }

    // A Call or a Reply from a client connection (NativeHandler's one call into calls/).
    void handle(Session &session, const FrameView &frame);
    // `holder` has registered its name: calls waiting for it are delivered (after held messages).
    void registered(Session &holder);
    // A connection closed: its calls as a callee end callee_gone, as a caller are forgotten.
    void connectionClosed(const Session &session);
    // The on-demand start for `name` failed: calls waiting for it end start_failed.
    void startFailed(const QByteArray &name);
    // The broker stops: every outstanding call ends shutting_down, new ones are refused so.
    void shutdown();

    const CallTable &table() const { return m_table; }
    const Counters &counters() const { return m_counters; }

private:
    void call(Session &caller, const FrameView &frame);
    void reply(Session &callee, const FrameView &frame);
    // Writes the CallIncoming for `call` into `callee`'s output; false (and nothing written) when
    // its queue is full.
    bool deliver(Session &callee, const CallTable::Call &call, QByteArrayView payload, Clock::time_point now);
    // The caller's answer: a CallResult on the connection that made the call, if it is still there.
    void finish(const CallTable::Call &call, CallOutcome outcome, quint16 code = 0, QByteArrayView payload = {});
    void answer(Session &caller, quint32 callerCallId, QByteArrayView target, CallOutcome outcome, quint16 code = 0,
                QByteArrayView payload = {}, qint64 roundTripUs = 0);
    void tapCall(QByteArrayView caller, QByteArrayView callee, CallOutcome outcome, quint16 code, qint64 roundTripUs,
                 qsizetype replySize);
    void expireDue();
    void scheduleDeadline();
    bool callable(const Session &callee) const;

    const BrokerConfig &m_config;
    const NameRegistry &m_registry;
    SessionLookup m_sessions;
    ExpectsName m_expects;
    SendGate *m_sendGate = nullptr;
    CallTable m_table;
    Counters m_counters;
    QTimer m_deadlineTimer;
    std::optional<Clock::time_point> m_armedFor;
    LogThrottle m_log;
    bool m_shuttingDown = false;
    const Router *m_tapSource = nullptr;
};

} // namespace Kennel
