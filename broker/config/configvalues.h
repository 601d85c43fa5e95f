// The value grammar every section of the broker's config shares: whole numbers, sizes with a
// suffix, booleans, ranges and orderings with their error texts, and reading one key's value out
// of QSettings with an error that names the key. Internal to ConfigLoader.
#pragma once

#include <QString>
#include <QStringList>
#include <QStringView>

#include <optional>

class QSettings;
class QVariant;

namespace Kennel::Config {

constexpr qint64 KiB = 1024;
constexpr qint64 MiB = 1024 * KiB;
constexpr qint64 GiB = 1024 * MiB;

// MillisOrOff: a duration whose 0 turns the feature off; any other value must be in range.
// BytesOrAuto: a size whose 0 means "derived from the machine at start" (BudgetLedger).
enum class ValueKind { Count, Bytes, Millis, MillisOrOff, BytesOrAuto };

bool isBytes(ValueKind kind);

QString quoted(const QString &text);
bool isAsciiDigits(QStringView text);
bool isAscii(const QString &text);

// Strict: an optional minus (so "-5" can be reported as below the minimum rather than as
// garbage) and decimal digits, nothing else — no "+", no "0x", no thousands separators.
bool parseWhole(const QString &text, qint64 *value);
// A whole number with an optional binary suffix: k/K = KiB, m/M = MiB, g/G = GiB.
bool parseSize(const QString &text, qint64 *value);
bool parseBool(const QString &text, bool *value);

QString describeValue(ValueKind kind, qint64 value);
// The short form for --help, where "268435456 (256M)" would crowd the line.
QString helpValue(ValueKind kind, qint64 value);
// Empty when value is in min..max (or is the 0 that MillisOrOff/BytesOrAuto allow).
QString rangeError(ValueKind kind, qint64 min, qint64 max, const QString &shown, qint64 value);
// "<low key>: <value> is below <high key> <value><why>", the one shape of every ordering check.
QString orderError(const QString &lowKey, qint64 low, const QString &highKey, qint64 high, const char *why = "");

// QSettings hands back a QString for "a", a QStringList for "a, b"; anything else (an
// "@Variant(...)" blob) is nothing a person would write into a broker config.
std::optional<QStringList> valueItems(const QVariant &value);
// A scalar key: one item, or an error naming the key.
std::optional<QString> singleValue(const QSettings &settings, const QString &key, QStringList *errors);
// "a, b" -> ["a", "b"]; an empty value -> no items. QSettings has already dropped the quotes
// and the blanks around unquoted items.
std::optional<QStringList> listValue(const QSettings &settings, const QString &key, QStringList *errors);

} // namespace Kennel::Config
