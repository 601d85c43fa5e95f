// Private to the client library; not installed. A KennelClient's calls: the outstanding
// PendingCalls by id, incoming calls turned into IncomingCall objects, and the frames of both
// (PROTOCOL §5.6) on the client's connection.
#pragma once

#include "kennelcalls.h"

#include <QHash>
#include <QObject>
#include <QPointer>

#include <functional>

namespace Kennel {
class KennelClient;
struct Frame;
}

namespace Kennel::Internal {

class ClientConnection;

class CallBook : public QObject
{
public:
    CallBook(KennelClient *client, ClientConnection *connection);

    PendingCall *call(const QByteArray &target, const QByteArray &payload, int timeoutMs);
    void setHandler(std::function<void(IncomingCall *)> handler) { m_handler = std::move(handler); }
    // CallIncoming and CallResult frames, while registered.
    void frameReceived(const Frame &frame);
    // The connection ended: outstanding calls fail with LinkLost, incoming calls can no longer be answered.
    void linkLost(const QString &why);
    // An IncomingCall's answer; false if its connection is gone.
    bool sendReply(quint64 generation, quint32 id, quint16 code, QByteArrayView payload);

private:
    void failLater(PendingCall *call, PendingCall::Result result, const QString &text);

    KennelClient *const m_client;
    ClientConnection *const m_connection;
    QHash<quint32, QPointer<PendingCall>> m_pending;
    QHash<quint32, QPointer<IncomingCall>> m_incoming;
    std::function<void(IncomingCall *)> m_handler;
};

} // namespace Kennel::Internal
