#include "brokeraddress.h"

#include "addressgrammar.h"

#include <QDebug>
#include <QFile>
#include <QHostAddress>

namespace Kennel {

namespace {

const QString UnixPrefix = QStringLiteral("unix:");

constexpr qsizetype MaxHostNameLength = 253;
constexpr qsizetype MaxLabelLength = 63;

void setError(QString *error, const QString &text)
{
    if (error)
        *error = text;
}

bool isHostNameChar(QChar c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9')
        || c == u'-' || c == u'_';
}

bool validateHost(const QString &host, const QString &whole, QString *error)
{
    if (host.isEmpty()) {
        setError(error, QStringLiteral("missing host in \"%1\" (expected HOST:PORT)").arg(whole));
        return false;
    }
    bool digitsAndDotsOnly = true;
    for (QChar c : host) {
        if (c != u'.' && (c < u'0' || c > u'9'))
            digitsAndDotsOnly = false;
    }
    if (digitsAndDotsOnly) {
        // Otherwise "10.0.0.300" would pass as a host name and fail later in a resolver. Four
        // parts: inet_aton's shorthand ("1.2.3" is 1.2.0.3) is a typo far more often than intent.
        QHostAddress address;
        if (host.count(u'.') != 3 || !address.setAddress(host)
            || address.protocol() != QAbstractSocket::IPv4Protocol) {
            setError(error, QStringLiteral("\"%1\" is not a valid IPv4 address").arg(host));
            return false;
        }
        return true;
    }
    if (host.size() > MaxHostNameLength) {
        setError(error, QStringLiteral("host name in \"%1\" is longer than %2 characters")
                            .arg(whole).arg(MaxHostNameLength));
        return false;
    }
    const auto labels = QStringView(host).split(u'.');
    for (QStringView label : labels) {
        bool ok = !label.isEmpty() && label.size() <= MaxLabelLength;
        for (QChar c : label)
            ok = ok && isHostNameChar(c);
        if (!ok) {
            setError(error, QStringLiteral("\"%1\" is not a valid host name").arg(host));
            return false;
        }
    }
    return true;
}

} // namespace

std::optional<BrokerAddress> BrokerAddress::parse(const QString &text, QString *error)
{
    if (text.isEmpty()) {
        setError(error, QStringLiteral("empty broker address"));
        return std::nullopt;
    }
    for (QChar c : text) {
        // Addresses come from command lines and config files, where stray whitespace is a typo
        // better reported than silently trimmed in one program and not in another.
        if (c.isSpace() || c.category() == QChar::Other_Control) {
            setError(error, QStringLiteral("broker address \"%1\" contains whitespace or control "
                                           "characters").arg(text));
            return std::nullopt;
        }
    }

    // The grammar is every Kennel program's (AddressGrammar); what follows is the client's
    // policy: host names allowed (they are resolved when connecting), any Unix path.
    using namespace Kennel::AddressGrammar;
    SyntaxError syntax = SyntaxError::None;
    const std::optional<Parts> parts = split(text, &syntax);
    switch (syntax) {
    case SyntaxError::None:
        break;
    case SyntaxError::MissingCloseBracket:
        setError(error, QStringLiteral("missing ']' in \"%1\" (expected [IPV6]:PORT)").arg(text));
        return std::nullopt;
    case SyntaxError::MissingPortAfterBracket:
        setError(error, QStringLiteral("missing port in \"%1\" (expected [IPV6]:PORT)").arg(text));
        return std::nullopt;
    case SyntaxError::MissingPort:
        setError(error, QStringLiteral("missing port in \"%1\" (expected HOST:PORT, [IPV6]:PORT "
                                       "or unix:PATH)").arg(text));
        return std::nullopt;
    case SyntaxError::UnbracketedIPv6: {
        const qsizetype colon = text.lastIndexOf(u':');
        setError(error, QStringLiteral("IPv6 addresses need brackets: \"[%1]:%2\"")
                            .arg(text.left(colon), QStringView(text).mid(colon + 1)));
        return std::nullopt;
    }
    }

    BrokerAddress address;
    if (parts->kind == Parts::Kind::Unix) {
        const QString &path = parts->path;
        if (path.isEmpty()) {
            setError(error, QStringLiteral("missing socket path in \"%1\" (expected unix:PATH)").arg(text));
            return std::nullopt;
        }
        // Refused here with a message that names the address; the kernel would only say
        // "invalid argument" at connect time.
        if (QFile::encodeName(path).size() > MaxUnixPathBytes) {
            setError(error, QStringLiteral("socket path in \"%1\" is longer than %2 bytes")
                                .arg(text).arg(MaxUnixPathBytes));
            return std::nullopt;
        }
        address.m_kind = Kind::Unix;
        address.m_path = path;
        return address;
    }

    const QString &host = parts->host;
    if (parts->bracketed) {
        QHostAddress v6;
        if (!v6.setAddress(host) || v6.protocol() != QAbstractSocket::IPv6Protocol) {
            setError(error, QStringLiteral("\"%1\" is not a valid IPv6 address").arg(host));
            return std::nullopt;
        }
    } else if (!validateHost(host, text, error)) {
        return std::nullopt;
    }

    PortError portError = PortError::None;
    const std::optional<quint16> port = parsePort(parts->port, &portError);
    switch (portError) {
    case PortError::None:
        break;
    case PortError::Missing:
        setError(error, QStringLiteral("missing port in \"%1\" (expected HOST:PORT)").arg(text));
        return std::nullopt;
    case PortError::NotANumber:
        setError(error, QStringLiteral("port \"%1\" in \"%2\" is not a number").arg(parts->port, text));
        return std::nullopt;
    case PortError::OutOfRange:
        setError(error, QStringLiteral("port %1 in \"%2\" is out of range (0..65535)").arg(parts->port, text));
        return std::nullopt;
    }
    address.m_kind = Kind::Tcp;
    address.m_host = host;
    address.m_port = *port;
    return address;
}

BrokerAddress BrokerAddress::tcp(const QString &host, quint16 port)
{
    BrokerAddress address;
    address.m_kind = Kind::Tcp;
    address.m_host = host;
    address.m_port = port;
    return address;
}

BrokerAddress BrokerAddress::unixSocket(const QString &path)
{
    BrokerAddress address;
    address.m_kind = Kind::Unix;
    address.m_path = path;
    return address;
}

QString BrokerAddress::toString() const
{
    switch (m_kind) {
    case Kind::Invalid:
        break;
    case Kind::Unix:
        return UnixPrefix + m_path;
    case Kind::Tcp:
        if (m_host.contains(u':'))
            return u'[' + m_host + QStringLiteral("]:") + QString::number(m_port);
        return m_host + u':' + QString::number(m_port);
    }
    return QString();
}

QDebug operator<<(QDebug debug, const BrokerAddress &address)
{
    QDebugStateSaver saver(debug);
    debug.nospace() << "BrokerAddress(";
    if (address.isValid())
        debug.noquote() << address.toString();
    else
        debug << "invalid";
    debug << ')';
    return debug;
}

} // namespace Kennel
