// Where a broker listens, in the one textual form every Kennel program accepts (broker --listen,
// kennelctl --broker, KENNEL_BROKER, KennelClient):
//   HOST:PORT     TCP; HOST is an IPv4 literal or a host name ("localhost", "broker.lan")
//   [V6]:PORT     TCP over an IPv6 literal, which needs the brackets because it holds colons
//   unix:PATH     a Unix-domain socket ("unix:" in any case); a relative PATH is resolved against
//                 the working directory when a connection is made, not when parsing
// PORT 0 parses (a listener asks for any free port) but a client cannot connect to it. The
// grammar is AddressGrammar's (clientlib/protocol), shared with the broker's listen addresses.
#pragma once

#include "kennel_export.h"

#include <QMetaType>
#include <QString>

#include <optional>

QT_BEGIN_NAMESPACE
class QDebug;
QT_END_NAMESPACE

namespace Kennel {

class KENNEL_CLIENT_EXPORT BrokerAddress
{
public:
    enum class Kind { Invalid, Tcp, Unix };

    BrokerAddress() = default; // invalid: isValid() is false until parsed or built

    // nullopt on a malformed address; `error`, if given, then says what is wrong in one sentence.
    static std::optional<BrokerAddress> parse(const QString &text, QString *error = nullptr);
    // No validation: for callers that already hold the parts (tests, the broker's port-0 listener).
    static BrokerAddress tcp(const QString &host, quint16 port);
    static BrokerAddress unixSocket(const QString &path);

    Kind kind() const { return m_kind; }
    bool isValid() const { return m_kind != Kind::Invalid; }
    bool isUnix() const { return m_kind == Kind::Unix; }
    bool isTcp() const { return m_kind == Kind::Tcp; }

    QString host() const { return m_host; } // Tcp: without brackets for IPv6
    quint16 port() const { return m_port; } // Tcp
    QString path() const { return m_path; } // Unix: as written

    // The canonical text; parse(toString()) gives an equal address.
    QString toString() const;

    friend bool operator==(const BrokerAddress &a, const BrokerAddress &b)
    {
        return a.m_kind == b.m_kind && a.m_host == b.m_host && a.m_port == b.m_port
            && a.m_path == b.m_path;
    }
    friend bool operator!=(const BrokerAddress &a, const BrokerAddress &b) { return !(a == b); }

private:
    Kind m_kind = Kind::Invalid;
    QString m_host;
    quint16 m_port = 0;
    QString m_path;
};

KENNEL_CLIENT_EXPORT QDebug operator<<(QDebug debug, const BrokerAddress &address);

} // namespace Kennel

Q_DECLARE_METATYPE(Kennel::BrokerAddress)
