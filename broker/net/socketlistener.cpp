#include "socketlistener.h"
#include "errnotext.h"
#include "logging.h"

#include "frame.h"

#include <QPointer>
#include <QSocketNotifier>

#include <cerrno>
#include <cstring>
#include <limits>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Kennel {

SocketListener::SocketListener(QObject *parent)
    : QObject(parent)
{
    m_resumeTimer.setSingleShot(true);
    connect(&m_resumeTimer, &QTimer::timeout, this, &SocketListener::resume);
}

SocketListener::~SocketListener()
{
    // Not virtual dispatch here: a subclass that owns a file removes it in its own destructor.
    SocketListener::close();
}

void SocketListener::close()
{
    m_resumeTimer.stop();
    delete m_notifier;
    m_notifier = nullptr;
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    if (m_spare >= 0) {
        ::close(m_spare);
        m_spare = -1;
    }
}

void SocketListener::openSpare()
{
    if (m_spare < 0)
        m_spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void SocketListener::adoptListening(int fd)
{
    m_fd = fd;
    // Taken now, while descriptors are plentiful: it is what lets the listener answer a
    // connection when there are none left.
    openSpare();
    // Descriptors are allocated lowest first: one numbered N means all below N are taken.
    rlimit limit{};
    m_reserveFrom = -1;
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
        && limit.rlim_cur <= rlim_t(std::numeric_limits<int>::max()) && limit.rlim_cur > rlim_t(4 * DescriptorReserve))
        m_reserveFrom = int(limit.rlim_cur) - DescriptorReserve;
    m_notifier = new QSocketNotifier(qintptr(fd), QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SocketListener::acceptReady);
}

void SocketListener::acceptReady()
{
    if (m_fd < 0)
        return;
    // A receiver of accepted() may close or even delete this listener (a shutdown started from
    // inside the slot).
    const QPointer<SocketListener> self(this);
    for (int i = 0; i < MaxAcceptsPerWakeup; ++i) {
        const int fd = ::accept4(m_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0 && m_reserveFrom >= 0 && fd >= m_reserveFrom - heldDescriptors().load(std::memory_order_relaxed)) {
            logExhausted(EMFILE);
            refuseAccepted(fd);
            continue;
        }
        if (fd >= 0) {
            Q_EMIT accepted(fd);
            if (!self || m_fd < 0)
                return;
            continue;
        }
        const int error = errno;
        switch (error) {
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
            return;
        case EMFILE:
        case ENFILE:
            logExhausted(error);
            if (!refuseOneWithoutDescriptors())
                return;
            continue;
        case ENOBUFS:
        case ENOMEM:
            // The kernel itself is short: nothing to spend, wait for it to recover.
            logExhausted(error);
            pause();
            return;
        default:
            // ECONNABORTED, EPROTO, EINTR, network errors the kernel reports on the new
            // connection: that connection is gone, the listener is fine.
            continue;
        }
    }
}

bool SocketListener::refuseOneWithoutDescriptors()
{
    if (m_spare < 0) {
        pause();
        return false;
    }
    ::close(m_spare);
    m_spare = -1;
    const int fd = ::accept4(m_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    const int acceptError = errno;
    if (fd >= 0)
        refuseAccepted(fd);
    errno = acceptError;
    const bool drained = fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    openSpare();
    if (m_spare < 0 || (fd < 0 && !drained)) {
        // Someone took the descriptor we freed, or the table is full system-wide: stepping back
        // is all that is left, or the level-triggered notifier would spin.
        pause();
        return false;
    }
    return fd >= 0;
}

bool SocketListener::peerSpeaksNative(int fd)
{
    // A peek, so nothing is consumed; a peer that has sent nothing yet is not known to be native.
    char first = 0;
    return ::recv(fd, &first, 1, MSG_PEEK | MSG_DONTWAIT) == 1 && uchar(first) == uchar(Wire::Magic >> 8);
}

void SocketListener::refuseAccepted(int fd)
{
    ++m_refusedForDescriptors;
    if (!m_exhaustedReply.isEmpty() && peerSpeaksNative(fd)) {
        [[maybe_unused]] const ssize_t ignored =
            ::send(fd, m_exhaustedReply.constData(), size_t(m_exhaustedReply.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(fd);
}

void SocketListener::pause()
{
    if (!m_notifier || m_resumeTimer.isActive())
        return;
    ++m_pauses;
    m_notifier->setEnabled(false);
    m_resumeTimer.start(ExhaustedPauseMs);
}

void SocketListener::resume()
{
    if (m_fd < 0 || !m_notifier)
        return;
    openSpare();
    m_notifier->setEnabled(true);
}

void SocketListener::logExhausted(int error)
{
    int suppressed = 0;
    if (!m_log.allow(&suppressed))
        return;
    if (suppressed)
        qCWarning(lcBroker, "%d more times out of descriptors", suppressed);
    if (error == EMFILE && m_reserveFrom >= 0)
        qCWarning(lcBroker, "out of file descriptors (all but the %d kept free are taken): refusing new "
                  "connections, existing ones are served", DescriptorReserve);
    else
        qCWarning(lcBroker, "out of file descriptors (%s): refusing new connections, existing ones are served",
                  qPrintable(errnoText(error)));
}

} // namespace Kennel
