// What the protocol handlers tell their owner about a connection, instead of calling the parts of
// the broker above them: the handlers decide what a frame means, and the owner (Broker) decides who
// else needs to know (the monitor hub today; the supervisor, held messages and the like as they
// come). An event arrives after the handler is done with the table and the connection.
#pragma once

namespace Kennel {

struct FrameView;
class Session;

class ConnectionEvents
{
public:
    virtual ~ConnectionEvents() = default;
    // A client registered its name (native Hello) or bound it (legacy cmd 0, or a legacy main
    // connection's first frame). Its Welcome, if native, is queued already.
    virtual void clientRegistered(Session &session) = 0;
    // A peer said Hello as a monitor on a client listener. True: the owner has taken the
    // connection (Session::detachForHandover) and the handler must not touch it again. False:
    // nobody takes monitors here, and the Hello is refused as any other role would be.
    virtual bool monitorHello(Session &session, const FrameView &hello) = 0;
};

} // namespace Kennel
