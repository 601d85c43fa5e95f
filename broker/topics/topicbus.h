// Publish/subscribe (PROTOCOL §5.5): who subscribed to what (a TopicTree), the retained value of
// each topic, and the fan-out of a publication. Knows endpoints, not sockets: a subscriber is an
// Endpoint, written to through its reserve/commit contract exactly as Router writes a message,
// so the per-connection output bound of directed messages bounds publications too.
//
// Fan-out cost: the Publication frame is encoded once per publication into one buffer; every
// native subscriber gets a memcpy of those bytes into its own output queue. That copy remains
// because each connection's output is one contiguous byte queue handed to write(2); sharing the
// bytes by reference would need a scatter/gather queue per connection, which every directed
// message would then pay for. An old-protocol subscriber gets its own 552-byte frame (its name is
// in the frame).
#pragma once

#include "frame.h"
#include "topicsettings.h"
#include "topictree.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QList>
#include <QString>

#include <vector>

namespace Kennel {

struct BrokerConfig;
struct MonitorTopics;
class Endpoint;
class NameRegistry;
class Router;
class SendGate;
class SharedFrame;

// A connection's subscriptions, or a configured name's (endpoint null: delivered to whoever holds
// the name when the publication comes).
struct TopicSubscriber
{
    Endpoint *endpoint = nullptr;
    QByteArray name;
    QList<QByteArray> filters;
    quint64 lastPublication = 0; // the publication it was last visited for: one copy per subscriber
    quint64 notTaken = 0;        // publications it could not take (queue full, unfit)
};

struct TopicCounters
{
    quint64 publications = 0; // publishes accepted
    quint64 delivered = 0;    // copies queued to subscribers
    quint64 notTaken = 0;     // copies a subscriber could not take (its queue was full, or it cannot carry them)
    quint64 refused = 0;      // publishes and subscribes refused (grammar, bounds, '$')
    quint64 retainRefused = 0;// retained publications not kept (the store's bounds)
};

// Told of every publication the bus accepted, after its fan-out: the bridge's topic export
// (broker/bridge/topicbridge.h, docs/FLEET.md "Topics"). Unset (null) costs one test per publication.
class PublicationObserver
{
public:
    virtual ~PublicationObserver() = default;
    virtual void published(Endpoint &publisher, QByteArrayView topic, QByteArrayView message, bool retain) = 0;
};

class TopicBus
{
public:
    TopicBus(const BrokerConfig &config, const NameRegistry &registry, Router &router);
    ~TopicBus();
    TopicBus(const TopicBus &) = delete;
    TopicBus &operator=(const TopicBus &) = delete;

    const TopicSettings &settings() const;
    // Asked for every client publication while set (PROTOCOL ): only while the policy has
    // send rules on topics; null: no check at all.
    void setSendGate(SendGate *gate) { m_sendGate = gate; }
    void setObserver(PublicationObserver *observer) { m_observer = observer; }

    struct Answer
    {
        ErrorCode result = ErrorCode::None;
        quint32 count = 0;
        QString text;
    };
    // Adds `filter` for `endpoint`; count: retained publications it matches, which the caller
    // sends with sendRetained() right after its ack.
    Answer subscribe(Endpoint &endpoint, QByteArrayView filter);
    Answer unsubscribe(Endpoint &endpoint, QByteArrayView filter);
    // The retained publications matching `filter`, each as a Publication with RetainFlag, through
    // the endpoint's output bound (one that does not fit is counted, not queued).
    void sendRetained(Endpoint &endpoint, QByteArrayView filter);

    struct Outcome
    {
        ErrorCode result = ErrorCode::None;
        quint32 delivered = 0;
        quint32 notTaken = 0;
        QString text;
    };
    // A publication from `publisher` (its registered name is stamped as the source).
    // `fromBroker`: the broker's own publication, which may use a '$' topic; a client's may not.
    Outcome publish(Endpoint &publisher, QByteArrayView topic, QByteArrayView message, bool retain,
                    quint32 messageId, bool fromBroker = false);

    // The topic a message to `name` publishes to (config publish_names), or empty.
    QByteArrayView topicForName(QByteArrayView name) const
    {
        if (Q_LIKELY(m_publishNames.isEmpty()))
            return {};
        const auto it = m_publishNames.constFind(QByteArray::fromRawData(name.data(), name.size()));
        return it == m_publishNames.constEnd() ? QByteArrayView() : QByteArrayView(*it);
    }

    // The endpoint is going away: its subscriptions go with it.
    void endpointGone(Endpoint &endpoint);

    int subscriptionsOf(const Endpoint &endpoint) const;
    quint64 notTakenBy(const Endpoint &endpoint) const;
    int subscriptionCount() const { return m_tree.size(); }
    int retainedCount() const { return int(m_retained.size()); }
    qint64 retainedBytes() const { return m_retainedBytes; }
    const TopicCounters &counters() const { return m_counters; }

    // Per-topic figures for monitors (PROTOCOL §6.8), for at most [topics] max_tracked_topics
    // topics; publications to others are only counted together.
    struct TopicStats
    {
        quint64 publications = 0;
        quint64 publicationsMark = 0; // publications when the monitor stream last measured the rate
        quint32 subscribers = 0;      // matched by the last publication
        qint64 lastPublishedMs = 0;
    };
    const QHash<QByteArray, TopicStats> &topicStats() const { return m_topicStats; }
    // The monitors' Topics record: the figures, and at most `maxEntries` topics, the busiest
    // (by rate since the last call, then by publications) first. Measures the rate: each call
    // starts a new interval.
    void fillMonitorTopics(MonitorTopics &record, int maxEntries, qint64 nowMs) const;
    quint64 untrackedPublications() const { return m_untrackedPublications; }
    quint64 topicStatsGeneration() const { return m_topicStatsGeneration; } // changes with every publication
    // The retained value's size, or -1 when none is kept.
    qint64 retainedSize(const QByteArray &topic) const;
    QList<QByteArray> filtersOf(const Endpoint &endpoint) const;
    // Every retained value: visit(topic, publisher, message). For the bridge's re-export after
    // an outage; bounded by [topics] retained_count.
    template<typename Visit>
    void forEachRetained(Visit &&visit) const
    {
        for (auto it = m_retained.cbegin(); it != m_retained.cend(); ++it)
            visit(it.key(), it->publisher, it->message);
    }
    // Whether `topic` keeps exactly this value from this publisher.
    bool retainedIs(const QByteArray &topic, QByteArrayView publisher, QByteArrayView message) const;

private:
    struct Retained
    {
        QByteArray publisher;
        QByteArray message;
        quint32 messageId = 0;
    };
    void noteTopic(QByteArrayView topic, quint32 subscribers);
    bool offer(Endpoint &to, const char *bytes, size_t size);
    bool offerShared(Endpoint &to, SharedFrame &frame);
    bool deliverTo(Endpoint &to, Endpoint &publisher, QByteArrayView message, quint32 messageId);
    Answer checkFilter(QByteArrayView filter) const;
    bool retain(Endpoint &publisher, QByteArrayView topic, QByteArrayView message, quint32 messageId, QString *why);

    const BrokerConfig &m_config;
    const NameRegistry &m_registry;
    Router &m_router;
    TopicTree m_tree;
    QHash<const Endpoint *, TopicSubscriber *> m_subscribers;
    QList<TopicSubscriber *> m_named; // from the config, for the broker's life
    QHash<QByteArray, QByteArray> m_publishNames;
    QHash<QByteArray, Retained> m_retained;
    qint64 m_retainedBytes = 0;
    quint64 m_sequence = 0;
    QByteArray m_encoded; // the one Publication frame of the publication being fanned out
    // Who the last publication's topic matched, for that topic and tree generation: a topic
    // published over and over (a sensor's) is not walked again until a subscription changes.
    // The walk's level lookups hash every level (docs/BENCHMARKS.md, "Fan-out").
    std::vector<TopicSubscriber *> m_matched;
    QByteArray m_matchedTopic;
    quint64 m_matchedGeneration = 0;
    bool m_matchedValid = false;
    TopicCounters m_counters;
    mutable QHash<QByteArray, TopicStats> m_topicStats; // marks move with fillMonitorTopics
    mutable qint64 m_lastMeasuredMs = 0;
    quint64 m_untrackedPublications = 0;
    quint64 m_topicStatsGeneration = 0;
    SendGate *m_sendGate = nullptr;
    PublicationObserver *m_observer = nullptr;
};

} // namespace Kennel
