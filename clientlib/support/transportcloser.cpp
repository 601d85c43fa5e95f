#include "transportcloser.h"

#include <QAbstractSocket>
#include <QLocalSocket>
#include <QTimer>

namespace Kennel {

namespace {
// QAbstractSocket and QLocalSocket close alike but share no base that has these calls.
template<typename Socket, typename Disconnect, typename State>
void closeSocket(Socket *socket, bool graceful, bool owned, std::chrono::milliseconds grace, Disconnect disconnectFromPeer,
                 State unconnected)
{
    if (graceful) {
        // flush() hands buffered bytes (a Bye) to the kernel now, so the close is normally
        // immediate and nothing is lost if the process exits right after.
        socket->flush();
        (socket->*disconnectFromPeer)();
    } else {
        socket->abort();
    }
    if (!owned)
        return;
    if (socket->state() == unconnected) {
        socket->deleteLater();
        return;
    }
    QObject::connect(socket, &Socket::disconnected, socket, &QObject::deleteLater);
    QTimer::singleShot(grace, socket, [socket] {
        socket->abort();
        socket->deleteLater();
    });
}
} // namespace

void closeTransport(QIODevice *device, bool graceful, bool owned, std::chrono::milliseconds grace)
{
    if (!device)
        return;
    if (auto *socket = qobject_cast<QAbstractSocket *>(device)) {
        closeSocket(socket, graceful, owned, grace, &QAbstractSocket::disconnectFromHost, QAbstractSocket::UnconnectedState);
    } else if (auto *local = qobject_cast<QLocalSocket *>(device)) {
        closeSocket(local, graceful, owned, grace, &QLocalSocket::disconnectFromServer, QLocalSocket::UnconnectedState);
    } else {
        device->close();
        if (owned)
            device->deleteLater();
    }
}

} // namespace Kennel
