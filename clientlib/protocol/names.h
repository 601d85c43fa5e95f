// Client names: the one rule every listener, protocol and tool applies (PROTOCOL §3).
#pragma once

#include "kennel_export.h"

#include <QByteArrayView>

namespace Kennel {

// 1..maxLength bytes of [A-Za-z0-9._-], the first not '-' nor '.' (so never "." or ".."). maxLength is at most Wire::MaxNameLength; a broker may
// configure less.
KENNEL_CLIENT_EXPORT bool isValidName(QByteArrayView name, int maxLength = 64);
// Where a message may be addressed, and who a delivered message may be from (PROTOCOL §5.8): a
// name, or NAME@BOARD (a name on another board, across the bridge) with both parts names and the
// whole within maxLength. Never what a client registers: Hello still takes isValidName only.
KENNEL_CLIENT_EXPORT bool isValidTarget(QByteArrayView target, int maxLength = 64);

} // namespace Kennel
