// A listening socket of our own, not QTcpServer or QLocalServer: on EMFILE/ENFILE QTcpServer stops
// accepting for good and QLocalServer's Unix implementation closes the server, so a broker that ran
// out of descriptors once would never take a connection again. This one keeps serving: it holds a
// spare descriptor, and when accept() fails for lack of descriptors it spends the spare to take the
// waiting connection, tells it why it is refused and closes it; if even that fails it stops watching
// for 100 ms instead of spinning on a level-triggered notifier. Accepting resumes by itself once
// descriptors are free again. Before it comes to that, the last two descriptors below the limit
// are kept free: a connection that lands on one is refused the same way. Two is a pipe, or a
// pidfd and a /proc directory: what the broker's own one-off work takes, and what UBSan's vptr
// check takes (it probes memory through a pipe and reports false errors in a process with no
// descriptor left), while clients still get all but two.
// TcpListener and UnixListener add the address family specifics.
#pragma once

#include "descriptorreserve.h"
#include "logthrottle.h"

#include <atomic>

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QTimer>

class QSocketNotifier;

namespace Kennel {

class SocketListener : public QObject
{
    Q_OBJECT
public:
    // A board starting all its services at once connects them in one burst; the kernel caps this
    // at net.core.somaxconn.
    static constexpr int DefaultBacklog = 4096;
    // accept() calls per wakeup before the event loop gets its turn again.
    static constexpr int MaxAcceptsPerWakeup = 64;
    // How long the listener stops watching when not even the spare descriptor helps.
    static constexpr int ExhaustedPauseMs = 100;
    // Descriptors just below RLIMIT_NOFILE (as it was when listening started) that clients may
    // not take: what an identity lookup (a /proc walk, a netlink socket, a socket table) and the
    // pidfd of a signal need at once. Descriptors held by pending work (heldDescriptors()) come
    // on top, so that they never eat this reserve.
    static constexpr int DescriptorReserve = 8;

    explicit SocketListener(QObject *parent = nullptr);
    ~SocketListener() override;

    void setListenBacklogSize(int size) { m_backlog = size; }
    int listenBacklogSize() const { return m_backlog; }
    bool isListening() const { return m_fd >= 0; }
    int socketDescriptor() const { return m_fd; }
    QString errorString() const { return m_errorString; }
    // Stops listening; a Unix listener also removes its socket file.
    virtual void close();

    // What a connection refused for lack of descriptors is sent before it is closed (the broker's
    // door refusal: an Error frame), if its first byte has arrived and is native. Empty, or a peer
    // that has sent nothing yet (it may be an old client): closed without a word.
    void setOutOfDescriptorsReply(QByteArray reply) { m_exhaustedReply = std::move(reply); }
    // The connection's first byte has arrived and begins a native frame (PROTOCOL ).
    static bool peerSpeaksNative(int fd);

    // Counters for tests and the log: connections refused because the process had no descriptor
    // left, and times the listener had to pause.
    quint64 refusedForDescriptors() const { return m_refusedForDescriptors; }
    quint64 pauses() const { return m_pauses; }

    // Runs one accept round now, as if the listening descriptor had become readable (tests).
    void acceptPending() { acceptReady(); }

signals:
    // A connected descriptor, non-blocking and close-on-exec. The receiver owns it.
    void accepted(int fd);

protected:
    // Takes a bound, listening descriptor (the subclass created it, or systemd passed it) and
    // starts watching it.
    void adoptListening(int fd);
    void setErrorString(const QString &text) { m_errorString = text; }

private:
    void acceptReady();
    // accept() failed with EMFILE/ENFILE: spends the spare on the waiting connection. True if one
    // was refused and the loop may go on; false when drained or paused.
    bool refuseOneWithoutDescriptors();
    void pause();
    void resume();
    void logExhausted(int error);
    void openSpare();
    void refuseAccepted(int fd);

    int m_fd = -1;
    int m_spare = -1;
    int m_backlog = DefaultBacklog;
    int m_reserveFrom = -1; // accepted descriptors numbered this high or higher are refused
    QSocketNotifier *m_notifier = nullptr;
    QTimer m_resumeTimer;
    QString m_errorString;
    QByteArray m_exhaustedReply;
    LogThrottle m_log{1};
    quint64 m_refusedForDescriptors = 0;
    quint64 m_pauses = 0;
};

} // namespace Kennel
