#include "holdtable.h"

#include "memorybudget.h"

#include <algorithm>

namespace Kennel {

namespace {
std::string_view keyOf(QByteArrayView name)
{
    return std::string_view(name.data(), size_t(name.size()));
}
} // namespace

HoldTable::~HoldTable()
{
    // Whatever is still held leaves the broker-wide budget with the table.
    m_total.subtract(m_bytes);
}

HoldTable::Verdict HoldTable::hold(Message message, const HoldLimits &limits, Clock::time_point now)
{
    const qint64 cost = message.cost();
    auto it = m_queues.find(keyOf(message.target));
    const int count = it == m_queues.end() ? 0 : int(it->second->messages.size());
    const qint64 bytes = it == m_queues.end() ? 0 : it->second->bytes;
    if (count >= limits.maxCount) {
        ++m_counters.droppedNameCount;
        return Verdict::OverNameCount;
    }
    if (bytes + cost > limits.maxBytes) {
        ++m_counters.droppedNameBytes;
        return Verdict::OverNameBytes;
    }
    if (m_total.limit() > 0 && m_total.used() + cost > m_total.limit()) {
        ++m_counters.droppedTotal;
        return Verdict::OverTotal;
    }
    if (it == m_queues.end()) {
        auto queue = std::make_unique<Queue>();
        queue->name = message.target;
        const std::string_view key = keyOf(queue->name);
        it = m_queues.emplace(key, std::move(queue)).first;
    }
    message.heldAt = now;
    message.expiresAt = now + limits.ttl;
    Queue &queue = *it->second;
    queue.bytes += cost;
    queue.messages.push_back(std::move(message));
    ++m_count;
    m_bytes += cost;
    m_total.add(cost); // checked above: never past the limit
    ++m_counters.held;
    return Verdict::Held;
}

std::vector<HoldTable::Verdict> HoldTable::holdFront(std::vector<Message> messages, const HoldLimits &limits,
                                                     Clock::time_point now)
{
    std::vector<Verdict> verdicts;
    verdicts.reserve(messages.size());
    if (messages.empty())
        return verdicts;
    auto it = m_queues.find(keyOf(messages.front().target));
    if (it == m_queues.end()) {
        auto queue = std::make_unique<Queue>();
        queue->name = messages.front().target;
        const std::string_view key = keyOf(queue->name);
        it = m_queues.emplace(key, std::move(queue)).first;
    }
    Queue &queue = *it->second;
    Clock::time_point expiresAt = now + limits.ttl;
    if (!queue.messages.empty())
        expiresAt = std::min(expiresAt, queue.messages.front().expiresAt);
    std::deque<Message> kept;
    for (Message &message : messages) {
        const qint64 cost = message.cost();
        Verdict verdict = Verdict::Held;
        if (int(queue.messages.size() + kept.size()) >= limits.maxCount)
            verdict = Verdict::OverNameCount;
        else if (queue.bytes + cost > limits.maxBytes)
            verdict = Verdict::OverNameBytes;
        else if (m_total.limit() > 0 && m_total.used() + cost > m_total.limit())
            verdict = Verdict::OverTotal;
        verdicts.push_back(verdict);
        switch (verdict) {
        case Verdict::Held: break;
        case Verdict::OverNameCount: ++m_counters.droppedNameCount; continue;
        case Verdict::OverNameBytes: ++m_counters.droppedNameBytes; continue;
        case Verdict::OverTotal: ++m_counters.droppedTotal; continue;
        }
        message.heldAt = now;
        message.expiresAt = expiresAt;
        queue.bytes += cost;
        ++m_count;
        m_bytes += cost;
        m_total.add(cost);
        ++m_counters.held;
        ++m_counters.reheld;
        kept.push_back(std::move(message));
    }
    if (kept.empty() && queue.messages.empty())
        m_queues.erase(it);
    else
        queue.messages.insert(queue.messages.begin(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
    return verdicts;
}

void HoldTable::release(const Message &message, Queue &queue)
{
    const qint64 cost = message.cost();
    queue.bytes -= cost;
    --m_count;
    m_bytes -= cost;
    m_total.subtract(cost);
}

std::deque<HoldTable::Message> HoldTable::take(QByteArrayView name)
{
    auto it = m_queues.find(keyOf(name));
    if (it == m_queues.end())
        return {};
    std::unique_ptr<Queue> queue = std::move(it->second);
    m_queues.erase(it);
    for (const Message &message : queue->messages)
        release(message, *queue);
    m_counters.flushed += queue->messages.size();
    return std::move(queue->messages);
}

std::deque<HoldTable::Message> HoldTable::takeStartFailed(QByteArrayView name)
{
    std::deque<Message> messages = take(name);
    m_counters.flushed -= messages.size();
    m_counters.startFailed += messages.size();
    return messages;
}

std::vector<HoldTable::Message> HoldTable::takeAll()
{
    std::vector<Message> all;
    all.reserve(size_t(m_count));
    for (auto &[key, queue] : m_queues) {
        for (Message &message : queue->messages) {
            release(message, *queue);
            all.push_back(std::move(message));
        }
    }
    m_queues.clear();
    return all;
}

std::vector<HoldTable::Message> HoldTable::expire(Clock::time_point now)
{
    std::vector<Message> gone;
    for (auto it = m_queues.begin(); it != m_queues.end();) {
        Queue &queue = *it->second;
        // One name's messages share its ttl, so they expire front first.
        while (!queue.messages.empty() && queue.messages.front().expiresAt <= now) {
            release(queue.messages.front(), queue);
            gone.push_back(std::move(queue.messages.front()));
            queue.messages.pop_front();
            ++m_counters.expired;
        }
        if (queue.messages.empty())
            it = m_queues.erase(it);
        else
            ++it;
    }
    return gone;
}

std::optional<HoldTable::Clock::time_point> HoldTable::nextExpiry() const
{
    std::optional<Clock::time_point> next;
    for (const auto &[key, queue] : m_queues) {
        if (!queue->messages.empty() && (!next || queue->messages.front().expiresAt < *next))
            next = queue->messages.front().expiresAt;
    }
    return next;
}

std::optional<HoldTable::NameSummary> HoldTable::summary(QByteArrayView name) const
{
    auto it = m_queues.find(keyOf(name));
    if (it == m_queues.end() || it->second->messages.empty())
        return std::nullopt;
    const Queue &queue = *it->second;
    return NameSummary{int(queue.messages.size()), queue.bytes, queue.messages.front().heldAt, queue.messages.front().expiresAt};
}

std::vector<std::pair<QByteArray, HoldTable::NameSummary>> HoldTable::summaries() const
{
    std::vector<std::pair<QByteArray, NameSummary>> out;
    for (const auto &[key, queue] : m_queues) {
        if (!queue->messages.empty())
            out.emplace_back(queue->name, NameSummary{int(queue->messages.size()), queue->bytes, queue->messages.front().heldAt,
                                                queue->messages.front().expiresAt});
    }
    std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    return out;
}

const char *holdVerdictName(HoldTable::Verdict verdict)
{
    switch (verdict) {
    case HoldTable::Verdict::Held: return "held";
    case HoldTable::Verdict::OverNameCount: return "the name's max_count";
    case HoldTable::Verdict::OverNameBytes: return "the name's max_bytes";
    case HoldTable::Verdict::OverTotal: return "total_bytes";
    }
    return "?";
}

} // namespace Kennel
