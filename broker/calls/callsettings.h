// The bounds of calls ([calls] in the config, docs/CONFIG.md): how many calls one client may have
// outstanding and how long a call may wait. Plain values, so the call table and its tests need
// nothing of the config loader.
#pragma once

#include <chrono>

namespace Kennel {

struct CallSettings
{
    int maxOutstanding = 64;                         // calls one connection may have outstanding
    std::chrono::milliseconds maxDeadline{60000};    // a longer deadline asked for is cut to this
    std::chrono::milliseconds defaultDeadline{5000}; // a Call that asks for 0; at most maxDeadline
};

} // namespace Kennel
