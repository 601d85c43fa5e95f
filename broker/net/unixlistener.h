// A Unix-domain listening socket that hands each accepted descriptor to the broker. It refuses to
// steal the path from a live broker and removes a stale socket file left by one that died; close()
// removes the socket file it created. The accepting itself, and surviving descriptor exhaustion,
// is SocketListener's.
#pragma once

#include "socketlistener.h"

namespace Kennel {

class UnixListener : public SocketListener
{
    Q_OBJECT
public:
    using SocketListener::SocketListener;
    ~UnixListener() override;

    // `path` relative to the working directory unless absolute. False with *error (and
    // errorString()) saying why.
    bool listenAt(const QString &path, QString *error);
    // A listening socket bound to `path` that someone else created (systemd's socket activation):
    // served like our own, but close() leaves the socket file alone, it belongs to its creator.
    void adoptPassed(int fd, const QString &path);
    // The socket file's absolute path; empty when not listening.
    QString fullServerName() const { return m_path; }
    void close() override;

private:
    QString m_path;
    bool m_ownsFile = false;
};

} // namespace Kennel
