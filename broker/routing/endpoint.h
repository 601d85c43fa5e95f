// What the router delivers to and what it counts a message against: an endpoint. A client
// connection (Session) is one; a sender inside the broker (LocalSender) is another. A held-message
// queue, a topic's subscribers or a name on another board each become one more kind of endpoint,
// not one more branch in Router: the router only asks an endpoint the questions below.
//
// The name, protocol, counters and route cache are plain members, read without a call. The output
// side is virtual: the router makes three indirect calls per delivered message (pending, reserve,
// commit), where it made two direct out-of-line calls and read the queue size inline when it knew
// only Session — about 1 ns more per message in kennel-microbench's routing benchmark. A Session
// is `final`, so calls made through a Session stay direct.
#pragma once

#include "sharedframe.h"
#include "trafficcounters.h"

#include <QByteArray>
#include <QHash>
#include <QString>

#include <cstddef>
#include <cstring>

namespace Kennel {

struct NameEntry;
class NameRegistry;
class DeliveryLedger;

// A sender's last target, so a stream of messages to one peer costs a compare, not a hash lookup.
// Valid while the registry's generation it was taken under is current (NameRegistry::generation()).
struct RouteCache
{
    NameEntry *entry = nullptr;
    quint64 generation = ~quint64(0);
};

// The access policy's verdicts on this sender's routes (broker/policy/sendgate.h): the last one,
// compared like RouteCache, and a bounded table of the others. Valid while the generation they
// were taken under (policy and registry together) is current; untouched while [policy] has no
// send rules.
struct SendVerdict
{
    qint32 rule = -1; // the deciding rule's index; -1: the default
    bool allowed = true;
};
struct SendVerdicts
{
    quint64 generation = ~quint64(0);
    QByteArray lastTarget;
    SendVerdict last;
    QHash<QByteArray, SendVerdict> routes;
};

class Endpoint
{
public:
    // The encoding a receiver reads: Router writes a Deliver (native) or a 552-byte cmd 2 frame
    // (legacy) straight into its output. Unknown: nothing valid said yet.
    enum class Protocol : quint8 { Unknown, Native, Legacy };

    virtual ~Endpoint() = default;
    Endpoint(const Endpoint &) = delete;
    Endpoint &operator=(const Endpoint &) = delete;

    // The name it registered (or, for a legacy main connection, is bound to); empty before.
    const QByteArray &name() const { return m_name; }
    Protocol protocol() const { return m_protocol; }
    // Its place in the name table while it holds a name; null otherwise (NameRegistry keeps it).
    NameEntry *nameEntry() const { return m_entry; }
    // For log lines: the name and where it comes from.
    virtual QString describe() const = 0;

    // --- receiving: the router's encode-in-place contract --------------------------------------
    // Bytes queued and not yet taken by the reader: the router checks the queue bound against it.
    virtual size_t pendingOutput() const = 0;
    // Room for `n` bytes at the end of the output, or nullptr if there is none (the endpoint has
    // dealt with the failure, e.g. a connection out of memory closes). The router encodes the
    // message there in protocol() and then commits exactly `n` bytes.
    virtual char *reserveOutput(size_t n) = 0;
    virtual void commitOutput(size_t n) = 0;
    // One frame encoded once for many receivers (TopicBus's fan-out): a connection queues a
    // reference to it (Session); any other endpoint takes a copy, as reserveOutput() would.
    virtual bool queueShared(SharedFrame &frame)
    {
        char *dst = reserveOutput(frame.size());
        if (!dst)
            return false;
        std::memcpy(dst, frame.data(), frame.size());
        commitOutput(frame.size());
        return true;
    }

    // --- holding a name: NameRegistry's questions -------------------------------------------------
    // The holder is gone for good (its peer hung up; the broker has not seen it yet): a newcomer
    // may take its name. An endpoint without a peer is never gone by itself.
    virtual bool isPeerGone() const { return false; }
    // Both endpoints belong to one process instance, so they may share a name (a legacy program's
    // receive and main connections, or a program using both protocols). *why (if given) says
    // why not.
    virtual bool sameProcessAs(Endpoint &other, QString *why)
    {
        (void)other;
        if (why)
            *why = QStringLiteral("%1 has no process to compare").arg(describe());
        return false;
    }
    // The registry unbound it from its name (its peer was gone) for a newcomer, and the
    // registering code ends it now: a connection closes. Only endpoints that hold names get here.
    virtual void evict(const QString &detail) { (void)detail; }
    // The broker ends the client holding a name: its watchdog expired (`text` says why), or an
    // operator disconnected it (`text` names who). A connection tells its peer as far as its
    // protocol allows and closes; false if there was nothing open to end (an endpoint without a
    // peer has none), so the caller counts only what it ended.
    enum class EndReason : quint8 { WatchdogExpired, ByOperator };
    virtual bool end(EndReason reason, const QString &text)
    {
        (void)reason;
        (void)text;
        return false;
    }

    // Counted by the router: what it sent in and what was queued towards it.
    TrafficCounters counters;
    // The router's memory of this sender's last target.
    RouteCache routeCache;
    // The send policy's verdicts on its targets (names) and topics (SendGate).
    SendVerdicts sendVerdicts;
    SendVerdicts topicVerdicts;
    // Messages to this endpoint that were dropped (its queue was full, or too small for them).
    quint64 droppedTowards = 0;
    // A receiver that acknowledges its Delivers (PROTOCOL §5.7): the router records each one here
    // and its `delivered` waits for the acknowledgement. Null for every other endpoint.
    DeliveryLedger *unacked = nullptr;
    // The connection a later status for a message from this sender goes to; 0: none (PROTOCOL §5.7).
    virtual quint64 statusConnection() const { return 0; }

protected:
    Endpoint() = default;

    QByteArray m_name;
    NameEntry *m_entry = nullptr;
    Protocol m_protocol = Protocol::Unknown;

private:
    // Evicting a dead holder unbinds it from its entry (NameRegistry::registerReceiver).
    friend class NameRegistry;
};

} // namespace Kennel
