// Topic names and topic filters (PROTOCOL §5.5): MQTT's syntax, so that a topic maps one to one
// onto an MQTT bridge. Pure functions over bytes; the broker and every client share them.
//
//   name    levels split by '/', e.g. "sensors/kitchen/temp". Empty levels are levels ("a//b",
//           "/a"). No wildcard, no NUL, valid UTF-8, 1..maxLength bytes, at most maxLevels levels.
//   filter  a name whose levels may also be '+' (exactly one level) or, as the last level only,
//           '#' (that level's parent and everything below it). A wildcard is a whole level:
//           "a+/b" and "a/#/b" are refused.
//   '$'     a name starting with '$' is the broker's own: clients cannot publish it, and a filter
//           starting with a wildcard does not match it ("#" does not see "$SYS/x"; "$SYS/#" does).
#pragma once

#include "kennel_export.h"

#include <QByteArrayView>

namespace Kennel::Topic {

// The wire bounds; a broker may configure lower ones ([topics] in docs/CONFIG.md).
constexpr int MaxLength = 65535; // the u16 length field
constexpr int DefaultMaxLength = 256;
constexpr int DefaultMaxLevels = 16;

enum class Check {
    Ok,
    Empty,         // zero bytes
    TooLong,       // over maxLength bytes
    TooManyLevels, // over maxLevels levels
    Wildcard,      // a name with '+' or '#'
    MisplacedWildcard, // a filter with '+'/'#' inside a level, or '#' not last
    BadBytes,      // a NUL byte, or not UTF-8
};
KENNEL_CLIENT_EXPORT const char *checkText(Check check);

KENNEL_CLIENT_EXPORT Check checkName(QByteArrayView name, int maxLength = DefaultMaxLength,
                                     int maxLevels = DefaultMaxLevels);
KENNEL_CLIENT_EXPORT Check checkFilter(QByteArrayView filter, int maxLength = DefaultMaxLength,
                                       int maxLevels = DefaultMaxLevels);
inline bool isReserved(QByteArrayView name) { return !name.isEmpty() && name.front() == '$'; }
inline bool hasWildcard(QByteArrayView filter)
{
    for (char c : filter)
        if (c == '+' || c == '#')
            return true;
    return false;
}

// Whether `filter` matches `name` (both already checked). A direct walk over both, level by level:
// the reference the broker's topic tree is tested against, and what a client uses to tell which of
// its subscriptions a publication answers.
KENNEL_CLIENT_EXPORT bool matches(QByteArrayView filter, QByteArrayView name);

} // namespace Kennel::Topic
