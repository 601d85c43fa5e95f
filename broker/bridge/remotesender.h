// The sender of a message that came across the bridge: an endpoint inside the broker, like
// LocalSender, named SENDER@ORIGIN for the delivery at hand, so the receiver reads where the
// message came from and the router's bounds, encoding, counters and traffic tap apply as to
// any message. It holds no name and receives nothing: answers go back as NAME@BOARD messages.
#pragma once

#include "endpoint.h"

namespace Kennel {

class RemoteSender final : public Endpoint
{
public:
    void setName(QByteArray name) { m_name = std::move(name); }
    QString describe() const override
    {
        return QStringLiteral("'%1' (across the bridge)").arg(QString::fromLatin1(m_name));
    }
    size_t pendingOutput() const override { return 0; }
    char *reserveOutput(size_t n) override
    {
        (void)n;
        return nullptr;
    }
    void commitOutput(size_t n) override { (void)n; }
};

} // namespace Kennel
