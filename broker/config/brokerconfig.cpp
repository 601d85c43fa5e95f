#include "brokerconfig.h"
#include "errnotext.h"

#include <QDir>
#include <QFile>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace Kennel {

QString ListenAddress::toString() const
{
    if (kind == Kind::Unix)
        return QStringLiteral("unix:") + path;
    // A colon in the host can only be IPv6, which needs brackets to keep the port readable.
    if (host.contains(QLatin1Char(':')))
        return QLatin1Char('[') + host + QStringLiteral("]:") + QString::number(port);
    return host + QLatin1Char(':') + QString::number(port);
}

bool ListenAddress::operator==(const ListenAddress &other) const
{
    // Only the fields that belong to the kind take part: a Unix address with a stale port is
    // still the same socket.
    if (kind != other.kind)
        return false;
    if (kind == Kind::Unix)
        return path == other.path;
    return host == other.host && port == other.port;
}

ListenAddress BrokerConfig::defaultTcpAddress()
{
    ListenAddress address;
    address.kind = ListenAddress::Kind::Tcp;
    address.host = QStringLiteral("127.0.0.1");
    address.port = 8000;
    return address;
}

ListenAddress BrokerConfig::defaultUnixAddress()
{
    ListenAddress address;
    address.kind = ListenAddress::Kind::Unix;

    // The XDG base directory spec says a relative XDG_RUNTIME_DIR is invalid and must be ignored.
    const QString runtimeDir = qEnvironmentVariable("XDG_RUNTIME_DIR");
    if (!runtimeDir.isEmpty() && QDir::isAbsolutePath(runtimeDir)) {
        address.path = QDir::cleanPath(runtimeDir + QStringLiteral("/kennel/broker.sock"));
        return address;
    }
    const uid_t uid = ::geteuid();
    if (uid == 0) {
        address.path = QStringLiteral("/run/kennel/broker.sock");
        return address;
    }
    // Per-user directory: two users on one device must not fight over one socket.
    address.path = QStringLiteral("/tmp/kennel-") + QString::number(uid) + QStringLiteral("/broker.sock");
    return address;
}

QList<ListenAddress> BrokerConfig::effectiveListen() const
{
    if (!listen.isEmpty())
        return listen;
    return {defaultTcpAddress(), defaultUnixAddress()};
}

const char *watchdogActionName(WatchdogAction action)
{
    switch (action) {
    case WatchdogAction::Terminate: return "terminate";
    case WatchdogAction::Kill: return "kill";
    case WatchdogAction::Disconnect: return "disconnect";
    case WatchdogAction::Notify: return "notify";
    }
    return "unknown";
}

std::optional<WatchdogAction> parseWatchdogAction(QStringView text)
{
    for (WatchdogAction action : {WatchdogAction::Terminate, WatchdogAction::Kill, WatchdogAction::Disconnect,
                                  WatchdogAction::Notify}) {
        if (text == QLatin1String(watchdogActionName(action)))
            return action;
    }
    return std::nullopt;
}

bool WatchdogActionRule::isValidPattern(QStringView pattern)
{
    if (pattern.isEmpty() || pattern.size() > MaxPatternLength)
        return false;
    return std::all_of(pattern.begin(), pattern.end(), [](QChar c) {
        const char16_t u = c.unicode();
        return (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9') || u == u'.'
               || u == u'_' || u == u'-' || u == u'*' || u == u'?';
    });
}

bool WatchdogActionRule::matches(QByteArrayView clientName) const
{
    // The classic linear wildcard walk: on a mismatch, go back to just after the last '*' and let
    // it swallow one more character. Names are at most 64 bytes, patterns 128 characters.
    const QStringView pattern(namePattern);
    if (pattern.isEmpty())
        return false;
    qsizetype p = 0;
    qsizetype n = 0;
    qsizetype starAt = -1;
    qsizetype resumeAt = 0;
    while (n < clientName.size()) {
        if (p < pattern.size()) {
            const char16_t pc = pattern[p].unicode();
            if (pc == u'*') {
                starAt = p++;
                resumeAt = n;
                continue;
            }
            if (pc == u'?' || pc == char16_t(static_cast<unsigned char>(clientName[n]))) {
                ++p;
                ++n;
                continue;
            }
        }
        if (starAt < 0)
            return false;
        p = starAt + 1;
        n = ++resumeAt;
    }
    while (p < pattern.size() && pattern[p] == QLatin1Char('*'))
        ++p;
    return p == pattern.size();
}

WatchdogAction WatchdogSettings::actionFor(QByteArrayView clientName) const
{
    for (const WatchdogActionRule &rule : actionRules) {
        if (rule.matches(clientName))
            return rule.action;
    }
    return defaultAction;
}

const char *restartPolicyName(ServiceSettings::Restart restart)
{
    switch (restart) {
    case ServiceSettings::Restart::Always: return "always";
    case ServiceSettings::Restart::OnFailure: return "on-failure";
    case ServiceSettings::Restart::Never: return "never";
    }
    return "unknown";
}

std::optional<ServiceSettings::Restart> parseRestartPolicy(QStringView text)
{
    for (ServiceSettings::Restart restart : {ServiceSettings::Restart::Always, ServiceSettings::Restart::OnFailure,
                                             ServiceSettings::Restart::Never}) {
        if (text == QLatin1String(restartPolicyName(restart)))
            return restart;
    }
    return std::nullopt;
}

namespace {

struct NamedSignal
{
    const char *name;
    int number;
};

// The signals a service is commonly asked to stop with; anything else by number.
const NamedSignal namedSignals[] = {
    {"TERM", SIGTERM}, {"INT", SIGINT}, {"HUP", SIGHUP}, {"QUIT", SIGQUIT},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL},
};

} // namespace

std::optional<int> parseSignal(QStringView text)
{
    QStringView name = text;
    if (name.startsWith(QLatin1String("SIG")))
        name = name.mid(3);
    for (const NamedSignal &named : namedSignals) {
        if (name == QLatin1String(named.name))
            return named.number;
    }
    if (text.isEmpty() || !std::all_of(text.begin(), text.end(), [](QChar c) {
            return c >= QLatin1Char('0') && c <= QLatin1Char('9');
        })) {
        return std::nullopt;
    }
    bool ok = false;
    const int number = text.toInt(&ok);
    if (!ok || number < 1 || number > SIGRTMAX)
        return std::nullopt;
    return number;
}

QString signalName(int signalNumber)
{
    for (const NamedSignal &named : namedSignals) {
        if (named.number == signalNumber)
            return QLatin1String(named.name);
    }
    return QString::number(signalNumber);
}

QString MonitorToken::check(QByteArrayView token)
{
    if (token.isEmpty())
        return QStringLiteral("empty");
    if (token.size() < MinLength) {
        return QStringLiteral("too short (at least ") + QString::number(MinLength)
               + QStringLiteral(" characters; e.g. the output of \"openssl rand -hex 16\")");
    }
    if (token.size() > MaxLength)
        return QStringLiteral("too long (at most ") + QString::number(MaxLength) + QStringLiteral(" characters)");
    for (qsizetype i = 0; i < token.size(); ++i) {
        const auto c = static_cast<unsigned char>(token[i]);
        if (c < 0x21 || c > 0x7e) {
            return QStringLiteral("character ") + QString::number(i + 1)
                   + QStringLiteral(" is not printable ASCII (blanks and non-ASCII characters are not allowed)");
        }
    }
    return {};
}

std::optional<QByteArray> MonitorToken::readFile(const QString &path, QString *error)
{
    const QByteArray native = QFile::encodeName(path);
    // open() first and fstat() what was opened: checking the path and then reading it would leave
    // a window in which the file could be swapped.
    const int fd = ::open(native.constData(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *error = errno == ENOENT ? QStringLiteral("no such file")
                                 : QStringLiteral("cannot read: ") + errnoText(errno);
        return std::nullopt;
    }
    struct Closer
    {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};

    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        *error = QStringLiteral("cannot read: ") + errnoText(errno);
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        *error = QStringLiteral("is not a regular file");
        return std::nullopt;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        *error = QStringLiteral("is accessible by group or others (mode ")
                 + QString::number(st.st_mode & 07777, 8).rightJustified(4, QLatin1Char('0'))
                 + QStringLiteral("); anyone who can read it can monitor and control the broker: chmod 600 it");
        return std::nullopt;
    }
    // MaxLength, a CR LF, and one byte more to tell "too long" from "just fits".
    char buffer[MaxLength + 3];
    qsizetype size = 0;
    while (size < qsizetype(sizeof buffer)) {
        const ssize_t n = ::read(fd, buffer + size, sizeof buffer - size_t(size));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *error = QStringLiteral("cannot read: ") + errnoText(errno);
            return std::nullopt;
        }
        if (n == 0)
            break;
        size += n;
    }
    QByteArray token(buffer, size);
    std::fill(std::begin(buffer), std::end(buffer), '\0');
    if (size == qsizetype(sizeof buffer)) {
        *error = QStringLiteral("longer than ") + QString::number(MaxLength) + QStringLiteral(" characters");
        return std::nullopt;
    }
    while (token.endsWith('\n') || token.endsWith('\r'))
        token.chop(1);
    if (token.size() > MaxLength) {
        *error = QStringLiteral("longer than ") + QString::number(MaxLength) + QStringLiteral(" characters");
        return std::nullopt;
    }
    const QString why = check(token);
    if (!why.isEmpty()) {
        *error = QStringLiteral("the token in it: ") + why;
        if (token.isEmpty())
            *error = QStringLiteral("is empty");
        return std::nullopt;
    }
    return token;
}

} // namespace Kennel
