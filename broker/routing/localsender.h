// A sender inside the broker, with no connection behind it: the monitor's test messages go through
// the router as from one of these, so the target's queue bound, its protocol's encoding, the
// counters and the traffic records apply as to any message. It holds no name in the registry and
// receives nothing.
#pragma once

#include "endpoint.h"

namespace Kennel {

class LocalSender final : public Endpoint
{
public:
    explicit LocalSender(QByteArray name, QString origin)
        : m_origin(std::move(origin))
    {
        m_name = std::move(name);
    }

    QString describe() const override
    {
        return QStringLiteral("'%1' (%2)").arg(QString::fromLatin1(m_name), m_origin);
    }
    size_t pendingOutput() const override { return 0; }
    char *reserveOutput(size_t n) override
    {
        (void)n;
        return nullptr;
    }
    void commitOutput(size_t n) override { (void)n; }

private:
    QString m_origin;
};

} // namespace Kennel
