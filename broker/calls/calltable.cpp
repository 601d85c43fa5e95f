#include "calltable.h"

#include <QSet>

#include <algorithm>

namespace Kennel {

quint32 CallTable::add(Call call)
{
    // Ids wrap after 2^32 calls; one still in use (a long wait) is skipped, 0 is never given.
    do {
        ++m_lastId;
    } while (m_lastId == 0 || m_calls.count(m_lastId));
    call.id = m_lastId;
    m_byCaller[call.callerConnection].insert(call.callerCallId, call.id);
    if (call.calleeConnection)
        m_byCallee[call.calleeConnection].insert(call.id);
    else
        m_waiting[call.target].push_back(call.id);
    m_deadlines.emplace(call.deadline, call.id);
    const quint32 id = call.id;
    m_calls.emplace(id, std::move(call));
    return id;
}

void CallTable::bind(quint32 id, quint64 calleeConnection)
{
    const auto it = m_calls.find(id);
    if (it == m_calls.end() || it->second.calleeConnection)
        return;
    Call &call = it->second;
    if (auto waiting = m_waiting.find(call.target); waiting != m_waiting.end()) {
        std::vector<quint32> &ids = *waiting;
        ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
        if (ids.empty())
            m_waiting.erase(waiting);
    }
    call.calleeConnection = calleeConnection;
    call.payload = QByteArray(); // delivered: nothing to keep
    m_byCallee[calleeConnection].insert(id);
}

const CallTable::Call *CallTable::find(quint32 id) const
{
    const auto it = m_calls.find(id);
    return it == m_calls.end() ? nullptr : &it->second;
}

std::optional<CallTable::Call> CallTable::take(quint32 id)
{
    const auto it = m_calls.find(id);
    if (it == m_calls.end())
        return std::nullopt;
    Call call = std::move(it->second);
    m_calls.erase(it);
    // An emptied per-connection index stays until forget(): the connection is likely to call again.
    if (auto caller = m_byCaller.find(call.callerConnection); caller != m_byCaller.end())
        caller->remove(call.callerCallId);
    if (call.calleeConnection) {
        if (auto callee = m_byCallee.find(call.calleeConnection); callee != m_byCallee.end())
            callee->remove(id);
    } else if (auto waiting = m_waiting.find(call.target); waiting != m_waiting.end()) {
        std::vector<quint32> &ids = *waiting;
        ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
        if (ids.empty())
            m_waiting.erase(waiting);
    }
    m_deadlines.erase({call.deadline, id});
    return call;
}

std::vector<CallTable::Call> CallTable::takeDue(Clock::time_point now)
{
    std::vector<quint32> due;
    for (auto it = m_deadlines.begin(); it != m_deadlines.end() && it->first <= now; ++it)
        due.push_back(it->second);
    std::vector<Call> calls;
    calls.reserve(due.size());
    for (quint32 id : due) {
        if (std::optional<Call> call = take(id))
            calls.push_back(std::move(*call));
    }
    return calls;
}

std::optional<CallTable::Clock::time_point> CallTable::nextDeadline() const
{
    if (m_deadlines.empty())
        return std::nullopt;
    return m_deadlines.begin()->first;
}

std::vector<CallTable::Call> CallTable::takeForCallee(quint64 calleeConnection)
{
    const QSet<quint32> ids = m_byCallee.value(calleeConnection);
    std::vector<quint32> sorted(ids.begin(), ids.end());
    std::sort(sorted.begin(), sorted.end()); // oldest first, for the log's sake
    std::vector<Call> calls;
    for (quint32 id : sorted) {
        if (std::optional<Call> call = take(id))
            calls.push_back(std::move(*call));
    }
    return calls;
}

std::vector<CallTable::Call> CallTable::takeForCaller(quint64 callerConnection)
{
    const QHash<quint32, quint32> ids = m_byCaller.value(callerConnection);
    std::vector<Call> calls;
    for (quint32 id : ids) {
        if (std::optional<Call> call = take(id))
            calls.push_back(std::move(*call));
    }
    return calls;
}

void CallTable::forget(quint64 connection)
{
    m_byCaller.remove(connection);
    m_byCallee.remove(connection);
}

std::vector<quint32> CallTable::waitingFor(const QByteArray &name) const
{
    return m_waiting.value(name);
}

std::vector<CallTable::Call> CallTable::takeAll()
{
    std::vector<quint32> ids;
    ids.reserve(m_calls.size());
    for (const auto &[id, call] : m_calls)
        ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    std::vector<Call> calls;
    for (quint32 id : ids) {
        if (std::optional<Call> call = take(id))
            calls.push_back(std::move(*call));
    }
    return calls;
}

size_t CallTable::waitingCount() const
{
    size_t n = 0;
    for (const std::vector<quint32> &ids : m_waiting)
        n += ids.size();
    return n;
}

} // namespace Kennel
