#include "iniscan.h"

#include "configvalues.h"

#include <QHash>

namespace Kennel::Config {

QStringList scanIniLines(const QByteArray &data, const QString &path, IniLayout *layout)
{
    QStringList errors;
    QString text = QString::fromUtf8(data);
    if (text.startsWith(QChar(0xFEFF)))
        text.remove(0, 1);
    const QStringList lines = text.split(QLatin1Char('\n'));
    QString group;
    QHash<QString, int> firstLine;

    for (qsizetype i = 0; i < lines.size(); ++i) {
        QString line = lines.at(i);
        if (line.endsWith(QLatin1Char('\r')))
            line.chop(1);
        const int lineNo = int(i) + 1;
        const QString where = path + QLatin1Char(':') + QString::number(lineNo) + QStringLiteral(": ");
        const QString t = line.trimmed();
        if (t.isEmpty() || t.startsWith(QLatin1Char(';')) || t.startsWith(QLatin1Char('#')))
            continue;

        if (t.startsWith(QLatin1Char('['))) {
            const qsizetype close = t.indexOf(QLatin1Char(']'));
            const QString rest = close < 0 ? QString() : t.mid(close + 1).trimmed();
            if (close < 0 || !(rest.isEmpty() || rest.startsWith(QLatin1Char(';')))) {
                errors.append(where + quoted(t) + QStringLiteral(" is not a group header; expected [name]"));
                group.clear();
                continue;
            }
            group = t.mid(1, close - 1).trimmed();
            if (group == QLatin1String("General")) // QSettings' name for "no group"
                group.clear();
            if (!group.isEmpty() && !layout->groups.contains(group))
                layout->groups.append(group);
            continue;
        }

        const qsizetype equals = t.indexOf(QLatin1Char('='));
        if (equals < 0) {
            errors.append(where + quoted(t) + QStringLiteral(" is not \"key = value\", \"[group]\" or a comment"));
            continue;
        }
        const QString key = t.left(equals).trimmed();
        if (key.isEmpty()) {
            errors.append(where + QStringLiteral("no key name before '='"));
        } else {
            const QString fullKey = group.isEmpty() ? key : group + QLatin1Char('/') + key;
            const auto seen = firstLine.constFind(fullKey);
            if (seen != firstLine.constEnd()) {
                errors.append(where + fullKey + QStringLiteral(" is set again (first on line ")
                              + QString::number(*seen) + QStringLiteral("); give each key once"));
            } else {
                firstLine.insert(fullKey, lineNo);
                layout->keys.append(fullKey);
            }
        }
        while (line.endsWith(QLatin1Char('\\')) && i + 1 < lines.size()) {
            line = lines.at(++i);
            if (line.endsWith(QLatin1Char('\r')))
                line.chop(1);
        }
    }
    return errors;
}

} // namespace Kennel::Config
