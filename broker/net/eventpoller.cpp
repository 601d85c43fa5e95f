#include "eventpoller.h"
#include "errnotext.h"
#include "logging.h"

#include <QSocketNotifier>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <unistd.h>

namespace Kennel {

namespace {
// Enough to drain a busy loop in few passes, small enough that timers and the listeners get a
// turn between batches.
constexpr int MaxEventsPerBatch = 256;
} // namespace

EventPoller::EventPoller(QObject *parent)
    : QObject(parent)
{
    m_epollFd = epoll_create1(EPOLL_CLOEXEC);
    if (m_epollFd < 0) {
        qCCritical(lcPoller, "epoll_create1 failed: %s", qPrintable(errnoText(errno)));
        return;
    }
    m_notifier = new QSocketNotifier(m_epollFd, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &EventPoller::processReady);
}

EventPoller::~EventPoller()
{
    if (m_epollFd >= 0)
        ::close(m_epollFd);
}

bool EventPoller::add(int fd, PollHandler *handler, uint32_t events)
{
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    if (epoll_ctl(m_epollFd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return true;
    qCWarning(lcPoller, "epoll_ctl(ADD, %d) failed: %s", fd, qPrintable(errnoText(errno)));
    return false;
}

bool EventPoller::modify(int fd, PollHandler *handler, uint32_t events)
{
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    if (epoll_ctl(m_epollFd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return true;
    qCWarning(lcPoller, "epoll_ctl(MOD, %d) failed: %s", fd, qPrintable(errnoText(errno)));
    return false;
}

void EventPoller::remove(int fd)
{
    // Closing the descriptor would drop it from the set too, but only once every duplicate is
    // closed; removing explicitly keeps the set exact.
    epoll_ctl(m_epollFd, EPOLL_CTL_DEL, fd, nullptr);
}

void EventPoller::markDirty(PollHandler *handler)
{
    if (handler->m_flushQueued)
        return;
    handler->m_flushQueued = true;
    m_dirty.push_back(handler);
    if (!m_inBatch && !m_flushScheduled) {
        // Output produced outside a batch (a timer, a shutdown): flush it on the next pass rather
        // than from inside the caller, so callers never see handlers flush beneath them.
        m_flushScheduled = true;
        QMetaObject::invokeMethod(this, [this] {
            m_flushScheduled = false;
            flushDirty();
        }, Qt::QueuedConnection);
    }
}

void EventPoller::forget(PollHandler *handler)
{
    if (!handler->m_flushQueued)
        return;
    handler->m_flushQueued = false;
    std::replace(m_dirty.begin(), m_dirty.end(), handler, static_cast<PollHandler *>(nullptr));
}

void EventPoller::processReady()
{
    epoll_event events[MaxEventsPerBatch];
    const int n = epoll_wait(m_epollFd, events, MaxEventsPerBatch, 0);
    if (n < 0) {
        if (errno != EINTR)
            qCWarning(lcPoller, "epoll_wait failed: %s", qPrintable(errnoText(errno)));
        return;
    }
    m_inBatch = true;
    for (int i = 0; i < n; ++i)
        static_cast<PollHandler *>(events[i].data.ptr)->pollEvent(events[i].events);
    m_inBatch = false;
    flushDirty();
}

void EventPoller::flushDirty()
{
    // A flush may mark further handlers dirty (a closed connection releasing its peers), so walk
    // by index over a list that can grow.
    for (size_t i = 0; i < m_dirty.size(); ++i) {
        PollHandler *handler = m_dirty[i];
        if (!handler)
            continue;
        handler->m_flushQueued = false;
        handler->flushOutput();
    }
    m_dirty.clear();
}

} // namespace Kennel
