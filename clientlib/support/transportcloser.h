// Closing a client transport the same way everywhere (the client library's connection and
// kennel-monitor's link): gracefully — flush what is buffered (a Bye) and let the peer see an
// orderly close — or at once; and, when the caller owns the device, delete it once it is closed,
// or after a grace period if the peer never acknowledges the close.
#pragma once

#include "kennel_export.h"

#include <chrono>

class QIODevice;

namespace Kennel {

// The caller has already disconnected its own slots from `device`.
KENNEL_CLIENT_EXPORT void closeTransport(QIODevice *device, bool graceful, bool owned,
                                         std::chrono::milliseconds grace = std::chrono::seconds(2));

} // namespace Kennel
