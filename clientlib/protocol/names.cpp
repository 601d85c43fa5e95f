#include "names.h"

#include "frame.h"

#include <array>

namespace Kennel {

namespace {

// One table lookup per byte: names are checked on every Send a broker routes (PROTOCOL §3), so
// no locale-dependent isalnum() and no branches on character ranges in the loop.
constexpr std::array<bool, 256> makeNameCharTable()
{
    std::array<bool, 256> table{};
    for (int c = 'A'; c <= 'Z'; ++c)
        table[size_t(c)] = true;
    for (int c = 'a'; c <= 'z'; ++c)
        table[size_t(c)] = true;
    for (int c = '0'; c <= '9'; ++c)
        table[size_t(c)] = true;
    table[size_t('.')] = true;
    table[size_t('_')] = true;
    table[size_t('-')] = true;
    return table;
}

constexpr std::array<bool, 256> NameCharTable = makeNameCharTable();

} // namespace

bool isValidName(QByteArrayView name, int maxLength)
{
    // A broker may lower the limit but never raise it past the wire's (PROTOCOL §3, §8.1).
    const qsizetype limit = qMin(maxLength, Wire::MaxNameLength);
    if (name.isEmpty() || name.size() > limit)
        return false;
    // PROTOCOL §3: a name never begins with '-' or '.', so it cannot be read as an option
    // on a command line (`kill -rf`) nor as a hidden, current or parent directory in a file name.
    if (name.front() == '-' || name.front() == '.')
        return false;
    const auto *p = reinterpret_cast<const unsigned char *>(name.data());
    const auto *const end = p + name.size();
    for (; p != end; ++p) {
        if (!NameCharTable[*p])
            return false;
    }
    return true;
}

bool isValidTarget(QByteArrayView target, int maxLength)
{
    const qsizetype at = target.indexOf('@');
    if (at < 0)
        return isValidName(target, maxLength);
    if (target.size() > qMin(maxLength, Wire::MaxNameLength))
        return false;
    // One '@' only: the board part is a name, and a name has none.
    return isValidName(target.first(at), maxLength) && isValidName(target.sliced(at + 1), maxLength);
}

} // namespace Kennel
