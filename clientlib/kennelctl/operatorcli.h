// The command line of kennelctl's operator commands (status, clients, services, start, stop,
// restart, disconnect, watch, sniff): their options, their arguments checked, then the command run
// (operatorcommands.h). main.cpp only adds these options and hands the command over.
#pragma once

#include <brokeraddress.h>

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QMap>
#include <QString>
#include <QStringList>

namespace KennelCtl {

struct OperatorCliOptions
{
    QCommandLineOption tokenFile;
    QCommandLineOption tls;
    QCommandLineOption caFile;
    QCommandLineOption pin;
    QCommandLineOption json;
};

// Adds --token-file, --tls, --ca-file, --pin and --json to the parser.
OperatorCliOptions addOperatorOptions(QCommandLineParser &parser);
bool isOperatorCommand(const QString &command);
// The operator commands, for help and completion.
QStringList operatorCommands();
// For the generated bash completion: shell commands that print a command's argument candidates
// (services for start/stop/restart, clients for disconnect and sniff), asked of the broker.
QMap<QString, QString> operatorArgumentCandidates();
// For --help after a command: its arguments.
void describeOperatorArguments(QCommandLineParser &parser, const QString &command);
// True when an option only operator commands take is set (send and listen refuse it).
bool operatorOptionSet(const QCommandLineParser &parser, const OperatorCliOptions &options);

// Checks the arguments (a usage error is reported and returns ExitUsage) and runs the command.
// timeoutMs and count: 0 when not given.
int runOperatorCommand(const QCommandLineParser &parser, const OperatorCliOptions &options, const Kennel::BrokerAddress &broker,
                       int timeoutMs, int count);

} // namespace KennelCtl
