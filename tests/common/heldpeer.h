// A raw native peer (RawPeer) as a sender in the held-delivery tests (PROTOCOL §5.3, §5.4):
// registered over TCP with held_status listed, so that it hears `held` before a final status, or
// with a plain Hello as a client older than held delivery; and the statuses its Sends get.
#pragma once

#include "testbroker.h"

#include "frame.h"

#include <optional>
#include <utility>

namespace KennelTest {

class HeldPeer : public RawPeer
{
public:
    // Connects to `tcpPort` and registers as `name`. With `features` (held_status and any others)
    // its Hello lists them, and true needs the broker to offer held_status; with 0, a plain Hello.
    bool connectAs(quint16 tcpPort, const QByteArray &name, quint32 features = Kennel::FeatureHeldStatus);
    // The next DeliveryStatus frame, waiting up to `timeoutMs`: its message id and status.
    std::optional<std::pair<quint32, Kennel::DeliveryStatus>> nextStatus(int timeoutMs = 5000);
};

} // namespace KennelTest
