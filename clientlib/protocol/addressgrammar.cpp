#include "addressgrammar.h"

namespace Kennel::AddressGrammar {

namespace {

const QLatin1String UnixPrefix("unix:");

template<typename E>
void report(E *out, E error)
{
    if (out)
        *out = error;
}

} // namespace

bool isUnix(QStringView text)
{
    return text.startsWith(UnixPrefix, Qt::CaseInsensitive);
}

std::optional<Parts> split(const QString &text, SyntaxError *error)
{
    report(error, SyntaxError::None);
    Parts parts;
    if (isUnix(text)) {
        parts.kind = Parts::Kind::Unix;
        parts.path = text.mid(UnixPrefix.size());
        return parts;
    }

    parts.kind = Parts::Kind::Tcp;
    if (text.startsWith(QLatin1Char('['))) {
        const qsizetype close = text.indexOf(QLatin1Char(']'));
        if (close < 0) {
            report(error, SyntaxError::MissingCloseBracket);
            return std::nullopt;
        }
        const QStringView rest = QStringView(text).mid(close + 1);
        if (!rest.startsWith(QLatin1Char(':'))) {
            report(error, SyntaxError::MissingPortAfterBracket);
            return std::nullopt;
        }
        parts.bracketed = true;
        parts.host = text.mid(1, close - 1);
        parts.port = rest.mid(1).toString();
        return parts;
    }

    const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
    if (colon < 0) {
        report(error, SyntaxError::MissingPort);
        return std::nullopt;
    }
    if (text.indexOf(QLatin1Char(':')) != colon) {
        report(error, SyntaxError::UnbracketedIPv6);
        return std::nullopt;
    }
    parts.host = text.left(colon);
    parts.port = text.mid(colon + 1);
    return parts;
}

std::optional<quint16> parsePort(QStringView text, PortError *error)
{
    report(error, PortError::None);
    if (text.isEmpty()) {
        report(error, PortError::Missing);
        return std::nullopt;
    }
    // toUInt() would take "+80" and " 80"; an address is a token, so digits only.
    for (QChar c : text) {
        if (c < QLatin1Char('0') || c > QLatin1Char('9')) {
            report(error, PortError::NotANumber);
            return std::nullopt;
        }
    }
    bool ok = false;
    const uint port = text.toUInt(&ok);
    if (!ok || port > 65535) {
        report(error, PortError::OutOfRange);
        return std::nullopt;
    }
    return quint16(port);
}

} // namespace Kennel::AddressGrammar
