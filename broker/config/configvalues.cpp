#include "configvalues.h"

#include <QSettings>
#include <QVariant>

#include <algorithm>
#include <limits>

namespace Kennel::Config {

bool isBytes(ValueKind kind)
{
    return kind == ValueKind::Bytes || kind == ValueKind::BytesOrAuto;
}

QString quoted(const QString &text)
{
    return QLatin1Char('"') + text + QLatin1Char('"');
}

bool isAsciiDigits(QStringView text)
{
    return !text.isEmpty()
           && std::all_of(text.begin(), text.end(), [](QChar c) { return c >= QLatin1Char('0') && c <= QLatin1Char('9'); });
}

bool parseWhole(const QString &text, qint64 *value)
{
    const QStringView digits = text.startsWith(QLatin1Char('-')) ? QStringView(text).mid(1) : QStringView(text);
    if (!isAsciiDigits(digits))
        return false;
    bool ok = false;
    *value = text.toLongLong(&ok);
    return ok;
}

bool parseSize(const QString &text, qint64 *value)
{
    qint64 multiplier = 1;
    QString number = text;
    if (!text.isEmpty()) {
        switch (text.back().toLower().unicode()) {
        case 'k': multiplier = KiB; break;
        case 'm': multiplier = MiB; break;
        case 'g': multiplier = GiB; break;
        default: break;
        }
        if (multiplier != 1)
            number.chop(1);
    }
    qint64 n = 0;
    if (!parseWhole(number, &n))
        return false;
    if (n > std::numeric_limits<qint64>::max() / multiplier || n < std::numeric_limits<qint64>::min() / multiplier)
        return false;
    *value = n * multiplier;
    return true;
}

QString describeValue(ValueKind kind, qint64 value)
{
    QString text = QString::number(value);
    if (isBytes(kind) && value >= MiB) {
        if (value % GiB == 0)
            text += QStringLiteral(" (") + QString::number(value / GiB) + QStringLiteral("G)");
        else if (value % MiB == 0)
            text += QStringLiteral(" (") + QString::number(value / MiB) + QStringLiteral("M)");
    }
    return text;
}

QString helpValue(ValueKind kind, qint64 value)
{
    if (isBytes(kind) && value > 0) {
        if (value % GiB == 0)
            return QString::number(value / GiB) + QLatin1Char('G');
        if (value % MiB == 0)
            return QString::number(value / MiB) + QLatin1Char('M');
        if (value % KiB == 0)
            return QString::number(value / KiB) + QLatin1Char('k');
    }
    return QString::number(value);
}

QString rangeError(ValueKind kind, qint64 min, qint64 max, const QString &shown, qint64 value)
{
    if ((kind == ValueKind::MillisOrOff || kind == ValueKind::BytesOrAuto) && value == 0)
        return {};
    if (value < min && kind == ValueKind::BytesOrAuto)
        return shown + QStringLiteral(" is below the minimum ") + describeValue(kind, min) + QStringLiteral(" (0 derives it from RAM)");
    if (value < min && kind == ValueKind::MillisOrOff)
        return shown + QStringLiteral(" is below the minimum ") + describeValue(kind, min) + QStringLiteral(" (0 turns it off)");
    if (value < min)
        return shown + QStringLiteral(" is below the minimum ") + describeValue(kind, min);
    if (value > max)
        return shown + QStringLiteral(" is above the maximum ") + describeValue(kind, max);
    return {};
}

bool parseBool(const QString &text, bool *value)
{
    const QString t = text.toLower();
    if (t == QLatin1String("true") || t == QLatin1String("yes") || t == QLatin1String("on") || t == QLatin1String("1")) {
        *value = true;
        return true;
    }
    if (t == QLatin1String("false") || t == QLatin1String("no") || t == QLatin1String("off") || t == QLatin1String("0")) {
        *value = false;
        return true;
    }
    return false;
}

bool isAscii(const QString &text)
{
    return std::all_of(text.begin(), text.end(), [](QChar c) { return c.unicode() < 0x80; });
}

QString orderError(const QString &lowKey, qint64 low, const QString &highKey, qint64 high, const char *why)
{
    return lowKey + QStringLiteral(": ") + QString::number(low) + QStringLiteral(" is below ") + highKey
           + QLatin1Char(' ') + QString::number(high) + QLatin1String(why);
}

std::optional<QStringList> valueItems(const QVariant &value)
{
    if (value.typeId() == QMetaType::QString)
        return QStringList{value.toString()};
    if (value.typeId() == QMetaType::QStringList)
        return value.toStringList();
    return std::nullopt;
}

std::optional<QString> singleValue(const QSettings &settings, const QString &key, QStringList *errors)
{
    const std::optional<QStringList> items = valueItems(settings.value(key));
    if (!items) {
        errors->append(key + QStringLiteral(": not a plain value"));
        return std::nullopt;
    }
    if (items->size() != 1) {
        // Most often "1,000": QSettings reads commas as a list separator.
        errors->append(key + QStringLiteral(": ") + quoted(items->join(QStringLiteral(", ")))
                       + QStringLiteral(" is a list; expected a single value (no commas)"));
        return std::nullopt;
    }
    return items->constFirst().trimmed();
}

std::optional<QStringList> listValue(const QSettings &settings, const QString &key, QStringList *errors)
{
    std::optional<QStringList> items = valueItems(settings.value(key));
    if (!items) {
        errors->append(key + QStringLiteral(": not a plain value"));
        return std::nullopt;
    }
    if (*items == QStringList{QString()})
        items->clear();
    return items;
}

} // namespace Kennel::Config
