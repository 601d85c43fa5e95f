// What the topic frames (PROTOCOL §5.5) mean to the broker: Subscribe, Unsubscribe and Publish
// from a native client, and an old program's cmd 2 to a name the config maps to a topic. The
// subscriptions, the retained store and the fan-out are TopicBus's (broker/topics/).
#pragma once

namespace Kennel {

struct FrameView;
struct HandlerContext;
class Session;
namespace Legacy { struct FrameView; }

// A Subscribe, Unsubscribe or Publish from `session`.
void handleTopicFrame(HandlerContext &context, Session &session, const FrameView &frame);
// An old program's cmd 2: true if its target is a name mapped to a topic ([topics]
// publish_names) and it was published, false if it is an ordinary message for the router.
bool publishMappedLegacy(HandlerContext &context, Session &session, const Legacy::FrameView &frame);
// The topics feature offered to clients (Welcome): off when [topics] enabled is false.
bool topicsOffered(const HandlerContext &context);

} // namespace Kennel
