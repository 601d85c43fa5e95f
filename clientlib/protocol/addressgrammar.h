// The one textual form of a Kennel address, split into its parts. Every program that reads an
// address goes through here — the broker's listen keys and flags (parseListenAddress), and
// BrokerAddress for the clients, kennelctl, the monitor and the demo — and only then applies its
// own policy to the parts: which hosts it takes, what a Unix path must look like, how it words
// a refusal.
//   unix:PATH     a Unix-domain socket ("unix:" in any case); PATH is everything after it
//   [HOST]:PORT   TCP over an IPv6 literal, which needs the brackets because it holds colons
//   HOST:PORT     TCP; HOST has no colon
// Pure: no resolver, no sockets, no QtNetwork.
#pragma once

#include "kennel_export.h"

#include <QString>
#include <QStringView>

#include <optional>

namespace Kennel::AddressGrammar {

// sockaddr_un::sun_path is 108 bytes on Linux, its terminating NUL included. A longer path is
// refused by bind/connect with a bare "invalid argument", or silently cut by some APIs.
constexpr qsizetype MaxUnixPathBytes = 107;

struct Parts
{
    enum class Kind { Tcp, Unix };
    Kind kind = Kind::Tcp;
    bool bracketed = false; // Tcp: HOST was written as [HOST]
    QString host;           // Tcp: as written, without the brackets; may be empty
    QString port;           // Tcp: everything after the separating ':', unchecked (parsePort)
    QString path;           // Unix: as written, unchecked; may be empty
};

enum class SyntaxError {
    None,
    MissingCloseBracket,     // "[::1:8000"
    MissingPortAfterBracket, // "[::1]" or "[::1]8000": no ':' right after the ']'
    MissingPort,             // "127.0.0.1": no ':' at all
    UnbracketedIPv6,         // "::1:8000": more than one ':' outside brackets
};

KENNEL_CLIENT_EXPORT bool isUnix(QStringView text);

// Splits text as it stands (the caller decides about blanks around it first). Says nothing
// about whether the host, the port or the path is acceptable; a Unix address always splits.
KENNEL_CLIENT_EXPORT std::optional<Parts> split(const QString &text, SyntaxError *error = nullptr);

enum class PortError { None, Missing, NotANumber, OutOfRange };

// Decimal digits only (no sign, no blanks, leading zeros allowed), 0..65535. Port 0 parses: a
// listener asks for any free port; a client cannot connect to it.
KENNEL_CLIENT_EXPORT std::optional<quint16> parsePort(QStringView text, PortError *error = nullptr);

} // namespace Kennel::AddressGrammar
