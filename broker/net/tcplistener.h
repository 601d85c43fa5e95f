// A TCP listening socket that hands each accepted descriptor to the broker instead of wrapping it
// in a QTcpSocket: sessions do their own batched I/O on the raw descriptor.
#pragma once

#include <QTcpServer>

namespace Kennel {

class TcpListener : public QTcpServer
{
    Q_OBJECT
public:
    using QTcpServer::QTcpServer;

signals:
    void accepted(int fd);

protected:
    void incomingConnection(qintptr socketDescriptor) override { emit accepted(int(socketDescriptor)); }
};

} // namespace Kennel
