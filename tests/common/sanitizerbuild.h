// Tests that measure memory or time need to know when they run under AddressSanitizer: redzones,
// shadow memory and quarantine change what RSS means, and everything runs 2-3 times slower.
// tests/CMakeLists.txt sets KENNEL_SANITIZER for every test of a KENNEL_SANITIZE build.
#pragma once

#include <QtGlobal>

namespace KennelTest {

inline bool underSanitizer()
{
    return !qEnvironmentVariableIsEmpty("KENNEL_SANITIZER");
}

} // namespace KennelTest
