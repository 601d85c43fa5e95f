// What each 552-byte frame of the old protocol means (docs/LEGACY-PROTOCOL.md): a receive
// connection registers with cmd 0, a main connection sends (cmd 2) and feeds (cmd 1) under the
// name it claims — which Kennel checks instead of trusting (PROTOCOL §7).
#pragma once

#include "logthrottle.h"

#include <QByteArrayView>

namespace Kennel {

struct HandlerContext;
class Session;
namespace Legacy { struct FrameView; }

class LegacyHandler
{
public:
    explicit LegacyHandler(HandlerContext &context) : m_ctx(context) {}

    void handle(Session &session, const Legacy::FrameView &frame);

private:
    void registerReceiver(Session &session, const Legacy::FrameView &frame);
    // Makes sure `session` may act under the frame's source_name; closes it otherwise.
    bool checkSender(Session &session, const Legacy::FrameView &frame);
    // A name reserved for a service ([service.NAME] names) only for its processes; closes `session` otherwise.
    bool reservedNameAllowed(Session &session, QByteArrayView name);
    // The access policy lets it own `name` ([policy]); closes `session` otherwise.
    bool policyAllowsOwning(Session &session, QByteArrayView name);

    HandlerContext &m_ctx;
    LogThrottle m_unwatchedFeedLog{5};
};

} // namespace Kennel
