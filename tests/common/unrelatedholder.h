// Test support: a process that holds copies of this process's descriptors but is not its
// descendant (forked twice, the middle process exits, so the holder is re-parented to init or a
// subreaper). Used to make a socket "held by unrelated processes", which no owner may be named for.
// It only ever ends by itself: when released (or when this process exits) it reads EOF and exits.
#pragma once

#include <cerrno>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace KennelTest {

class UnrelatedHolder
{
public:
    UnrelatedHolder()
    {
        int release[2];
        int report[2];
        if (::pipe2(release, O_CLOEXEC) != 0)
            return;
        if (::pipe2(report, O_CLOEXEC) != 0) {
            ::close(release[0]);
            ::close(release[1]);
            return;
        }
        const pid_t middle = ::fork();
        if (middle == 0) {
            ::close(release[1]);
            ::close(report[0]);
            const pid_t holder = ::fork();
            if (holder == 0) {
                char c;
                for (;;) {
                    const ssize_t n = ::read(release[0], &c, 1);
                    if (n == 0 || (n < 0 && errno != EINTR))
                        break;
                }
                ::_exit(0);
            }
            (void)!::write(report[1], &holder, sizeof holder);
            ::_exit(0);
        }
        ::close(release[0]);
        ::close(report[1]);
        if (middle > 0) {
            ::waitpid(middle, nullptr, 0);
            pid_t holder = -1;
            if (::read(report[0], &holder, sizeof holder) == ssize_t(sizeof holder))
                m_pid = holder;
        }
        ::close(report[0]);
        m_release = release[1];
    }
    ~UnrelatedHolder() { release(); }
    UnrelatedHolder(const UnrelatedHolder &) = delete;
    UnrelatedHolder &operator=(const UnrelatedHolder &) = delete;

    pid_t pid() const { return m_pid; }
    // It exits at once; init reaps it.
    void release()
    {
        if (m_release >= 0)
            ::close(m_release);
        m_release = -1;
    }
    bool gone() const { return m_pid <= 0 || (::kill(m_pid, 0) != 0 && errno == ESRCH); }

private:
    pid_t m_pid = -1;
    int m_release = -1;
};

} // namespace KennelTest
