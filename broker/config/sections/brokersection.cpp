#include "brokersection.h"

#include "configloader.h"

#include <QCommandLineParser>
#include <QFile>
#include <QSettings>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/un.h>

#include <algorithm>

namespace Kennel {

namespace {

using namespace Config;

// sun_path holds the path and its terminating NUL; a longer path would be silently truncated
// by some APIs and refused by others, so refuse it here with a readable reason.
constexpr int MaxUnixPathBytes = int(sizeof(sockaddr_un{}.sun_path)) - 1;

const QString KeyListen = QStringLiteral("listen");

// inet_pton/inet_ntop rather than QHostAddress: config must not pull in QtNetwork, and
// inet_pton is strict (no "127.1", no leading zeros) where a lenient parser would let a typo
// listen somewhere unexpected.
std::optional<QString> canonicalIPv4(const QString &host)
{
    in_addr addr{};
    if (::inet_pton(AF_INET, host.toLatin1().constData(), &addr) != 1)
        return std::nullopt;
    char buffer[INET_ADDRSTRLEN] = {};
    if (!::inet_ntop(AF_INET, &addr, buffer, sizeof buffer))
        return std::nullopt;
    return QString::fromLatin1(buffer);
}

std::optional<QString> canonicalIPv6(const QString &host, QString *error)
{
    QString address = host;
    QString zone;
    const qsizetype percent = host.indexOf(QLatin1Char('%'));
    if (percent >= 0) {
        address = host.left(percent);
        zone = host.mid(percent + 1);
        const bool zoneOk = !zone.isEmpty() && zone.size() < IF_NAMESIZE
                            && std::all_of(zone.begin(), zone.end(), [](QChar c) {
                                   return c.isLetterOrNumber() || c == QLatin1Char('_') || c == QLatin1Char('-')
                                          || c == QLatin1Char('.');
                               });
        if (!zoneOk) {
            *error = QStringLiteral("bad IPv6 zone ") + quoted(zone) + QStringLiteral(" (expected an interface name)");
            return std::nullopt;
        }
    }
    in6_addr addr{};
    if (::inet_pton(AF_INET6, address.toLatin1().constData(), &addr) != 1) {
        *error = quoted(address) + QStringLiteral(" is not an IPv6 address");
        return std::nullopt;
    }
    char buffer[INET6_ADDRSTRLEN] = {};
    if (!::inet_ntop(AF_INET6, &addr, buffer, sizeof buffer)) {
        *error = quoted(address) + QStringLiteral(" is not an IPv6 address");
        return std::nullopt;
    }
    QString canonical = QString::fromLatin1(buffer);
    if (!zone.isEmpty())
        canonical += QLatin1Char('%') + zone;
    return canonical;
}

const QString ExpectedForms = QStringLiteral("expected HOST:PORT, [IPv6]:PORT or unix:PATH");

} // namespace

std::optional<ListenAddress> parseListenAddress(const QString &input, QString *error)
{
    QString scratch;
    QString &why = error ? *error : scratch;
    why.clear();
    const QString text = input.trimmed();

    if (text.isEmpty()) {
        why = QStringLiteral("empty address; ") + ExpectedForms;
        return std::nullopt;
    }

    ListenAddress address;
    if (text.startsWith(QLatin1String("unix:"), Qt::CaseInsensitive)) {
        address.kind = ListenAddress::Kind::Unix;
        address.path = text.mid(int(qstrlen("unix:")));
        const QString &path = address.path;
        if (path.isEmpty()) {
            why = QStringLiteral("empty Unix socket path");
        } else if (path.contains(QChar(0))) {
            why = QStringLiteral("Unix socket path contains a NUL character");
        } else if (!path.startsWith(QLatin1Char('/')) && !path.startsWith(QLatin1String("./"))
                   && !path.startsWith(QLatin1String("../"))) {
            // A bare "broker.sock" is more likely a mistake than a wish to follow the working
            // directory, so a relative path has to say so.
            why = QStringLiteral("Unix socket path must be absolute (/...) or explicitly relative (./... or ../...)");
        } else if (path.endsWith(QLatin1Char('/'))) {
            why = QStringLiteral("Unix socket path names a directory");
        } else if (QFile::encodeName(path).size() > MaxUnixPathBytes) {
            why = QStringLiteral("Unix socket path is ") + QString::number(QFile::encodeName(path).size())
                  + QStringLiteral(" bytes long; the system limit is ") + QString::number(MaxUnixPathBytes);
        }
        if (!why.isEmpty())
            return std::nullopt;
        return address;
    }

    if (text.contains(QLatin1String("://"))) {
        why = QStringLiteral("not a URL; ") + ExpectedForms;
        return std::nullopt;
    }
    if (!isAscii(text)) {
        why = QStringLiteral("contains characters that cannot appear in an address; ") + ExpectedForms;
        return std::nullopt;
    }

    address.kind = ListenAddress::Kind::Tcp;
    QString host;
    QString portText;
    if (text.startsWith(QLatin1Char('['))) {
        const qsizetype close = text.indexOf(QLatin1Char(']'));
        if (close < 0) {
            why = QStringLiteral("missing ']' after the IPv6 address");
            return std::nullopt;
        }
        const QString rest = text.mid(close + 1);
        if (!rest.startsWith(QLatin1Char(':'))) {
            why = QStringLiteral("missing port after ']'; ") + ExpectedForms;
            return std::nullopt;
        }
        host = text.mid(1, close - 1);
        portText = rest.mid(1);
        if (host.isEmpty()) {
            why = QStringLiteral("empty IPv6 address between brackets");
            return std::nullopt;
        }
        if (canonicalIPv4(host)) {
            why = QStringLiteral("brackets are for IPv6 addresses only; write an IPv4 address as HOST:PORT");
            return std::nullopt;
        }
        const std::optional<QString> canonical = canonicalIPv6(host, &why);
        if (!canonical)
            return std::nullopt;
        address.host = *canonical;
    } else {
        const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
        if (colon < 0) {
            why = QStringLiteral("missing port; ") + ExpectedForms;
            return std::nullopt;
        }
        if (text.indexOf(QLatin1Char(':')) != colon) {
            why = QStringLiteral("an IPv6 address needs brackets, as in [::1]:8000");
            return std::nullopt;
        }
        host = text.left(colon);
        portText = text.mid(colon + 1);
        if (host.isEmpty()) {
            why = QStringLiteral("missing host; use * to listen on every address");
            return std::nullopt;
        }
        if (host == QLatin1String("*")) {
            address.host = host;
        } else if (host.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0) {
            // Fixed rather than resolved: /etc/hosts on a device is not always what one expects,
            // and "localhost" resolving to ::1 only would change who can connect.
            address.host = QStringLiteral("127.0.0.1");
        } else if (const std::optional<QString> canonical = canonicalIPv4(host)) {
            address.host = *canonical;
        } else {
            why = QStringLiteral("host ") + quoted(host)
                  + QStringLiteral(" is not an IP address, \"localhost\" or \"*\" (host names are not resolved)");
            return std::nullopt;
        }
    }

    if (portText.isEmpty()) {
        why = QStringLiteral("missing port; ") + ExpectedForms;
        return std::nullopt;
    }
    if (!isAsciiDigits(portText)) {
        why = QStringLiteral("port ") + quoted(portText) + QStringLiteral(" is not a number");
        return std::nullopt;
    }
    bool ok = false;
    const uint port = portText.toUInt(&ok);
    if (!ok || port > 65535) {
        why = QStringLiteral("port out of range (0..65535)");
        return std::nullopt;
    }
    address.port = quint16(port);
    return address;
}

namespace Config {

QStringList brokerKeys()
{
    return {KeyListen};
}

bool parseListenList(const QStringList &items, const QString &label, QList<ListenAddress> *out,
                     QStringList *errors)
{
    QList<ListenAddress> addresses;
    bool ok = true;
    if (items.isEmpty()) {
        errors->append(label + QStringLiteral(": no address given; remove the key to use the defaults"));
        return false;
    }
    for (const QString &item : items) {
        QString why;
        const std::optional<ListenAddress> address = parseListenAddress(item, &why);
        if (!address) {
            errors->append(label + QStringLiteral(": ") + quoted(item.trimmed()) + QStringLiteral(": ") + why);
            ok = false;
            continue;
        }
        if (addresses.contains(*address)) {
            errors->append(label + QStringLiteral(": ") + quoted(item.trimmed()) + QStringLiteral(" is listed twice"));
            ok = false;
            continue;
        }
        addresses.append(*address);
    }
    if (ok)
        *out = addresses;
    return ok;
}

void applyBroker(const QSettings &settings, Pass &pass)
{
    const QString listenKey = GroupBroker + QLatin1Char('/') + KeyListen;
    if (settings.contains(listenKey)) {
        if (const std::optional<QStringList> items = valueItems(settings.value(listenKey))) {
            QStringList trimmed;
            for (const QString &item : *items)
                trimmed.append(item.trimmed());
            // "listen =" reads as one empty string; report it as "no address".
            if (trimmed == QStringList{QString()})
                trimmed.clear();
            parseListenList(trimmed, listenKey, &pass.config.listen, &pass.errors);
        } else {
            pass.errors.append(listenKey + QStringLiteral(": not a plain value"));
        }
    }
}

void applyBrokerFlags(const QCommandLineParser &parser, Pass &pass)
{
    if (parser.isSet(OptListen)) {
        QStringList items;
        for (const QString &value : parser.values(OptListen))
            items.append(value.trimmed());
        parseListenList(items, QStringLiteral("--listen"), &pass.config.listen, &pass.errors);
    }
}

void validateBroker(const BrokerConfig &config, QStringList *errors)
{
    QStringList texts;
    for (const ListenAddress &address : config.listen)
        texts.append(address.toString());
    if (!config.listen.isEmpty()) {
        QList<ListenAddress> ignored;
        parseListenList(texts, GroupBroker + QLatin1Char('/') + KeyListen, &ignored, errors);
    }
}

} // namespace Config

} // namespace Kennel
