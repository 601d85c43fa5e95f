#include "demorunner.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QProcessEnvironment>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace {
// The broker stops its services (each within its own stop timeout) before it exits; past this it
// is killed.
constexpr int BrokerStopGraceMs = 20000;

// After client2 is asked to stop sending: the longest wait for its last messages to be answered (a
// held one waits for client1's restart: restart_delay_ms, 2500, plus its start).
constexpr int ClientDrainMs = 4000;

// The broker's log lines arrive as "category|type|message" (see QT_MESSAGE_PATTERN below).
constexpr char FieldSeparator = '|';

QString quoted(const QString &argument)
{
    QString escaped = argument;
    escaped.replace(QLatin1Char('\\'), QStringLiteral("\\\\")).replace(QLatin1Char('"'), QStringLiteral("\\\""));
    return QLatin1Char('"') + escaped + QLatin1Char('"');
}

QString argumentList(const QStringList &arguments)
{
    QStringList parts;
    for (const QString &argument : arguments)
        parts.append(quoted(argument));
    return parts.join(QStringLiteral(", "));
}
} // namespace

DemoRunner::DemoRunner(DemoOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
{
}

void DemoRunner::print(const QString &label, const QString &line)
{
    const QString stamp = QDateTime::currentDateTime().toString(QStringLiteral("hh:mm:ss.zzz"));
    std::printf("%s  %-8s| %s\n", qPrintable(stamp), qPrintable(label), qPrintable(line));
    std::fflush(stdout);
}

// A fresh random token for this run, readable by the owner only (the broker refuses a token file
// others can read).
bool DemoRunner::writeMonitorToken(QString *error)
{
    QByteArray token;
    for (int i = 0; i < 4; ++i)
        token += QByteArray::number(QRandomGenerator::system()->generate64(), 16).rightJustified(16, '0');
    m_tokenPath = m_dir.filePath(QStringLiteral("monitor.token"));
    QFile file(m_tokenPath);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || !file.setPermissions(QFile::ReadOwner | QFile::WriteOwner)
        || file.write(token + '\n') < 0) {
        *error = QStringLiteral("cannot write %1: %2").arg(m_tokenPath, file.errorString());
        return false;
    }
    return true;
}

void DemoRunner::startMonitor()
{
    m_monitor = new QProcess(this);
    m_monitor->setProcessChannelMode(QProcess::ForwardedErrorChannel);
    m_monitor->setStandardOutputFile(QProcess::nullDevice());
    m_monitor->setChildProcessModifier([] { ::setpgid(0, 0); });
    connect(m_monitor, &QProcess::errorOccurred, this, [this](QProcess::ProcessError processError) {
        if (processError == QProcess::FailedToStart)
            print(QStringLiteral("demo"), QStringLiteral("cannot start kennel-monitor: %1").arg(m_monitor->errorString()));
    });
    connect(m_monitor, &QProcess::finished, this, [this] { print(QStringLiteral("demo"), QStringLiteral("kennel-monitor closed")); });
    QStringList args{QStringLiteral("--broker"), QStringLiteral("unix:") + m_dir.filePath(QStringLiteral("broker.sock")),
                     QStringLiteral("--connect")};
    args += m_options.monitorArgs;
    print(QStringLiteral("demo"), QStringLiteral("opening kennel-monitor on the broker's Unix socket (admitted as the same user)"));
    m_monitor->start(QDir(m_options.binDir).filePath(QStringLiteral("kennel-monitor")), args);
}

bool DemoRunner::writeConfig(QString *error)
{
    if (!m_dir.isValid()) {
        *error = QStringLiteral("cannot create a temporary folder: ") + m_dir.errorString();
        return false;
    }
    const QDir bin(m_options.binDir);
    const QString port = QString::number(m_options.port);
    const QString interval = QString::number(m_options.intervalMs);
    const QStringList client1Args{QStringLiteral("--name"), QStringLiteral("client1"), QStringLiteral("--peer"), QStringLiteral("client2"),
                                  QStringLiteral("--host"), m_options.host, QStringLiteral("--port"), port,
                                  QStringLiteral("--send-interval-ms"), interval, QStringLiteral("--count"), QStringLiteral("0"),
                                  QStringLiteral("--text"), QStringLiteral("hello"), QStringLiteral("--watchdog"),
                                  QStringLiteral("--feed-interval-ms"), QString::number(m_options.feedIntervalMs)};
    const QStringList client2Args{QStringLiteral("--name"), QStringLiteral("client2"), QStringLiteral("--peer"), QStringLiteral("client1"),
                                  QStringLiteral("--interval-ms"), interval, QStringLiteral("--held-interval-ms"),
                                  QString::number(m_options.heldIntervalMs), QStringLiteral("--watchdog-interval-ms"),
                                  QStringLiteral("3000")};
    // The same story as resources/examples/kennel-demo.ini, with this build's programs and ports.
    QString config = QStringLiteral(
        "; Written by kennel-demo for one run.\n"
        "[broker]\n"
        "listen = %1:%2, \"unix:%3\"\n"
        "\n"
        "[watchdog]\n"
        "; The old server's terms for legacy clients: 3 s x 3, so a client dies 9 s after its last feed.\n"
        "default_interval_ms = 3000\n"
        "default_allowed_misses = 3\n"
        "action = terminate\n"
        "kill_grace_ms = 3000\n"
        "\n"
        "; A native client that feeds on time: never touched.\n"
        "[service.client2]\n"
        "program = %4\n"
        "arguments = %5\n"
        "\n"
        "; The old client1: it feeds every %6 ms, too slowly, so the watchdog ends it and the supervisor\n"
        "; starts it again. It starts once client2 has registered: client2's messages to it are then\n"
        "; held by the broker while it is down, and delivered when it registers again.\n"
        "[service.client1]\n"
        "program = %7\n"
        "arguments = %8\n"
        "after = client2\n"
        "restart = on-failure\n"
        "; Longer than client2's send interval, so that at least one of its messages is held each time.\n"
        "restart_delay_ms = 2500\n"
        "restart_delay_max_ms = 2500\n"
        "; Killed about every 11 s by design: allow that, while a client that dies on start is still given up on.\n"
        "start_limit = 20\n")
        .arg(m_options.host, port, m_dir.filePath(QStringLiteral("broker.sock")),
             bin.filePath(QStringLiteral("kennel-demo-client")), argumentList(client2Args),
             QString::number(m_options.feedIntervalMs), bin.filePath(QStringLiteral("kennel-legacy-client")),
             argumentList(client1Args));
    QString monitorSection;
    if (!m_options.monitorListen.isEmpty()) {
        if (!writeMonitorToken(error))
            return false;
        monitorSection = QStringLiteral("\n; A desktop's kennel-monitor connects here with the token.\n[monitor]\nlisten = %1\ntoken_file = \"%2\"\n")
                             .arg(m_options.monitorListen, m_tokenPath);
    }
    config += monitorSection;
    m_configPath = m_dir.filePath(QStringLiteral("kennel-demo.ini"));
    QFile file(m_configPath);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(config.toUtf8()) < 0) {
        *error = QStringLiteral("cannot write %1: %2").arg(m_configPath, file.errorString());
        return false;
    }
    return true;
}

void DemoRunner::start()
{
    m_clock.start();
    QString error;
    if (!writeConfig(&error)) {
        print(QStringLiteral("demo"), error);
        QMetaObject::invokeMethod(this, [this] { Q_EMIT finished(1); }, Qt::QueuedConnection);
        return;
    }
    print(QStringLiteral("demo"), QStringLiteral("kennel-broker starts and supervises two clients that talk to each other:"));
    print(QStringLiteral("demo"), QStringLiteral("  client1, an old-protocol C program that feeds its watchdog every %1 s against the "
                                                 "old 3 s x 3 deadline,").arg(m_options.feedIntervalMs / 1000.0));
    print(QStringLiteral("demo"), QStringLiteral("  and client2, a native Kennel client that feeds on time."));
    print(QStringLiteral("demo"), QStringLiteral("  Watch the broker terminate client1 when it misses its deadline and restart it. Ctrl-C stops."));

    m_broker = new QProcess(this);
    m_broker->setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // The timeline carries its own timestamps; the runner needs the category to say who spoke.
    env.insert(QStringLiteral("QT_MESSAGE_PATTERN"), QStringLiteral("%{category}|%{type}|%{message}"));
    m_broker->setProcessEnvironment(env);
    // Its own process group: a Ctrl-C at the terminal reaches the runner alone, which then asks the
    // broker once, with SIGTERM, to stop its services and itself in order.
    m_broker->setChildProcessModifier([] { ::setpgid(0, 0); });
    connect(m_broker, &QProcess::readyRead, this, &DemoRunner::readBroker);
    connect(m_broker, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
        readBroker();
        if (!m_partialLine.isEmpty())
            showLogLine(QString::fromLocal8Bit(m_partialLine));
        const bool clean = status == QProcess::NormalExit && code == 0;
        print(QStringLiteral("demo"), status == QProcess::NormalExit ? QStringLiteral("kennel-broker exited with status %1").arg(code)
                                                                     : QStringLiteral("kennel-broker was killed by a signal"));
        if (!m_summary.isEmpty())
            print(QStringLiteral("demo"), QStringLiteral("client2's messages to client1: ") + m_summary);
        print(QStringLiteral("demo"), QStringLiteral("done after %1 s").arg(m_clock.elapsed() / 1000.0, 0, 'f', 1));
        Q_EMIT finished(clean && m_stopping ? 0 : 1);
    });
    connect(m_broker, &QProcess::errorOccurred, this, [this](QProcess::ProcessError processError) {
        if (processError != QProcess::FailedToStart)
            return;
        print(QStringLiteral("demo"), QStringLiteral("cannot start %1: %2").arg(m_broker->program(), m_broker->errorString()));
        Q_EMIT finished(1);
    });
    m_broker->start(QDir(m_options.binDir).filePath(QStringLiteral("kennel-broker")),
                    {QStringLiteral("--config"), m_configPath});
    if (!m_options.monitorListen.isEmpty())
        print(QStringLiteral("demo"), QStringLiteral("from a desktop: kennel-monitor --broker %1 --token-file %2 (copy the token file)")
                                          .arg(m_options.monitorListen, m_tokenPath));
    if (m_options.durationSeconds > 0)
        QTimer::singleShot(m_options.durationSeconds * 1000, this,
                           [this] { stop(QStringLiteral("%1 s are up").arg(m_options.durationSeconds)); });
}

void DemoRunner::readBroker()
{
    m_partialLine += m_broker->readAll();
    qsizetype newline;
    while ((newline = m_partialLine.indexOf('\n')) >= 0) {
        const QString line = QString::fromLocal8Bit(m_partialLine.left(newline)).trimmed();
        m_partialLine.remove(0, newline + 1);
        if (line.isEmpty())
            continue;
        showLogLine(line);
        // The pid the supervisor started client2 with, which stop() asks to stop sending.
        static const QRegularExpression client2Started(QStringLiteral("service client2: started, pid (\\d+)"));
        if (const QRegularExpressionMatch match = client2Started.match(line); match.hasMatch())
            m_client2Pid = match.captured(1).toInt();
        else if (line.contains(QLatin1String("service client2: exited")))
            m_client2Pid = 0;
        if (m_stopping && line.contains(QLatin1String("client2: all its messages are answered")))
            stopBroker();
        if (line.contains(QLatin1String("client2: summary: ")))
            m_summary = line.section(QLatin1String("client2: summary: "), 1);
        if (m_options.openMonitor && !m_monitor && line.contains(QLatin1String("listening on unix:")))
            startMonitor();
    }
}

// "kennel.service|info|client1: sent #3 to client2" -> client1 | sent #3 to client2
// "kennel.watchdog|warning|'client1' expired ..."    -> broker  | watchdog: 'client1' expired ...
void DemoRunner::showLogLine(const QString &line)
{
    const QStringList fields = line.split(QLatin1Char(FieldSeparator));
    if (fields.size() < 3) {
        print(QStringLiteral("broker"), line);
        return;
    }
    const QString category = fields.at(0);
    const QString type = fields.at(1);
    const QString message = line.section(QLatin1Char(FieldSeparator), 2);
    if (category == QLatin1String("kennel.service")) {
        const qsizetype colon = message.indexOf(QLatin1String(": "));
        if (colon > 0) {
            // A Qt service inherits the log format: "kennel.client|info|text" -> "client: text".
            QString said = message.mid(colon + 2);
            const QStringList nested = said.split(QLatin1Char(FieldSeparator));
            if (nested.size() >= 3 && nested.at(0).startsWith(QLatin1String("kennel.")))
                said = nested.at(0).mid(7) + QStringLiteral(": ") + said.section(QLatin1Char(FieldSeparator), 2);
            print(message.left(colon), said);
            return;
        }
    }
    QString topic = category.startsWith(QLatin1String("kennel.")) ? category.mid(7) : category;
    if (type == QLatin1String("warning") || type == QLatin1String("critical"))
        topic += QLatin1Char('!');
    print(QStringLiteral("broker"), topic + QStringLiteral(": ") + message);
}

void DemoRunner::stop(const QString &why)
{
    if (m_stopping)
        return;
    m_stopping = true;
    if (!m_broker || m_broker->state() == QProcess::NotRunning) {
        Q_EMIT finished(1);
        return;
    }
    // client1 is stopped first (it depends on client2): a message client2 sent it then would be
    // refused. So client2 stops sending first, and its last messages are answered.
    if (m_client2Pid > 0 && ::kill(pid_t(m_client2Pid), SIGUSR1) == 0) {
        print(QStringLiteral("demo"), QStringLiteral("stopping (%1): client2 stops sending").arg(why));
        QTimer::singleShot(ClientDrainMs, this, [this] { stopBroker(); });
        return;
    }
    print(QStringLiteral("demo"), QStringLiteral("stopping (%1)").arg(why));
    stopBroker();
}

void DemoRunner::stopBroker()
{
    if (m_brokerStopping || m_broker->state() == QProcess::NotRunning)
        return;
    m_brokerStopping = true;
    print(QStringLiteral("demo"), QStringLiteral("the broker stops its services, then itself"));
    if (m_monitor && m_monitor->state() != QProcess::NotRunning)
        m_monitor->terminate();
    m_broker->terminate();
    QTimer::singleShot(BrokerStopGraceMs, m_broker, [this] {
        if (m_broker->state() != QProcess::NotRunning) {
            print(QStringLiteral("demo"), QStringLiteral("the broker did not stop in time: killing it"));
            m_broker->kill();
        }
    });
}
