// A TCP listening socket that hands each accepted descriptor to the broker instead of wrapping it
// in a QTcpSocket: sessions do their own batched I/O on the raw descriptor. The accepting itself,
// and surviving descriptor exhaustion, is SocketListener's.
#pragma once

#include "socketlistener.h"

#include <QHostAddress>

namespace Kennel {

class TcpListener : public SocketListener
{
    Q_OBJECT
public:
    using SocketListener::SocketListener;

    // QHostAddress::Any listens on both IPv6 and IPv4 where the system has IPv6, as QTcpServer
    // did. Port 0 lets the kernel choose (serverPort() tells which). False with errorString().
    bool listen(const QHostAddress &address, quint16 port);
    // A bound, listening TCP socket someone else created (systemd's socket activation). False
    // with errorString() if its address cannot be read.
    bool adoptPassed(int fd);
    QHostAddress serverAddress() const { return m_address; }
    quint16 serverPort() const { return m_port; }

private:
    QHostAddress m_address;
    quint16 m_port = 0;
};

} // namespace Kennel
