// What each native frame from a client means to the broker: the handshake, messages, pings and
// goodbyes (PROTOCOL §4-§5). Transport stays in Session; routing stays in Router.
#pragma once

#include "frame.h"

namespace Kennel {

struct HandlerContext;
struct FrameView;
class Session;

class NativeHandler
{
public:
    explicit NativeHandler(HandlerContext &context) : m_ctx(context) {}

    void handle(Session &session, const FrameView &frame);

private:
    void hello(Session &session, const FrameView &frame);
    void send(Session &session, const FrameView &frame);
    void watchdogRegister(Session &session, const FrameView &frame);
    void watchdogRefused(Session &session, const FrameView &frame);

    HandlerContext &m_ctx;
};

} // namespace Kennel
