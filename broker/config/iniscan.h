// The raw-line pre-scan of an INI file, before QSettings reads it: what QSettings would skip or
// forget, reported with file:line. Internal to ConfigLoader.
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace Kennel::Config {

// What the raw lines say that QSettings forgets: the order. QSettings hands back groups and keys
// sorted, but services start in file order and the first matching watchdog rule wins.
struct IniLayout
{
    QStringList groups; // in order of their first header
    QStringList keys;   // "group/key" (or "key" outside any group), in order of their first line
};

// QSettings silently skips lines it cannot make sense of, and keeps the last of two equal keys.
// Either is how a typo goes unnoticed, so look at the raw lines first. The rules follow
// QSettings' INI reader: ';' and '#' start a comment line, ';' also ends a value outside quotes,
// a trailing backslash continues a value on the next line.
QStringList scanIniLines(const QByteArray &data, const QString &path, IniLayout *layout);

} // namespace Kennel::Config
