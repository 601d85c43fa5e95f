// Restores an environment variable when a test leaves, whatever the outcome: tests that set
// KENNEL_*, NOTIFY_SOCKET or XDG_RUNTIME_DIR must not leak them into the next test function.
#pragma once

#include <QByteArray>
#include <QtGlobal>

namespace KennelTest {

class EnvGuard
{
public:
    explicit EnvGuard(const char *name) : m_name(name), m_wasSet(qEnvironmentVariableIsSet(name)),
        m_value(qgetenv(name)) {}
    ~EnvGuard()
    {
        if (m_wasSet)
            qputenv(m_name, m_value);
        else
            qunsetenv(m_name);
    }
    EnvGuard(const EnvGuard &) = delete;
    EnvGuard &operator=(const EnvGuard &) = delete;

private:
    const char *m_name;
    bool m_wasSet;
    QByteArray m_value;
};

} // namespace KennelTest
