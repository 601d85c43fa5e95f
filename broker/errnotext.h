// The one way the broker turns an errno value into text for its logs and its refusals.
#pragma once

#include <QString>

namespace Kennel {
// The C library's message for `error` (e.g. "No such file or directory"), as Qt gives it.
QString errnoText(int error);
} // namespace Kennel
