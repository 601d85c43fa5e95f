// One epoll instance inside the Qt event loop. Qt watches the single epoll descriptor; when it is
// readable we take a whole batch of ready connections with one epoll_wait(), let each consume its
// input, and only then flush the output every handler produced — many frames per write(), one
// write() per connection per batch, as a bare forwarder does (bench/idealnative). Qt's own
// dispatcher polls every watched descriptor on every pass, which is O(connections) per event; this
// keeps Qt out of the per-connection path entirely.
#pragma once

#include <QObject>

#include <cstdint>
#include <vector>

class QSocketNotifier;

namespace Kennel {

class PollHandler
{
public:
    virtual ~PollHandler() = default;
    // `events` are EPOLL* bits. Called at most once per handler per batch.
    virtual void pollEvent(uint32_t events) = 0;
    // Called once after the batch for each handler that asked with EventPoller::markDirty().
    virtual void flushOutput() = 0;

private:
    friend class EventPoller;
    bool m_flushQueued = false;
};

class EventPoller : public QObject
{
    Q_OBJECT
public:
    explicit EventPoller(QObject *parent = nullptr);
    ~EventPoller() override;

    bool isValid() const { return m_epollFd >= 0; }
    bool add(int fd, PollHandler *handler, uint32_t events);
    bool modify(int fd, PollHandler *handler, uint32_t events);
    void remove(int fd);

    // Output was queued for `handler`; it is flushed at the end of the current batch (or, outside
    // a batch, from the event loop right away).
    void markDirty(PollHandler *handler);
    // Forget a handler that is about to be destroyed: it must not be flushed any more.
    void forget(PollHandler *handler);

    // Run `fn` after the current batch, when no handler of the batch is on the stack any more:
    // the place to destroy closed connections.
    template<typename Fn>
    void afterBatch(Fn &&fn) { QMetaObject::invokeMethod(this, std::forward<Fn>(fn), Qt::QueuedConnection); }

private:
    void processReady();
    void flushDirty();

    int m_epollFd = -1;
    QSocketNotifier *m_notifier = nullptr;
    bool m_inBatch = false;
    bool m_flushScheduled = false;
    std::vector<PollHandler *> m_dirty;
};

} // namespace Kennel
