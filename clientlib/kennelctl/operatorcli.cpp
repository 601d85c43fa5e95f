#include "operatorcli.h"

#include "commands.h"
#include "operatorcommands.h"

#include <names.h>

#include <QFile>
#include <QSslCertificate>
#include <QSslSocket>

#include <cstdio>
#include <optional>

namespace KennelCtl {

using namespace Kennel;

namespace {

// A token is a short secret; anything bigger is the wrong file (as kennel-monitor has it).
constexpr qint64 MaxTokenFileBytes = 4096;

int usageError(const QString &text)
{
    std::fprintf(stderr, "kennelctl: %s\nTry 'kennelctl --help'.\n", qPrintable(text));
    return ExitUsage;
}

std::optional<QByteArray> parsePin(const QString &text)
{
    QString hex;
    for (QChar c : text) {
        if (c != u':' && !c.isSpace())
            hex += c;
    }
    const QByteArray bytes = QByteArray::fromHex(hex.toLatin1());
    if (hex.size() != 64 || bytes.size() != 32 || bytes.toHex().compare(hex.toLatin1(), Qt::CaseInsensitive) != 0)
        return std::nullopt;
    return bytes;
}

} // namespace

OperatorCliOptions addOperatorOptions(QCommandLineParser &parser)
{
    OperatorCliOptions o{
        QCommandLineOption(QStringLiteral("token-file"),
                           QStringLiteral("Operator commands: present the monitor token in FILE (never on the command line, where "
                                          "every user could read it). Without it a Unix-socket peer is admitted by its uid."),
                           QStringLiteral("FILE")),
        QCommandLineOption(QStringLiteral("tls"),
                           QStringLiteral("Operator commands: use TLS to a TCP monitor listener (system CAs unless --ca-file or --pin).")),
        QCommandLineOption(QStringLiteral("ca-file"),
                           QStringLiteral("Operator commands: verify the broker against these CA certificates (PEM); implies --tls."),
                           QStringLiteral("FILE")),
        QCommandLineOption(QStringLiteral("pin"),
                           QStringLiteral("Operator commands: trust exactly the certificate with this SHA-256 fingerprint; implies --tls."),
                           QStringLiteral("SHA256")),
        QCommandLineOption(QStringLiteral("json"),
                           QStringLiteral("Operator commands: print JSON (status, clients, services: one document; watch, sniff: one "
                                          "object per line)."))};
    parser.addOptions({o.tokenFile, o.tls, o.caFile, o.pin, o.json});
    return o;
}

QStringList operatorCommands()
{
    return {QStringLiteral("status"), QStringLiteral("clients"), QStringLiteral("services"), QStringLiteral("start"),
            QStringLiteral("stop"), QStringLiteral("restart"), QStringLiteral("disconnect"), QStringLiteral("watch"),
            QStringLiteral("sniff")};
}

QMap<QString, QString> operatorArgumentCandidates()
{
    // "$@": the --broker typed on the line, if any. The first column of the tables, header skipped.
    return {{QStringLiteral("start|stop|restart"), QStringLiteral("kennelctl services \"$@\" 2>/dev/null | awk 'NR > 1 { print $1 }'")},
            {QStringLiteral("disconnect|sniff"), QStringLiteral("kennelctl clients \"$@\" 2>/dev/null | awk 'NR > 1 { print $1 }'")}};
}

bool isOperatorCommand(const QString &command)
{
    return operatorCommands().contains(command);
}

void describeOperatorArguments(QCommandLineParser &parser, const QString &command)
{
    parser.clearPositionalArguments();
    parser.addPositionalArgument(command, QStringLiteral("Operator command (monitor stream)."), command);
    if (command == QLatin1String("start") || command == QLatin1String("stop") || command == QLatin1String("restart"))
        parser.addPositionalArgument(QStringLiteral("SERVICE"), QStringLiteral("The supervised service ([service.NAME])."));
    else if (command == QLatin1String("disconnect"))
        parser.addPositionalArgument(QStringLiteral("NAME"), QStringLiteral("The client whose connections to close."));
    else if (command == QLatin1String("sniff"))
        parser.addPositionalArgument(QStringLiteral("NAME"), QStringLiteral("Only traffic from or to these clients."),
                                     QStringLiteral("[NAME...]"));
}

bool operatorOptionSet(const QCommandLineParser &parser, const OperatorCliOptions &o)
{
    return parser.isSet(o.tokenFile) || parser.isSet(o.tls) || parser.isSet(o.caFile) || parser.isSet(o.pin) || parser.isSet(o.json);
}

int runOperatorCommand(const QCommandLineParser &parser, const OperatorCliOptions &o, const BrokerAddress &broker, int timeoutMs,
                       int count)
{
    const QStringList args = parser.positionalArguments();
    const QString command = args.value(0);
    OperatorOptions options;
    options.monitor.broker = broker;
    options.json = parser.isSet(o.json);
    options.timeoutMs = timeoutMs;
    options.count = count;
    if (timeoutMs > 0)
        options.monitor.connectTimeoutMs = timeoutMs;

    if (parser.isSet(o.tokenFile)) {
        QFile file(parser.value(o.tokenFile));
        if (!file.open(QIODevice::ReadOnly))
            return usageError(QStringLiteral("--token-file: cannot read %1: %2").arg(file.fileName(), file.errorString()));
        if (file.size() > MaxTokenFileBytes)
            return usageError(QStringLiteral("--token-file: %1 is over %2 bytes; not a token file").arg(file.fileName()).arg(MaxTokenFileBytes));
        options.monitor.token = file.readAll().trimmed();
        if (options.monitor.token.isEmpty())
            return usageError(QStringLiteral("--token-file: %1 is empty").arg(file.fileName()));
    }
    if (parser.isSet(o.pin)) {
        const std::optional<QByteArray> pin = parsePin(parser.value(o.pin));
        if (!pin)
            return usageError(QStringLiteral("--pin: expected a SHA-256 fingerprint, 64 hex digits (colons optional)"));
        options.monitor.pinSha256 = *pin;
    }
    const bool tls = parser.isSet(o.tls) || parser.isSet(o.caFile) || parser.isSet(o.pin);
    if (tls) {
        if (!broker.isTcp())
            return usageError(QStringLiteral("TLS applies to TCP addresses only; a Unix socket is local and not encrypted"));
        if (!QSslSocket::supportsSsl())
            return usageError(QStringLiteral("TLS is not available: Qt has no working TLS backend here"));
        options.monitor.tls = true;
    }
    if (parser.isSet(o.caFile)) {
        options.monitor.caFile = parser.value(o.caFile);
        if (QSslCertificate::fromPath(options.monitor.caFile, QSsl::Pem).isEmpty())
            return usageError(QStringLiteral("--ca-file: no PEM certificate could be read from %1").arg(options.monitor.caFile));
    }

    const auto checkName = [](const QString &name, const QString &what) -> QString {
        if (isValidName(name.toUtf8()))
            return QString();
        return QStringLiteral("invalid %1 \"%2\": 1..64 characters of A-Z a-z 0-9 . _ -").arg(what, name);
    };
    const bool streaming = command == QLatin1String("watch") || command == QLatin1String("sniff");
    if (count > 0 && !streaming)
        return usageError(QStringLiteral("--count is an option of listen, watch and sniff"));

    if (command == QLatin1String("status") || command == QLatin1String("clients") || command == QLatin1String("services")
        || command == QLatin1String("watch")) {
        if (args.size() != 1)
            return usageError(QStringLiteral("%1 takes no arguments (unexpected '%2')").arg(command, args.at(1)));
        if (command == QLatin1String("status"))
            return runStatus(options);
        if (command == QLatin1String("clients"))
            return runClients(options);
        if (command == QLatin1String("services"))
            return runServices(options);
        return runWatch(options);
    }
    if (command == QLatin1String("sniff")) {
        for (qsizetype i = 1; i < args.size(); ++i) {
            if (const QString problem = checkName(args.at(i), QStringLiteral("client name")); !problem.isEmpty())
                return usageError(problem);
            options.names.append(args.at(i).toUtf8());
        }
        return runSniff(options);
    }
    const bool service = command != QLatin1String("disconnect");
    const QString what = service ? QStringLiteral("SERVICE") : QStringLiteral("NAME");
    if (args.size() != 2)
        return usageError(args.size() < 2 ? QStringLiteral("%1 needs %2").arg(command, what)
                                          : QStringLiteral("%1 takes one %2 (unexpected '%3')").arg(command, what, args.at(2)));
    if (const QString problem = checkName(args.at(1), service ? QStringLiteral("service name") : QStringLiteral("client name"));
        !problem.isEmpty())
        return usageError(problem);
    MonitorControlAction action = MonitorControlAction::DisconnectClient;
    if (command == QLatin1String("start"))
        action = MonitorControlAction::StartService;
    else if (command == QLatin1String("stop"))
        action = MonitorControlAction::StopService;
    else if (command == QLatin1String("restart"))
        action = MonitorControlAction::RestartService;
    return runControl(options, action, args.at(1).toUtf8());
}

} // namespace KennelCtl
