// CliDoc: a program's man page and bash completion, generated from the very text its --help
// prints (QCommandLineParser::helpText()), so that the three cannot drift apart. Each program adds
// the hidden options --help-man and --help-completion; the build runs them and installs the
// output (clientlib/clidoc/CMakeLists.txt, kennel_cli_docs()).
#pragma once

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

namespace Kennel::CliDoc {

struct Page
{
    QString program;            // "kennelctl"
    QString version;            // "0.1.0"
    QStringList commands;       // the first word's choices, for completion (none: options only)
    // Shell command lines that print candidates for a command's arguments, one per line; "$@"
    // holds the --broker option if one was typed (kennelctl: service names from `services`).
    QMap<QString, QString> argumentCandidates;
    QStringList seeAlso;        // "kennel-broker(1)", ...
};

struct Option
{
    QStringList names;          // "-h", "--help" (with their dashes)
    QString valueName;          // "FILE", empty for a switch
    QString description;        // joined to one paragraph
};

struct Help
{
    QString usage;              // the Usage line's arguments after the program: "[options] <command> ..."
    QString summary;            // the description's first line
    QString description;        // the rest of the description, line breaks kept
    QList<Option> options;
    QList<Option> arguments;    // positional arguments: names[0] and the description
};

struct Switches
{
    QCommandLineOption man;
    QCommandLineOption completion;
};

// Adds --help-man and --help-completion, hidden from --help.
Switches addOptions(QCommandLineParser &parser);
// When one of them is set: writes the man page or the completion script to stdout and returns
// true (the caller exits 0). Call before anything that needs a broker or a display.
bool handle(const QCommandLineParser &parser, const Switches &switches, const Page &page);

Help parseHelp(const QString &helpText);
QString manPage(const Help &help, const Page &page);
QString bashCompletion(const Help &help, const Page &page);

} // namespace Kennel::CliDoc
