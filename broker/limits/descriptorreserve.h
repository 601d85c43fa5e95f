// Descriptors the broker holds for pending work that must not consume the listeners' reserve.
// Here, below both, because the watchdog's signaller counts them and the listeners read them.
#pragma once

#include <atomic>

namespace Kennel {

// Descriptors the broker holds for pending work that must not consume the listener's reserve
// (the pidfd of each pending watchdog signal): the listener keeps that many more free.
inline std::atomic<int> &heldDescriptors()
{
    static std::atomic<int> held{0};
    return held;
}

} // namespace Kennel
