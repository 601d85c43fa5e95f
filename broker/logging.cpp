#include "logging.h"

#include <QByteArray>
#include <QString>

#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

namespace Kennel {
Q_LOGGING_CATEGORY(lcBroker, "kennel.broker", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPoller, "kennel.poller", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSession, "kennel.session", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProtocol, "kennel.protocol", QtInfoMsg)
Q_LOGGING_CATEGORY(lcLegacy, "kennel.legacy", QtInfoMsg)
Q_LOGGING_CATEGORY(lcRouter, "kennel.router", QtInfoMsg)
Q_LOGGING_CATEGORY(lcHold, "kennel.hold", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCalls, "kennel.calls", QtInfoMsg)
Q_LOGGING_CATEGORY(lcBridge, "kennel.bridge", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTraffic, "kennel.traffic", QtInfoMsg)
Q_LOGGING_CATEGORY(lcWatchdog, "kennel.watchdog", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSupervisor, "kennel.supervisor", QtInfoMsg)
Q_LOGGING_CATEGORY(lcService, "kennel.service", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSystemd, "kennel.systemd", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPolicy, "kennel.policy", QtInfoMsg)
} // namespace Kennel

namespace Kennel::Logging {

namespace {
int g_priorityOverride = -1; // the event loop's thread only: the broker has no other

void journalHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const int priority = g_priorityOverride >= 0 ? g_priorityOverride : journalPriority(type);
    const QByteArray prefix = '<' + QByteArray::number(priority) + '>';
    const QByteArray text = qFormatLogMessage(type, context, message).toLocal8Bit();
    // journald takes each line as an entry of its own: every line gets the prefix.
    QByteArray out;
    out.reserve(text.size() + prefix.size() + 1);
    for (const QByteArray &line : text.split('\n')) {
        out += prefix;
        out += line;
        out += '\n';
    }
    std::fwrite(out.constData(), 1, size_t(out.size()), stderr);
    std::fflush(stderr);
}
} // namespace

int journalPriority(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return 7;
    case QtInfoMsg:
        return 6;
    case QtWarningMsg:
        return 4;
    case QtCriticalMsg:
        return 3;
    case QtFatalMsg:
        return 2;
    }
    return 6;
}

QtMsgType messageType(int priority)
{
    if (priority <= 3)
        return QtCriticalMsg;
    if (priority == 4)
        return QtWarningMsg;
    if (priority <= 6)
        return QtInfoMsg;
    return QtDebugMsg;
}

bool stderrIsJournal()
{
    const QByteArray stream = qgetenv("JOURNAL_STREAM");
    const qsizetype colon = stream.indexOf(':');
    if (colon <= 0)
        return false;
    bool okDev = false, okIno = false;
    const qulonglong dev = stream.left(colon).toULongLong(&okDev);
    const qulonglong ino = stream.mid(colon + 1).toULongLong(&okIno);
    struct stat st{};
    if (!okDev || !okIno || ::fstat(STDERR_FILENO, &st) != 0)
        return false;
    return qulonglong(st.st_dev) == dev && qulonglong(st.st_ino) == ino;
}

void installJournalHandler()
{
    // The journal stamps each entry; a second time in the text is noise.
    if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN"))
        qSetMessagePattern(QStringLiteral("%{if-category}%{category} %{endif}%{type}: %{message}"));
    qInstallMessageHandler(journalHandler);
}

int takePriorityPrefix(QByteArrayView &line)
{
    if (line.size() < 3 || line.at(0) != '<' || line.at(1) < '0' || line.at(1) > '7' || line.at(2) != '>')
        return -1;
    const int priority = line.at(1) - '0';
    line = line.sliced(3);
    return priority;
}

PriorityOverride::PriorityOverride(int priority)
    : m_previous(g_priorityOverride)
{
    g_priorityOverride = priority;
}

PriorityOverride::~PriorityOverride()
{
    g_priorityOverride = m_previous;
}

} // namespace Kennel::Logging
