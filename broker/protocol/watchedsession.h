// A session as the watchdog meets it: the watchdog knows no connection class, the handlers know
// both.
#pragma once

#include "clientwatchdog.h"
#include "session.h"

namespace Kennel {

// Valid while `session` is: the watchdog asks the owner only inside the registration call.
inline WatchedClient watchedClient(Session &session)
{
    WatchedClient client;
    client.id = session.id();
    client.name = session.name();
    client.description = session.describe();
    client.owner = [&session]() -> const PeerLookupResult & { return session.peerProcess(); };
    return client;
}

} // namespace Kennel
