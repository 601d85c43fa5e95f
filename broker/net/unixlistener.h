// A Unix-domain listening socket that hands each accepted descriptor to the broker. It refuses to
// steal the path from a live broker and removes a stale socket file left by one that died.
#pragma once

#include <QLocalServer>

namespace Kennel {

class UnixListener : public QLocalServer
{
    Q_OBJECT
public:
    using QLocalServer::QLocalServer;

    bool listenAt(const QString &path, QString *error);

signals:
    void accepted(int fd);

protected:
    void incomingConnection(quintptr socketDescriptor) override { emit accepted(int(socketDescriptor)); }
};

} // namespace Kennel
