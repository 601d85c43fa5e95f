// Every client connection of the broker, by connection id: the door (the client limit, the refusal
// a native peer is told), the socket options an accepted descriptor gets, the Session it becomes,
// and its end — destroyed after the poller's batch (the batch may still point at it), memory handed
// back to the system a moment after closes. The deadlines on the connections (ConnectionDeadlines)
// find them here.
#pragma once

#include "logthrottle.h"
#include "session.h"
#include "timedconnection.h"

#include <QTimer>

#include <memory>
#include <unordered_map>
#include <vector>

namespace Kennel {

struct BrokerContext;

class ConnectionTable final : public TimedConnections
{
public:
    // After connections close, memory is handed back to the system at most this often.
    static constexpr int TrimDelayMs = 1000;

    explicit ConnectionTable(BrokerContext &context);
    ~ConnectionTable();
    ConnectionTable(const ConnectionTable &) = delete;
    ConnectionTable &operator=(const ConnectionTable &) = delete;

    // Takes an accepted, connected descriptor as a new connection: refused while the broker shuts
    // down or serves max_clients already (a native peer is told why), else non-blocking,
    // close-on-exec, TCP_NODELAY and keepalive for TCP, watched by the poller. Returns the
    // session, or nullptr if refused (the descriptor is closed either way).
    Session *adopt(int fd, Session::Transport transport);
    // What a connection refused at the door is sent before it is closed: an Error frame with
    // `code` and `text` (a native client reads it; an old client just sees the close).
    static QByteArray doorRefusal(ErrorCode code, const QString &text);

    // A session that has closed leaves the table; it is destroyed after the batch. False if it
    // was not in the table.
    bool release(Session &session);
    // Every session now, quietly: the broker's destructor.
    void clear();

    size_t size() const { return m_sessions.size(); }
    bool isEmpty() const { return m_sessions.empty(); }
    Session *find(quint64 id) const
    {
        const auto it = m_sessions.find(id);
        return it == m_sessions.end() ? nullptr : it->second.get();
    }
    // Every connection, registered or not. `fn` must not close any of them.
    template<typename Fn>
    void forEach(Fn &&fn) const
    {
        for (const auto &entry : m_sessions)
            fn(*entry.second);
    }
    // The open sessions as a list that closing them does not disturb.
    std::vector<Session *> snapshot() const;

    TimedConnection *timedConnection(quint64 id) const override { return find(id); }
    void forEachTimed(const std::function<void(TimedConnection &)> &fn) const override;

private:
    void refuseAtDoor(int fd, const QString &reason);
    static void trimMemory();

    BrokerContext &m_ctx;
    std::unordered_map<quint64, std::unique_ptr<Session>> m_sessions;
    std::vector<std::unique_ptr<Session>> m_closed;
    quint64 m_nextSessionId = 1;
    QTimer m_trimTimer;
    LogThrottle m_doorLog;
};

} // namespace Kennel
