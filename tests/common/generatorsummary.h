// The load generators (routebench, kennel-nativebench) end with one `key=value key=value ...`
// line; tests that drive them read single fields from it.
#pragma once

#include <QByteArray>

namespace KennelTest {

// The value of `key` in a summary line, empty when the key is absent.
inline QByteArray summaryValue(const QByteArray &summary, const QByteArray &key)
{
    const QByteArray prefix = key + '=';
    for (const QByteArray &field : summary.simplified().split(' '))
        if (field.startsWith(prefix))
            return field.mid(prefix.size());
    return {};
}

} // namespace KennelTest
