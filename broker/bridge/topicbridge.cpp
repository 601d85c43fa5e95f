#include "topicbridge.h"
#include "logging.h"

#include "bridgewire.h"
#include "endpoint.h"
#include "mqttlink.h"
#include "names.h"
#include "topiccodec.h"
#include "topicname.h"

#include <cstring>

namespace Kennel {

namespace {
constexpr char Magic[4] = {'K', 'B', 'T', '1'};
constexpr quint8 FlagRetain = 0x01;
constexpr qint64 LogEveryMs = 10000;
const QByteArray TopicLevel = QByteArrayLiteral("topic/");
// The publisher of a cleared retained value: the MQTT broker clears only on an empty payload,
// which has no room for the name of whoever cleared it.
const QByteArray ClearPublisher = QByteArrayLiteral("bridge");

// Whether some topic matches both filters (checked filters, level by level).
bool overlap(const QList<QByteArray> &a, const QList<QByteArray> &b)
{
    for (qsizetype i = 0;; ++i) {
        const bool aEnds = i == a.size(), bEnds = i == b.size();
        if (aEnds || bEnds) // "x/#" also matches "x"
            return (aEnds && bEnds) || (aEnds && b.at(i) == "#") || (bEnds && a.at(i) == "#");
        if (a.at(i) == "#" || b.at(i) == "#")
            return true;
        if (a.at(i) != "+" && b.at(i) != "+" && a.at(i) != b.at(i))
            return false;
    }
}

// A filter that matches everything either matches (and perhaps more).
QList<QByteArray> join(const QList<QByteArray> &a, const QList<QByteArray> &b)
{
    QList<QByteArray> out;
    for (qsizetype i = 0; i < qMin(a.size(), b.size()); ++i) {
        if (a.at(i) == "#" || b.at(i) == "#") {
            out.append("#");
            return out;
        }
        out.append(a.at(i) == b.at(i) ? a.at(i) : QByteArrayLiteral("+"));
    }
    if (a.size() != b.size())
        out.append("#");
    return out;
}
} // namespace

// MQTT 3.1.1 lets a broker send a client one copy per matching subscription when its
// subscriptions overlap (mosquitto with allow_duplicate_messages, announced as its default, and
// other brokers do), so overlapping import filters are merged into one wider subscription until
// none overlap; what the wider one brings beyond import_topics is not imported.
QList<QByteArray> TopicBridge::subscriptionFilters(const QList<QByteArray> &filters)
{
    QList<QList<QByteArray>> merged;
    for (const QByteArray &filter : filters)
        merged.append(filter.split('/'));
    for (bool changed = true; changed;) {
        changed = false;
        for (qsizetype i = 0; i < merged.size() && !changed; ++i)
            for (qsizetype j = i + 1; j < merged.size() && !changed; ++j)
                if (overlap(merged.at(i), merged.at(j))) {
                    merged[i] = join(merged.at(i), merged.at(j));
                    merged.removeAt(j);
                    changed = true;
                }
    }
    QList<QByteArray> out;
    for (const QList<QByteArray> &levels : std::as_const(merged))
        out.append(levels.join('/'));
    return out;
}

TopicBridge::TopicBridge(TopicBus &bus, MqttLink &link, quint32 maxFrameSize, QObject *parent)
    : QObject(parent)
    , m_bus(bus)
    , m_link(link)
    , m_maxFrameSize(maxFrameSize)
{
    connect(&m_link, &MqttLink::published, this, &TopicBridge::acknowledged);
}

TopicBridge::~TopicBridge()
{
    m_bus.setObserver(nullptr);
}

QByteArray TopicBridge::encode(QByteArrayView publisher, QByteArrayView message, bool retain)
{
    QByteArray out;
    out.reserve(6 + publisher.size() + message.size());
    out.append(Magic, 4);
    out.append(char(retain ? FlagRetain : 0));
    out.append(char(quint8(publisher.size())));
    out.append(publisher.data(), publisher.size());
    out.append(message.data(), message.size());
    return out;
}

std::optional<TopicBridge::Decoded> TopicBridge::decode(const QByteArray &payload)
{
    if (payload.size() < 6 || std::memcmp(payload.constData(), Magic, 4) != 0)
        return std::nullopt;
    const quint8 flags = quint8(payload.at(4));
    const int nameLength = quint8(payload.at(5));
    if (flags & ~FlagRetain || payload.size() < 6 + nameLength)
        return std::nullopt;
    Decoded d;
    d.retain = flags & FlagRetain;
    d.publisher = payload.mid(6, nameLength);
    d.message = payload.mid(6 + nameLength);
    if (!isValidName(d.publisher))
        return std::nullopt;
    return d;
}

void TopicBridge::configure(const BridgeSettings &settings)
{
    const QList<QByteArray> oldExports = m_settings.exportTopics;
    // Another MQTT broker, or another board's topics: it holds none of our retained values.
    if (settings.url != m_settings.url || settings.board != m_settings.board || settings.prefix != m_settings.prefix)
        m_resyncAll = true;
    m_settings = settings;
    const qsizetype at = settings.prefix.indexOf(QLatin1String("{board}"));
    m_head = settings.prefix.left(at);
    m_tail = settings.prefix.mid(at + 7);
    m_ownPrefix = (BridgeWire::boardPrefix(settings.prefix, settings.board)).toUtf8() + TopicLevel;
    m_bus.setObserver(settings.exportTopics.isEmpty() ? nullptr : this);
    if (active())
        qCInfo(lcBridge).noquote() << "bridge topics: export" << settings.exportTopics.join(' ') << "; import"
                                   << settings.importTopics.join(' ');
    if (!m_link.isConnected()) {
        if (settings.exportTopics != oldExports)
            m_resyncAll = true; // the new filters' retained values go out at the next link up
        return;
    }
    syncSubscriptions();
    if (settings.exportTopics == oldExports)
        return;
    // Retained values that only a new filter covers are not on the MQTT broker yet.
    int sent = 0;
    m_bus.forEachRetained([&](const QByteArray &topic, const QByteArray &publisher, const QByteArray &message) {
        if (publisher.contains('@') || Topic::isReserved(topic) || !exports(topic))
            return;
        for (const QByteArray &filter : oldExports)
            if (Topic::matches(filter, topic))
                return;
        sent += exportNow(publisher, topic, message, true) ? 1 : 0;
    });
    if (sent)
        qCInfo(lcBridge, "bridge topics: %d retained values published for the new export filters", sent);
}

void TopicBridge::stop()
{
    m_bus.setObserver(nullptr);
    m_pending.clear();
}

QByteArray TopicBridge::mqttTopic(QByteArrayView topic) const
{
    return m_ownPrefix + topic.toByteArray();
}

QByteArray TopicBridge::importFilter(const QByteArray &filter) const
{
    return (m_head + QStringLiteral("+") + m_tail).toUtf8() + TopicLevel + filter;
}

bool TopicBridge::exports(QByteArrayView topic) const
{
    for (const QByteArray &filter : m_settings.exportTopics)
        if (Topic::matches(filter, topic))
            return true;
    return false;
}

bool TopicBridge::imports(QByteArrayView topic) const
{
    for (const QByteArray &filter : m_settings.importTopics)
        if (Topic::matches(filter, topic))
            return true;
    return false;
}

void TopicBridge::syncSubscriptions()
{
    QSet<QByteArray> wanted;
    for (const QByteArray &filter : subscriptionFilters(m_settings.importTopics))
        wanted.insert(importFilter(filter));
    for (const QByteArray &filter : std::as_const(m_subscribed))
        if (!wanted.contains(filter))
            m_link.unsubscribe(filter);
    // Subscribed again on every link up: a restarted MQTT broker without persistence forgot them.
    for (const QByteArray &filter : std::as_const(wanted))
        m_link.subscribe(filter);
    m_subscribed = wanted;
}

void TopicBridge::linkUp()
{
    m_pending.clear(); // a new connection numbers its messages anew
    syncSubscriptions();
    resync();
}

void TopicBridge::linkDown()
{
    // Handed to the link and not acknowledged: perhaps lost with the connection.
    m_counters.exportDropped += quint64(m_pending.size());
    m_pending.clear();
}

void TopicBridge::acknowledged(int mid)
{
    m_pending.remove(mid);
}

void TopicBridge::published(Endpoint &publisher, QByteArrayView topic, QByteArrayView message, bool retain)
{
    // Loop prevention: what came across the bridge (NAME@ORIGIN) never goes out again.
    if (&publisher == &m_importer || publisher.name().contains('@'))
        return;
    if (Topic::isReserved(topic) || !exports(topic))
        return;
    if (!m_link.isConnected()) {
        if (retain) {
            // Bounded by the retained store: past it, everything is published again.
            if (m_dirty.size() >= m_bus.settings().retainedCount) {
                m_dirty.clear();
                m_resyncAll = true;
            } else if (!m_resyncAll) {
                m_dirty.insert(topic.toByteArray());
            }
        }
        dropExport(QStringLiteral("the MQTT link is down"));
        return;
    }
    exportNow(publisher.name(), topic, message, retain);
}

bool TopicBridge::exportNow(QByteArrayView publisher, QByteArrayView topic, QByteArrayView message, bool retain)
{
    if (m_pending.size() >= m_settings.exportMaxPending) {
        dropExport(QStringLiteral("%1 exports await the MQTT broker's acknowledgement ([bridge] export_max_pending)")
                       .arg(m_pending.size()));
        return false;
    }
    const QByteArray payload = retain && message.isEmpty() ? QByteArray() : encode(publisher, message, retain);
    const int mid = m_link.publish(mqttTopic(topic), payload, retain, 1);
    if (mid < 0) {
        dropExport(QStringLiteral("the MQTT link refused the publish"));
        return false;
    }
    m_pending.insert(mid);
    ++m_counters.exported;
    return true;
}

void TopicBridge::resync()
{
    if (!m_link.isConnected() || m_settings.exportTopics.isEmpty())
        return;
    if (!m_resyncAll && m_dirty.isEmpty())
        return;
    QSet<QByteArray> dirty = std::move(m_dirty);
    const bool all = m_resyncAll;
    m_dirty.clear();
    m_resyncAll = false;
    int sent = 0;
    m_bus.forEachRetained([&](const QByteArray &topic, const QByteArray &publisher, const QByteArray &message) {
        const bool wanted = all || dirty.remove(topic);
        if (wanted && !publisher.contains('@') && !Topic::isReserved(topic) && exports(topic))
            sent += exportNow(publisher, topic, message, true) ? 1 : 0;
    });
    // Cleared while the link was down: cleared on the MQTT broker too.
    for (const QByteArray &topic : std::as_const(dirty))
        if (exports(topic))
            sent += exportNow({}, topic, {}, true) ? 1 : 0;
    qCInfo(lcBridge, "bridge topics: %d retained values published again after %s", sent,
           all ? "the first link up (or new export filters while down)" : "the outage");
}

bool TopicBridge::received(const QByteArray &mqttTopicName, const QByteArray &payload)
{
    const QByteArray head = m_head.toUtf8();
    const QByteArray tail = m_tail.toUtf8();
    if (!mqttTopicName.startsWith(head))
        return false;
    const qsizetype boardEnd = mqttTopicName.indexOf('/', head.size());
    if (boardEnd < 0)
        return false;
    const QByteArrayView rest = QByteArrayView(mqttTopicName).sliced(boardEnd);
    if (!rest.startsWith(tail) || !rest.sliced(tail.size()).startsWith(TopicLevel))
        return false; // not a topic's: directed messages and statuses are BridgeManager's
    const QByteArray origin = mqttTopicName.mid(head.size(), boardEnd - head.size());
    if (origin == m_settings.board)
        return true; // our own export, back from the MQTT broker: never imported
    const QByteArrayView topic = rest.sliced(tail.size() + TopicLevel.size());
    if (!isValidBoard(origin)) {
        dropImport(QStringLiteral("'%1': not a board id").arg(QString::fromUtf8(mqttTopicName)));
        return true;
    }
    const TopicSettings &bounds = m_bus.settings();
    const Topic::Check check = Topic::checkName(topic, bounds.maxTopicLength, bounds.maxLevels);
    if (check != Topic::Check::Ok) {
        dropImport(QStringLiteral("topic from board %1 (%2 bytes): %3 ([topics] max_topic_length %4, max_levels %5)")
                       .arg(QString::fromLatin1(origin))
                       .arg(topic.size())
                       .arg(QLatin1String(Topic::checkText(check)))
                       .arg(bounds.maxTopicLength)
                       .arg(bounds.maxLevels));
        return true;
    }
    if (!imports(topic)) {
        // Brought by a merged subscription (subscriptionFilters), or by a filter no longer in
        // import_topics that lingers in the MQTT broker's copy of our session: not asked for.
        qCDebug(lcBridge, "bridge topics: '%s' from board %s is not in import_topics", topic.toByteArray().constData(),
                origin.constData());
        return true;
    }
    if (Topic::isReserved(topic)) { // never exported by a board: someone else's publish
        dropImport(QStringLiteral("'%1' from board %2 starts with '$'").arg(QString::fromUtf8(topic.toByteArray()),
                                                                         QString::fromLatin1(origin)));
        return true;
    }
    Decoded d;
    if (payload.isEmpty()) {
        d.publisher = ClearPublisher;
        d.retain = true;
    } else if (std::optional<Decoded> decoded = decode(payload)) {
        d = std::move(*decoded);
    } else {
        dropImport(QStringLiteral("'%1' from board %2: not the bridge's topic format").arg(QString::fromUtf8(topic.toByteArray()),
                                                                                       QString::fromLatin1(origin)));
        return true;
    }
    const QByteArray name = d.publisher + '@' + origin;
    if (!isValidTarget(name)) {
        dropImport(QStringLiteral("publisher %1 is longer than a name").arg(QString::fromLatin1(name)));
        return true;
    }
    if (publicationFrameSize(name, topic, d.message) > m_maxFrameSize) {
        dropImport(QStringLiteral("'%1' from board %2: %3 bytes, past [limits] max_frame_size")
                       .arg(QString::fromUtf8(topic.toByteArray()), QString::fromLatin1(origin))
                       .arg(d.message.size()));
        return true;
    }
    // Stored values come again on every re-subscribe (each link up): the one we keep already is
    // not published a second time.
    const QByteArray key = topic.toByteArray();
    if (m_link.messageRetained() && d.retain && m_bus.retainedIs(key, name, d.message))
        return true;
    m_importer.setName(name);
    const TopicBus::Outcome outcome = m_bus.publish(m_importer, topic, d.message, d.retain, 0);
    if (outcome.result != ErrorCode::None && outcome.result != ErrorCode::RetainedStoreFull) {
        dropImport(outcome.text);
        return true;
    }
    ++m_counters.imported;
    return true;
}

void TopicBridge::drop(const char *direction, quint64 &count, DropLog &log, const QString &why)
{
    ++count;
    if (log.logged.isValid() && log.logged.elapsed() < LogEveryMs) {
        ++log.unlogged;
        return;
    }
    qCWarning(lcBridge).noquote() << QStringLiteral("bridge topics: %1 dropped:").arg(QLatin1String(direction)) << why
                                  << QStringLiteral("(%1 more since the last line; %2 in all)").arg(log.unlogged).arg(count);
    log.logged.start();
    log.unlogged = 0;
}

} // namespace Kennel
