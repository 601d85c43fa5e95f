#include "topicname.h"

#include <QUtf8StringView>

namespace Kennel::Topic {

namespace {

// The levels, counted and checked in one pass. `filter`: wildcards allowed as whole levels.
Check checkLevels(QByteArrayView text, int maxLength, int maxLevels, bool filter)
{
    if (text.isEmpty())
        return Check::Empty;
    if (text.size() > maxLength || text.size() > MaxLength)
        return Check::TooLong;
    int levels = 1;
    qsizetype levelStart = 0;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\0')
            return Check::BadBytes;
        if (c == '/') {
            if (++levels > maxLevels)
                return Check::TooManyLevels;
            levelStart = i + 1;
            continue;
        }
        if (c != '+' && c != '#')
            continue;
        if (!filter)
            return Check::Wildcard;
        const bool wholeLevel = i == levelStart && (i + 1 == text.size() || text[i + 1] == '/');
        if (!wholeLevel || (c == '#' && i + 1 != text.size()))
            return Check::MisplacedWildcard;
    }
    if (!QUtf8StringView(text.data(), text.size()).isValidUtf8())
        return Check::BadBytes;
    return Check::Ok;
}

} // namespace

const char *checkText(Check check)
{
    switch (check) {
    case Check::Ok: return "ok";
    case Check::Empty: return "empty";
    case Check::TooLong: return "too long";
    case Check::TooManyLevels: return "too many levels";
    case Check::Wildcard: return "a topic name has no wildcards";
    case Check::MisplacedWildcard: return "a wildcard must be a whole level, and '#' the last";
    case Check::BadBytes: return "not UTF-8 or has a NUL byte";
    }
    return "unknown";
}

Check checkName(QByteArrayView name, int maxLength, int maxLevels)
{
    return checkLevels(name, maxLength, maxLevels, false);
}

Check checkFilter(QByteArrayView filter, int maxLength, int maxLevels)
{
    return checkLevels(filter, maxLength, maxLevels, true);
}

bool matches(QByteArrayView filter, QByteArrayView name)
{
    if (isReserved(name) && !filter.isEmpty() && (filter.front() == '+' || filter.front() == '#'))
        return false;
    qsizetype f = 0;
    qsizetype n = 0;
    for (;;) {
        // The current filter level [f, fEnd) against the current name level [n, nEnd).
        qsizetype fEnd = filter.indexOf('/', f);
        if (fEnd < 0)
            fEnd = filter.size();
        const QByteArrayView level = filter.sliced(f, fEnd - f);
        if (level == "#")
            return true; // also the parent: "a/#" matches "a"
        qsizetype nEnd = name.indexOf('/', n);
        if (nEnd < 0)
            nEnd = name.size();
        if (level != "+" && level != name.sliced(n, nEnd - n))
            return false;
        const bool filterDone = fEnd == filter.size();
        const bool nameDone = nEnd == name.size();
        if (nameDone) {
            // "a/#" matches "a": the filter may go on with exactly one more level, '#'.
            return filterDone || filter.sliced(fEnd) == "/#";
        }
        if (filterDone)
            return false;
        f = fEnd + 1;
        n = nEnd + 1;
    }
}

} // namespace Kennel::Topic
