// Private to the client library; not installed. A KennelClient's topic subscriptions (PROTOCOL
// §5.5): the filters it wants, sent whenever it registers (so a reconnect, also to a restarted
// broker, restores them), the requests awaiting their TopicAck, and the topic frames turned into
// KennelClient's signals.
#pragma once

#include "frame.h"

#include <QByteArray>
#include <QHash>
#include <QList>

#include <functional>

namespace Kennel {
class KennelClient;
struct Frame;
}

namespace Kennel::Internal {

class TopicSubscriptions
{
public:
    // Writes a frame on the current connection; false if there is none.
    using Writer = std::function<bool(FrameType type, quint32 id, quint16 flags, QByteArrayView payload)>;
    TopicSubscriptions(KennelClient *q, Writer writer);

    // `live`: registered with a broker that offers topics, so the request goes out now. False for
    // a filter the grammar refuses (nothing is remembered), or, unsubscribing, one not held.
    bool subscribe(const QByteArray &filter, bool live);
    bool unsubscribe(const QByteArray &filter, bool live);
    const QList<QByteArray> &filters() const { return m_filters; }
    // Just registered: every wanted filter is subscribed again (the new connection has none).
    void registered(bool brokerOffersTopics);
    // A TopicAck, PublishStatus or Publication; false for any other frame.
    bool handle(const Frame &frame);

private:
    quint32 request(FrameType type, const QByteArray &filter);

    KennelClient *const q;
    Writer m_write;
    QList<QByteArray> m_filters; // wanted, in the order first subscribed
    struct Pending
    {
        bool subscribe;
        QByteArray filter;
    };
    QHash<quint32, Pending> m_pending;
    quint32 m_nextId = 0;
};

} // namespace Kennel::Internal
