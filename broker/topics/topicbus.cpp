#include "topicbus.h"
#include "logging.h"

#include "brokerconfig.h"
#include "endpoint.h"
#include "framecodec.h"
#include "legacyframe.h"
#include "monitorcodec.h"
#include "nameregistry.h"
#include "router.h"
#include "topiccodec.h"
#include "sendgate.h"
#include "sharedframe.h"
#include "topicname.h"

#include <QDateTime>

#include <algorithm>
#include <cstring>
#include <limits>

namespace Kennel {

namespace {

QString checkWhy(const char *what, QByteArrayView text, Topic::Check check)
{
    return QStringLiteral("%1 '%2': %3").arg(QLatin1String(what), QString::fromUtf8(text), QLatin1String(Topic::checkText(check)));
}

} // namespace

TopicBus::TopicBus(const BrokerConfig &config, const NameRegistry &registry, Router &router)
    : m_config(config)
    , m_registry(registry)
    , m_router(router)
{
    const TopicSettings &s = config.topics;
    // The loader has checked them; one that slipped past would only be skipped.
    for (const TopicSettings::NamedSubscription &named : s.subscriptions) {
        if (Topic::checkFilter(named.filter, s.maxTopicLength, s.maxLevels) != Topic::Check::Ok)
            continue;
        TopicSubscriber *subscriber = nullptr;
        for (TopicSubscriber *existing : std::as_const(m_named))
            if (existing->name == named.name)
                subscriber = existing;
        if (!subscriber) {
            subscriber = new TopicSubscriber;
            subscriber->name = named.name;
            m_named.append(subscriber);
        }
        if (m_tree.add(named.filter, subscriber))
            subscriber->filters.append(named.filter);
    }
    for (const TopicSettings::PublishName &mapped : s.publishNames)
        m_publishNames.insert(mapped.name, mapped.topic);
}

TopicBus::~TopicBus()
{
    qDeleteAll(m_subscribers);
    qDeleteAll(m_named);
}

const TopicSettings &TopicBus::settings() const
{
    return m_config.topics;
}

TopicBus::Answer TopicBus::checkFilter(QByteArrayView filter) const
{
    const TopicSettings &s = settings();
    const Topic::Check check = Topic::checkFilter(filter, s.maxTopicLength, s.maxLevels);
    if (check == Topic::Check::Ok)
        return {};
    return {ErrorCode::InvalidTopic, 0, checkWhy("filter", filter, check)};
}

TopicBus::Answer TopicBus::subscribe(Endpoint &endpoint, QByteArrayView filter)
{
    Answer answer = checkFilter(filter);
    if (answer.result != ErrorCode::None) {
        ++m_counters.refused;
        return answer;
    }
    TopicSubscriber *&subscriber = m_subscribers[&endpoint];
    if (!subscriber) {
        subscriber = new TopicSubscriber;
        subscriber->endpoint = &endpoint;
    }
    const QByteArray key = filter.toByteArray();
    if (!subscriber->filters.contains(key)) {
        if (subscriber->filters.size() >= settings().maxSubscriptions) {
            ++m_counters.refused;
            if (subscriber->filters.isEmpty()) {
                delete subscriber;
                m_subscribers.remove(&endpoint);
            }
            return {ErrorCode::TooManySubscriptions, 0,
                    QStringLiteral("this connection already holds %1 subscriptions ([topics] max_subscriptions)")
                        .arg(settings().maxSubscriptions)};
        }
        m_tree.add(key, subscriber);
        subscriber->filters.append(key);
    }
    // As in MQTT, subscribing again to a filter one holds sends its retained values again.
    if (!Topic::hasWildcard(filter)) {
        answer.count = m_retained.contains(key) ? 1 : 0;
    } else {
        // Only on subscribe, and bounded by [topics] retained_count: the retained store is a
        // plain table, walked for a wildcard filter; publications never walk it.
        for (auto it = m_retained.cbegin(); it != m_retained.cend(); ++it)
            answer.count += Topic::matches(filter, it.key()) ? 1 : 0;
    }
    return answer;
}

void TopicBus::sendRetained(Endpoint &endpoint, QByteArrayView filter)
{
    auto send = [&](const QByteArray &topic, const Retained &r) {
        const size_t size = publicationFrameSize(r.publisher, topic, r.message);
        m_encoded.resize(qsizetype(size));
        writePublication(m_encoded.data(), r.messageId, RetainFlag, r.publisher, topic, r.message);
        if (offer(endpoint, m_encoded.constData(), size)) {
            ++m_counters.delivered;
        } else {
            ++m_counters.notTaken;
            if (TopicSubscriber *s = m_subscribers.value(&endpoint))
                ++s->notTaken;
        }
    };
    if (!Topic::hasWildcard(filter)) {
        const QByteArray key = QByteArray::fromRawData(filter.data(), filter.size());
        const auto it = m_retained.constFind(key);
        if (it != m_retained.constEnd())
            send(it.key(), *it);
        return;
    }
    for (auto it = m_retained.cbegin(); it != m_retained.cend(); ++it)
        if (Topic::matches(filter, it.key()))
            send(it.key(), *it);
}

TopicBus::Answer TopicBus::unsubscribe(Endpoint &endpoint, QByteArrayView filter)
{
    Answer answer = checkFilter(filter);
    if (answer.result != ErrorCode::None)
        return answer;
    const auto it = m_subscribers.find(&endpoint);
    if (it == m_subscribers.end())
        return answer; // count 0: it held none
    TopicSubscriber *subscriber = *it;
    const QByteArray key = filter.toByteArray();
    if (subscriber->filters.removeOne(key)) {
        m_tree.remove(key, subscriber);
        answer.count = 1;
    }
    if (subscriber->filters.isEmpty()) {
        m_subscribers.erase(it);
        delete subscriber;
    }
    return answer;
}

void TopicBus::endpointGone(Endpoint &endpoint)
{
    TopicSubscriber *subscriber = m_subscribers.take(&endpoint);
    if (!subscriber)
        return;
    for (const QByteArray &filter : std::as_const(subscriber->filters))
        m_tree.remove(filter, subscriber);
    delete subscriber;
}

int TopicBus::subscriptionsOf(const Endpoint &endpoint) const
{
    const TopicSubscriber *subscriber = m_subscribers.value(&endpoint);
    return subscriber ? int(subscriber->filters.size()) : 0;
}

quint64 TopicBus::notTakenBy(const Endpoint &endpoint) const
{
    const TopicSubscriber *subscriber = m_subscribers.value(&endpoint);
    return subscriber ? subscriber->notTaken : 0;
}

bool TopicBus::retain(Endpoint &publisher, QByteArrayView topic, QByteArrayView message, quint32 messageId, QString *why)
{
    const QByteArray key = QByteArray::fromRawData(topic.data(), topic.size());
    const auto existing = m_retained.find(key);
    const qint64 oldBytes = existing == m_retained.end() ? 0 : topic.size() + existing->message.size();
    if (message.isEmpty()) { // MQTT: an empty retained publication clears the topic's value
        if (existing != m_retained.end()) {
            m_retained.erase(existing);
            m_retainedBytes -= oldBytes;
        }
        return true;
    }
    const TopicSettings &s = settings();
    if (existing == m_retained.end() && m_retained.size() >= s.retainedCount) {
        *why = QStringLiteral("not retained: the broker keeps %1 retained topics ([topics] retained_count)").arg(s.retainedCount);
        return false;
    }
    const qint64 newBytes = topic.size() + message.size();
    if (m_retainedBytes - oldBytes + newBytes > s.retainedBytes) {
        *why = QStringLiteral("not retained: retained values would take more than %1 bytes ([topics] retained_bytes)").arg(s.retainedBytes);
        return false;
    }
    Retained value{publisher.name(), message.toByteArray(), messageId};
    if (existing != m_retained.end())
        *existing = std::move(value);
    else
        m_retained.insert(topic.toByteArray(), std::move(value));
    m_retainedBytes += newBytes - oldBytes;
    return true;
}

TopicBus::Outcome TopicBus::publish(Endpoint &publisher, QByteArrayView topic, QByteArrayView message, bool retainIt,
                                    quint32 messageId, bool fromBroker)
{
    Outcome outcome;
    const TopicSettings &s = settings();
    const Topic::Check check = Topic::checkName(topic, s.maxTopicLength, s.maxLevels);
    if (check != Topic::Check::Ok) {
        ++m_counters.refused;
        outcome.result = ErrorCode::InvalidTopic;
        outcome.text = checkWhy("topic", topic, check);
        return outcome;
    }
    if (Topic::isReserved(topic) && !fromBroker) {
        ++m_counters.refused;
        outcome.result = ErrorCode::ReservedTopic;
        outcome.text = QStringLiteral("topics starting with '$' are the broker's own");
        return outcome;
    }
    if (Q_UNLIKELY(m_sendGate) && !fromBroker && !m_sendGate->allowsTopic(publisher, topic, PolicyPath::Publish)) {
        ++m_counters.refused;
        outcome.result = ErrorCode::PolicyDenied;
        outcome.text = m_sendGate->lastRefusal();
        return outcome;
    }
    ++publisher.counters.messagesIn;
    publisher.counters.bytesIn += quint64(message.size());
    ++m_counters.publications;
    if (retainIt && !retain(publisher, topic, message, messageId, &outcome.text)) {
        ++m_counters.retainRefused;
        outcome.result = ErrorCode::RetainedStoreFull;
    }

    // Each subscriber once, however many of its filters match. The same topic as last time, with
    // no subscription added or removed since (a removed subscriber may have been freed), matches
    // the same subscribers.
    if (!m_matchedValid || m_matchedGeneration != m_tree.generation() || QByteArrayView(m_matchedTopic) != topic) {
        const quint64 sequence = ++m_sequence;
        m_matched.clear();
        m_tree.match(topic, [&](TopicSubscriber *subscriber) {
            if (subscriber->lastPublication == sequence)
                return;
            subscriber->lastPublication = sequence;
            m_matched.push_back(subscriber);
        });
        m_matchedTopic.resize(topic.size()); // keeps its capacity: no allocation per topic change
        std::memcpy(m_matchedTopic.data(), topic.data(), size_t(topic.size()));
        m_matchedGeneration = m_tree.generation();
        m_matchedValid = true;
    }
    bool encoded = false;
    SharedFrame *shared = nullptr; // the encoded frame, when subscribers share it
    for (TopicSubscriber *subscriber : m_matched) {
        Endpoint *to = subscriber->endpoint;
        if (!to) {
            // A configured name: whoever holds it now gets an ordinary message; nobody: nothing.
            const NameEntry *entry = m_registry.find(subscriber->name);
            to = entry ? entry->receiver : nullptr;
            if (!to)
                continue;
        }
        bool taken = false;
        if (subscriber->endpoint) {
            if (!encoded) { // once per publication, whatever the number of subscribers
                const size_t size = publicationFrameSize(publisher.name(), topic, message);
                // From [topics] shared_frame_bytes on, the subscribers' queues share one frame;
                // below it a copy each costs less than the reference (docs/BENCHMARKS.md,
                // "Shared fan-out frames"). Measured sharing every frame against copying every
                // one (kennel-fanoutbench, one build, alternated, medians of 3, broker CPU per
                // delivered message): 500-byte payloads 130 against 118 ns at 1 -> 16; 700 bytes
                // 134 against 132 ns at 1 -> 16 and 264 against 213 ns at 16 -> 16 (copies win);
                // 1024 bytes 148 against 183 ns and 467 against 1248 ns (sharing wins: sixteen
                // publishers' copies outgrow the pooled 1 MiB buffer of a subscriber's queue);
                // 16 KiB 2.9 against 5.0 us, 1.78x the delivered msg/s. Hence 1024 by default.
                // Out of memory for the frame: copies, as before.
                if (size >= quint64(s.sharedFrameBytes) && m_matched.size() > 1)
                    shared = SharedFrame::create(size);
                if (shared) {
                    writePublication(shared->data(), messageId, NoFlags, publisher.name(), topic, message);
                } else {
                    m_encoded.resize(qsizetype(size));
                    writePublication(m_encoded.data(), messageId, NoFlags, publisher.name(), topic, message);
                }
                encoded = true;
            }
            taken = shared ? offerShared(*to, *shared) : offer(*to, m_encoded.constData(), size_t(m_encoded.size()));
        } else {
            taken = deliverTo(*to, publisher, message, messageId);
        }
        if (taken) {
            ++outcome.delivered;
            ++to->counters.messagesOut;
            to->counters.bytesOut += quint64(message.size());
        } else {
            ++outcome.notTaken;
            ++subscriber->notTaken;
            ++to->droppedTowards;
        }
    }
    if (shared)
        shared->deref(); // the queues that took it hold it now
    m_counters.delivered += outcome.delivered;
    m_counters.notTaken += outcome.notTaken;
    noteTopic(topic, quint32(m_matched.size()));
    if (Q_UNLIKELY(m_observer))
        m_observer->published(publisher, topic, message, retainIt);
    if (Q_UNLIKELY(m_router.tap())) {
        TrafficTap::Publication record;
        record.topic = topic;
        record.payload = message;
        record.reached = outcome.delivered;
        record.notTaken = outcome.notTaken;
        record.retain = retainIt;
        record.result = outcome.result;
        m_router.tap()->recordPublication(publisher, record);
    }
    return outcome;
}

bool TopicBus::offer(Endpoint &to, const char *bytes, size_t size)
{
    // The bound of directed messages (Router::deliver): an empty queue takes any frame, so a
    // publication of the largest legal size still reaches a reader that keeps up.
    const size_t bound = size_t(m_config.maxOutputQueueBytes);
    const size_t pending = to.pendingOutput();
    if (pending + size > bound && pending != 0)
        return false;
    char *dst = to.reserveOutput(size);
    if (!dst)
        return false;
    std::memcpy(dst, bytes, size);
    to.commitOutput(size);
    return true;
}

bool TopicBus::offerShared(Endpoint &to, SharedFrame &frame)
{
    // offer()'s bound, counted in the same bytes.
    const size_t bound = size_t(m_config.maxOutputQueueBytes);
    const size_t pending = to.pendingOutput();
    if (pending + frame.size() > bound && pending != 0)
        return false;
    return to.queueShared(frame);
}

// A configured name's copy: an ordinary message from the publisher, in the holder's protocol.
bool TopicBus::deliverTo(Endpoint &to, Endpoint &publisher, QByteArrayView message, quint32 messageId)
{
    const QByteArray &source = publisher.name();
    size_t size = 0;
    const bool legacy = to.protocol() == Endpoint::Protocol::Legacy;
    if (legacy) {
        if (source.size() > Legacy::MaxNameLength || message.size() > Legacy::MaxTextLength)
            return false; // it cannot carry it: counted as not taken
        size = Legacy::FrameSize;
    } else if (to.protocol() == Endpoint::Protocol::Native) {
        size = size_t(Wire::HeaderSize + source.size() + to.name().size() + message.size());
    } else {
        return false;
    }
    const size_t pending = to.pendingOutput();
    if (pending + size > size_t(m_config.maxOutputQueueBytes) && pending != 0)
        return false;
    char *dst = to.reserveOutput(size);
    if (!dst)
        return false;
    if (legacy) {
        Legacy::encode(dst, Legacy::Command::Forward, 0, to.name(), source, message);
    } else {
        writeHeader(dst, FrameType::Deliver, quint32(size - Wire::HeaderSize), messageId, quint8(source.size()),
                    quint8(to.name().size()), NoFlags);
        char *p = dst + Wire::HeaderSize;
        std::memcpy(p, source.constData(), size_t(source.size()));
        p += source.size();
        std::memcpy(p, to.name().constData(), size_t(to.name().size()));
        p += to.name().size();
        if (!message.isEmpty())
            std::memcpy(p, message.data(), size_t(message.size()));
    }
    to.commitOutput(size);
    return true;
}

void TopicBus::noteTopic(QByteArrayView topic, quint32 subscribers)
{
    const QByteArray key = QByteArray::fromRawData(topic.data(), topic.size());
    auto it = m_topicStats.find(key);
    if (it == m_topicStats.end()) {
        // Bounded: a board with more topics than max_tracked_topics keeps figures for the first
        // ones and counts the rest together.
        if (m_topicStats.size() >= qMax(0, settings().maxTrackedTopics)) {
            ++m_untrackedPublications;
            ++m_topicStatsGeneration; // the record's totals changed
            return;
        }
        it = m_topicStats.insert(topic.toByteArray(), TopicStats{});
    }
    ++it->publications;
    it->subscribers = subscribers;
    it->lastPublishedMs = QDateTime::currentMSecsSinceEpoch();
    ++m_topicStatsGeneration;
}

qint64 TopicBus::retainedSize(const QByteArray &topic) const
{
    const auto it = m_retained.constFind(topic);
    return it == m_retained.constEnd() ? -1 : qint64(it->message.size());
}

bool TopicBus::retainedIs(const QByteArray &topic, QByteArrayView publisher, QByteArrayView message) const
{
    const auto it = m_retained.constFind(topic);
    return it != m_retained.constEnd() && QByteArrayView(it->publisher) == publisher && QByteArrayView(it->message) == message;
}

QList<QByteArray> TopicBus::filtersOf(const Endpoint &endpoint) const
{
    const TopicSubscriber *subscriber = m_subscribers.value(&endpoint, nullptr);
    return subscriber ? subscriber->filters : QList<QByteArray>();
}

void TopicBus::fillMonitorTopics(MonitorTopics &record, int maxEntries, qint64 nowMs) const
{
    const qint64 intervalMs = m_lastMeasuredMs > 0 ? qMax<qint64>(1, nowMs - m_lastMeasuredMs) : 0;
    m_lastMeasuredMs = nowMs;
    record.timeMs = nowMs;
    record.intervalMs = quint32(qMin<qint64>(intervalMs, std::numeric_limits<quint32>::max()));
    record.trackedTopics = quint32(m_topicStats.size());
    record.untrackedPublications = m_untrackedPublications;
    record.retainedTopics = quint32(m_retained.size());
    record.retainedBytes = quint64(qMax<qint64>(0, m_retainedBytes));
    record.subscriptions = quint32(m_tree.size());
    record.publications = m_counters.publications;
    record.copiesDelivered = m_counters.delivered;
    record.copiesNotTaken = m_counters.notTaken;

    std::vector<MonitorTopicEntry> all;
    all.reserve(size_t(m_topicStats.size()));
    for (auto it = m_topicStats.begin(); it != m_topicStats.end(); ++it) {
        MonitorTopicEntry e;
        e.topic = it.key();
        e.publications = it->publications;
        const quint64 recent = it->publications - it->publicationsMark;
        it->publicationsMark = it->publications;
        e.rateMilli = intervalMs > 0 ? quint32(qMin<quint64>(recent * 1000 * 1000 / quint64(intervalMs), std::numeric_limits<quint32>::max())) : 0;
        e.subscribers = it->subscribers;
        const auto retained = m_retained.constFind(it.key());
        e.retained = retained != m_retained.constEnd();
        e.retainedBytes = e.retained ? quint32(retained->message.size()) : 0;
        e.lastPublishedMs = it->lastPublishedMs;
        all.push_back(std::move(e));
    }
    const size_t keep = qMin(all.size(), size_t(qMax(0, maxEntries)));
    const auto busier = [](const MonitorTopicEntry &a, const MonitorTopicEntry &b) {
        if (a.rateMilli != b.rateMilli)
            return a.rateMilli > b.rateMilli;
        if (a.publications != b.publications)
            return a.publications > b.publications;
        return a.topic < b.topic;
    };
    std::partial_sort(all.begin(), all.begin() + qsizetype(keep), all.end(), busier);
    record.entries.reserve(qsizetype(keep));
    for (size_t i = 0; i < keep; ++i)
        record.entries.append(std::move(all[i]));
}

} // namespace Kennel
