// kennelctl: the broker from the shell. Arguments in, one command run (send, listen, call, serve or
// an operator command), an exit code out that scripts can branch on (docs/KENNELCTL.md).
#include "callcommands.h"
#include "commands.h"
#include "operatorcli.h"

#include <clidoc.h>
#include "topiccommands.h"
#include "logscommand.h"

#include <names.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QLoggingCategory>

#include <optional>

#include <cstdio>

using Kennel::BrokerAddress;

using namespace KennelCtl;

namespace {

const QString DefaultBroker = QStringLiteral("127.0.0.1:8000");

const QString Description = QStringLiteral(
    "Send and receive Kennel messages; see and control the broker.\n"
    "\n"
    "Commands:\n"
    "  send NAME TEXT   send TEXT to the client registered as NAME and wait for its delivery\n"
    "                   status; prints \"delivered to NAME\" or \"not delivered to NAME: STATUS\"\n"
    "                   TEXT '-' reads the message from standard input; --file F from F\n"
    "  listen NAME      register as NAME and print each message as \"SOURCE: TEXT\", one per\n"
    "                   line (bytes that are not printable UTF-8 as \\xNN, '\\' as \\\\);\n"
    "                   \"listening as NAME\" goes to stderr once registered\n"
    "  call NAME TEXT   call NAME with TEXT ('-': standard input; --file F: F) and print its\n"
    "                   reply as it is; --timeout MS is the call's deadline (default 5000)\n"
    "  serve NAME -- COMMAND [ARGS]\n"
    "                   register as NAME and answer each call with COMMAND's standard output\n"
    "                   (the call's payload on its standard input; a non-zero exit is an\n"
    "                   error reply with the exit code and standard error); --jobs N at once\n"
    "  pub, sub         publish to and subscribe to topics: kennelctl pub --help\n"
    "\n"
    "Operator commands (the broker's monitor stream; admitted as a Unix-socket peer by uid, or\n"
    "with --token-file; --json for scripts):\n"
    "  status           broker version, uptime, clients, watched/late, services, totals\n"
    "  clients          the clients: kind, pid, watchdog state, feeds, deadline, counters\n"
    "  services         the supervised services: state, pid, starts, restarts, last exit\n"
    "  start|stop|restart SERVICE   act on a supervised service\n"
    "  disconnect NAME  close every connection of the client NAME\n"
    "  watch            events as lines: joined, left, late, expired, signalled, service ...\n"
    "  sniff [NAME...]  traffic as lines \"TIME SOURCE -> TARGET STATUS SIZE bytes: PREVIEW\",\n"
    "                   only from or to the NAMEs if given\n"
    "  logs SERVICE     a supervised service's recent output, \"TIME out|err TEXT\" per line\n"
    "                   (-n N newest lines, default 20, 0 all kept; --follow for new ones)\n"
    "\n"
    "The broker address is HOST:PORT, [IPV6]:PORT or unix:PATH; default: $KENNEL_BROKER, else %1.\n"
    "\n"
    "Exit status:\n"
    "  0   delivered (send); --count messages received, --timeout without --count, or\n"
    "      SIGINT/SIGTERM (listen)\n"
    "  2   usage: bad arguments, address or name; message over the broker's frame limit\n"
    "  3   cannot connect or register (refused, no such socket, name taken, ...)\n"
    "  4   timeout\n"
    "  5   connection lost after registering (operator commands: after admission)\n"
    "  6   not admitted as a monitor (wrong or no token, uid not allowed)\n"
    "  7   no such service or client, or the action was refused\n"
    "  9   start, stop, restart, disconnect refused: this monitor is read-only (its\n"
    "      token or uid has the read-only role; use the operator's)\n"
    "  11  no_such_client        12  queue_full            13  too_large_for_target\n"
    "  14  not_registered        15  sender_name_unfit     16  invalid_target\n"
    "  17  shutting_down         (10 + the delivery status value)\n"
    "  130, 143  an operator command other than watch and sniff interrupted (128 + the signal)\n"
    "  call: 4 timeout (no reply within the deadline); 21 error_reply, 23 no_such_client,\n"
    "  24 callee_gone, 25 too_many_calls, 26 not_callable, 27 queue_full, 29 shutting_down,\n"
    "  31 start_failed (20 + the call outcome value); 28 policy_denied, as for send")
    .arg(DefaultBroker);

// The largest frame any broker can be configured to take ([limits] max_frame_size): reading more
// would only hold memory for a message that will be refused.
constexpr qint64 MaxMessageBytes = 256 * 1024 * 1024;

// The message from a file, or from standard input for "-"; read whole, before the event loop
// starts. Empty optional and *error when it cannot be read or is too large.
std::optional<QByteArray> readMessage(const QString &path, QString *error)
{
    QFile file;
    const bool stdinput = path == QLatin1String("-");
    const QString what = stdinput ? QStringLiteral("standard input") : path;
    bool opened = false;
    if (stdinput) {
        opened = file.open(stdin, QIODevice::ReadOnly);
    } else {
        file.setFileName(path);
        opened = file.open(QIODevice::ReadOnly);
    }
    if (!opened) {
        *error = QStringLiteral("cannot read %1: %2").arg(what, file.errorString());
        return std::nullopt;
    }
    // A pipe gives what it has at each read: read until the end, not once.
    QByteArray text;
    for (;;) {
        const QByteArray chunk = file.read(MaxMessageBytes + 1 - text.size());
        if (file.error() != QFileDevice::NoError) {
            *error = QStringLiteral("cannot read %1: %2").arg(what, file.errorString());
            return std::nullopt;
        }
        if (chunk.isEmpty())
            break;
        text += chunk;
        if (text.size() > MaxMessageBytes)
            break;
    }
    if (text.size() > MaxMessageBytes) {
        *error = QStringLiteral("%1 holds more than %2 bytes, more than any broker takes in a message").arg(what).arg(MaxMessageBytes);
        return std::nullopt;
    }
    return text;
}

// The sender's name for send and call: --as, else "kc<pid>", short enough for old-protocol
// clients (9 characters: "kc" and at most 7 digits, the largest pid_max), who cannot answer a
// longer sender name.
QByteArray senderName(const QCommandLineParser &parser, const QCommandLineOption &asOption)
{
    return parser.isSet(asOption) ? parser.value(asOption).toUtf8()
                                  : QByteArrayLiteral("kc") + QByteArray::number(QCoreApplication::applicationPid());
}

// The message of send and call: TEXT itself, or the file's contents for --file; a literal "-" is
// read as standard input, as cat and curl do ("--file -" says the same).
std::optional<QByteArray> messageArgument(const QString &source, bool fromFile, QString *error)
{
    if (fromFile || source == QLatin1String("-"))
        return readMessage(source, error);
    return source.toUtf8();
}

int usageError(const QString &text)
{
    std::fprintf(stderr, "kennelctl: %s\nTry 'kennelctl --help'.\n", qPrintable(text));
    return ExitUsage;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kennelctl"));
    QCoreApplication::setApplicationVersion(QStringLiteral(KENNEL_VERSION));

    // pub and sub (topics) parse their own arguments: topiccommands.cpp.
    if (const int code = runTopicCommand(QCoreApplication::arguments()); code != NotATopicCommand)
        return code;

    QCommandLineParser parser;
    parser.setApplicationDescription(Description);
    const QCommandLineOption helpOption = parser.addHelpOption();
    const QCommandLineOption versionOption = parser.addVersionOption();
    const QCommandLineOption brokerOption(QStringLiteral("broker"), QStringLiteral("Broker address."),
                                          QStringLiteral("ADDR"));
    const QCommandLineOption timeoutOption(
        QStringLiteral("timeout"),
        QStringLiteral("send: give up after MS (default 5000). listen: stop after MS; without --count "
                       "that is success."),
        QStringLiteral("MS"));
    const QCommandLineOption asOption(QStringLiteral("as"),
                                      QStringLiteral("send: register as NAME (default kcPID, short enough for old-protocol targets)."),
                                      QStringLiteral("NAME"));
    const QCommandLineOption countOption(QStringLiteral("count"),
                                         QStringLiteral("listen, watch, sniff: exit after N messages, events or records."),
                                         QStringLiteral("N"));
    const QCommandLineOption reconnectOption(
        QStringLiteral("reconnect"), QStringLiteral("listen: reconnect and register again when the broker goes away."));
    const QCommandLineOption verboseOption(QStringLiteral("verbose"),
                                           QStringLiteral("Log the client library's activity to stderr."));
    const QCommandLineOption fileOption(QStringLiteral("file"),
                                        QStringLiteral("send: the message is the contents of FILE ('-': standard input), "
                                                       "for texts too long or too binary for the command line."),
                                        QStringLiteral("FILE"));
    parser.addOptions({brokerOption, timeoutOption, asOption, countOption, reconnectOption, verboseOption, fileOption});
    const QCommandLineOption jobsOption(QStringLiteral("jobs"),
                                        QStringLiteral("serve: commands run at once (default 4); a call beyond them is answered error 503."),
                                        QStringLiteral("N"));
    parser.addOption(jobsOption);
    // logs (logscommand.h): the monitor stream, admitted by Unix peer uid or --token-file (an operator option).
    const QCommandLineOption logsLinesOption(QStringList{QStringLiteral("n"), QStringLiteral("lines")},
                                             QStringLiteral("logs: the newest N lines (default 20; 0: all kept)."),
                                             QStringLiteral("N"));
    const QCommandLineOption logsFollowOption(QStringLiteral("follow"), QStringLiteral("logs: keep printing new lines."));
    parser.addOptions({logsLinesOption, logsFollowOption});
    const OperatorCliOptions operatorOptions = addOperatorOptions(parser);
    parser.addPositionalArgument(QStringLiteral("command"), QStringLiteral("send, listen, call, serve, logs, or an operator command"),
                                 QStringLiteral("<command> ..."));

    const Kennel::CliDoc::Switches docSwitches = Kennel::CliDoc::addOptions(parser);

    const bool parsed = parser.parse(QCoreApplication::arguments());
    if (parsed && Kennel::CliDoc::handle(parser, docSwitches, {QStringLiteral("kennelctl"), QStringLiteral(KENNEL_VERSION),
                                                              QStringList{QStringLiteral("send"), QStringLiteral("listen"), QStringLiteral("call"), QStringLiteral("serve"), QStringLiteral("pub"), QStringLiteral("sub"), QStringLiteral("logs")} + operatorCommands(),
                                                              operatorArgumentCandidates(),
                                                              {QStringLiteral("kennel-broker(1)"), QStringLiteral("kennel-monitor(1)")}}))
        return 0;
    const QStringList args = parser.positionalArguments();
    const QString command = args.value(0);
    if (command == QLatin1String("send")) {
        parser.clearPositionalArguments();
        parser.addPositionalArgument(QStringLiteral("send"), QStringLiteral("Send a message."), QStringLiteral("send"));
        parser.addPositionalArgument(QStringLiteral("NAME"), QStringLiteral("The target client's name."));
        parser.addPositionalArgument(QStringLiteral("TEXT"), QStringLiteral("The message; '-' reads it from standard input. "
                                                                            "Not with --file."), QStringLiteral("[TEXT]"));
    } else if (command == QLatin1String("listen")) {
        parser.clearPositionalArguments();
        parser.addPositionalArgument(QStringLiteral("listen"), QStringLiteral("Print received messages."),
                                     QStringLiteral("listen"));
        parser.addPositionalArgument(QStringLiteral("NAME"), QStringLiteral("The name to register."));
    } else if (isOperatorCommand(command)) {
        describeOperatorArguments(parser, command);
    }
    if (parser.isSet(helpOption))
        parser.showHelp(0);
    if (!parsed)
        return usageError(parser.errorText());
    if (parser.isSet(versionOption))
        parser.showVersion();

    // The library's info lines suit a daemon's log; a command-line tool reports for itself.
    // QT_LOGGING_RULES still overrides this.
    QLoggingCategory::setFilterRules(parser.isSet(verboseOption) ? QStringLiteral("kennel.client.debug=true")
                                                                 : QStringLiteral("kennel.client.info=false"));

    QString brokerText = parser.value(brokerOption);
    if (!parser.isSet(brokerOption))
        brokerText = qEnvironmentVariableIsEmpty("KENNEL_BROKER") ? DefaultBroker
                                                                  : qEnvironmentVariable("KENNEL_BROKER");
    QString addressError;
    const std::optional<BrokerAddress> broker = BrokerAddress::parse(brokerText, &addressError);
    if (!broker)
        return usageError(QStringLiteral("invalid broker address: %1").arg(addressError));

    int timeoutMs = 0;
    if (parser.isSet(timeoutOption)) {
        bool ok = false;
        timeoutMs = parser.value(timeoutOption).toInt(&ok);
        if (!ok || timeoutMs <= 0)
            return usageError(QStringLiteral("--timeout needs a positive number of milliseconds"));
    }
    const auto checkName = [](const QString &name, const QString &what) -> QString {
        if (Kennel::isValidName(name.toUtf8()))
            return QString();
        return QStringLiteral("invalid %1 \"%2\": 1..64 characters of A-Z a-z 0-9 . _ -").arg(what, name);
    };

    if ((command == QLatin1String("send") || command == QLatin1String("listen")) && operatorOptionSet(parser, operatorOptions))
        return usageError(QStringLiteral("--token-file, --tls, --ca-file, --pin and --json are options of the operator commands"));

    if (command == QLatin1String("send")) {
        const bool fromFile = parser.isSet(fileOption);
        if (fromFile && args.size() == 3)
            return usageError(QStringLiteral("send takes TEXT or --file, not both"));
        if (args.size() != (fromFile ? 2 : 3))
            return usageError(fromFile ? QStringLiteral("send --file needs NAME only") : QStringLiteral("send needs NAME and TEXT (or --file)"));
        if (parser.isSet(countOption) || parser.isSet(reconnectOption))
            return usageError(QStringLiteral("--count and --reconnect are options of listen"));
        SendOptions options;
        options.broker = *broker;
        options.name = senderName(parser, asOption);
        options.target = args.at(1).toUtf8();
        QString error;
        const std::optional<QByteArray> text = messageArgument(fromFile ? parser.value(fileOption) : args.at(2), fromFile, &error);
        if (!text)
            return usageError(error);
        options.text = *text;
        if (timeoutMs > 0)
            options.timeoutMs = timeoutMs;
        // NAME@BOARD: a name on another board, across the broker's bridge (docs/FLEET.md).
        const QString targetProblem = Kennel::isValidTarget(args.at(1).toUtf8())
            ? QString()
            : QStringLiteral("invalid target name \"%1\": NAME or NAME@BOARD, names of A-Z a-z 0-9 . _ -").arg(args.at(1));
        for (const QString &problem : {targetProblem,
                                       checkName(QString::fromUtf8(options.name), QStringLiteral("--as name"))}) {
            if (!problem.isEmpty())
                return usageError(problem);
        }
        return runSend(options);
    }

    if (command == QLatin1String("listen")) {
        if (args.size() != 2)
            return usageError(QStringLiteral("listen needs NAME"));
        if (parser.isSet(asOption))
            return usageError(QStringLiteral("--as is an option of send; listen registers as NAME"));
        if (parser.isSet(fileOption))
            return usageError(QStringLiteral("--file is an option of send"));
        ListenOptions options;
        options.broker = *broker;
        options.name = args.at(1).toUtf8();
        options.timeoutMs = timeoutMs;
        options.reconnect = parser.isSet(reconnectOption);
        if (parser.isSet(countOption)) {
            bool ok = false;
            options.count = parser.value(countOption).toInt(&ok);
            if (!ok || options.count <= 0)
                return usageError(QStringLiteral("--count needs a positive number"));
        }
        if (const QString problem = checkName(args.at(1), QStringLiteral("name")); !problem.isEmpty())
            return usageError(problem);
        return runListen(options);
    }

    if (isOperatorCommand(command)) {
        int count = 0;
        if (parser.isSet(countOption)) {
            bool ok = false;
            count = parser.value(countOption).toInt(&ok);
            if (!ok || count <= 0)
                return usageError(QStringLiteral("--count needs a positive number"));
        }
        if (parser.isSet(asOption) || parser.isSet(fileOption) || parser.isSet(reconnectOption))
            return usageError(QStringLiteral("--as, --file and --reconnect are options of send and listen"));
        return runOperatorCommand(parser, operatorOptions, *broker, timeoutMs, count);
    }

    // call and serve (PROTOCOL §5.6): bodies in callcommands.cpp.
    if (command == QLatin1String("call")) {
        const bool fromFile = parser.isSet(fileOption);
        if (args.size() != (fromFile ? 2 : 3))
            return usageError(fromFile ? QStringLiteral("call --file needs NAME only") : QStringLiteral("call needs NAME and TEXT (or --file)"));
        CallOptions options;
        options.broker = *broker;
        options.name = senderName(parser, asOption);
        options.target = args.at(1).toUtf8();
        QString error;
        const std::optional<QByteArray> payload = messageArgument(fromFile ? parser.value(fileOption) : args.at(2), fromFile, &error);
        if (!payload)
            return usageError(error);
        options.payload = *payload;
        if (timeoutMs > 0)
            options.timeoutMs = timeoutMs;
        for (const QString &problem : {checkName(args.at(1), QStringLiteral("target name")),
                                       checkName(QString::fromUtf8(options.name), QStringLiteral("--as name"))}) {
            if (!problem.isEmpty())
                return usageError(problem);
        }
        return runCall(options);
    }
    if (command == QLatin1String("serve")) {
        if (args.size() < 3)
            return usageError(QStringLiteral("serve needs NAME, then -- and the COMMAND to run"));
        ServeOptions options;
        options.broker = *broker;
        options.name = args.at(1).toUtf8();
        options.program = args.at(2);
        options.arguments = args.mid(3);
        options.reconnect = parser.isSet(reconnectOption);
        if (parser.isSet(jobsOption)) {
            bool ok = false;
            options.jobs = parser.value(jobsOption).toInt(&ok);
            if (!ok || options.jobs <= 0)
                return usageError(QStringLiteral("--jobs needs a positive number"));
        }
        if (parser.isSet(countOption)) {
            bool ok = false;
            options.count = parser.value(countOption).toInt(&ok);
            if (!ok || options.count <= 0)
                return usageError(QStringLiteral("--count needs a positive number"));
        }
        if (const QString problem = checkName(args.at(1), QStringLiteral("name")); !problem.isEmpty())
            return usageError(problem);
        return runServe(options);
    }

    if (command == QLatin1String("logs")) {
        if (args.size() != 2)
            return usageError(QStringLiteral("logs needs SERVICE"));
        LogsOptions options;
        options.broker = *broker;
        options.service = args.at(1).toUtf8();
        options.follow = parser.isSet(logsFollowOption);
        options.tokenFile = parser.value(operatorOptions.tokenFile);
        if (timeoutMs > 0)
            options.timeoutMs = timeoutMs;
        if (parser.isSet(logsLinesOption)) {
            bool ok = false;
            options.lines = parser.value(logsLinesOption).toInt(&ok);
            if (!ok || options.lines < 0)
                return usageError(QStringLiteral("-n needs a number of lines (0: all kept)"));
        }
        if (const QString problem = checkName(args.at(1), QStringLiteral("service name")); !problem.isEmpty())
            return usageError(problem);
        return runLogs(options);
    }

    return usageError(command.isEmpty() ? QStringLiteral("missing command (send, listen, status, ...)")
                                        : QStringLiteral("unknown command \"%1\"").arg(command));
}
