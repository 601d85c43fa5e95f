#include "demorunner.h"

#include <QDateTime>
#include <QDir>
#include <QProcessEnvironment>
#include <QTimer>

#include <cstdio>

namespace {
// How long a child gets to exit after SIGTERM before it is killed.
constexpr int StopGraceMs = 3000;
}

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

DemoRunner::Actor *DemoRunner::spawn(const QString &label, const QString &program, const QStringList &arguments)
{
    auto *actor = new Actor;
    actor->label = label;
    actor->process = new QProcess(this);
    actor->process->setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // The timeline carries its own timestamps; the broker's log lines need only what happened.
    env.insert(QStringLiteral("QT_MESSAGE_PATTERN"), QStringLiteral("%{if-category}%{category}: %{endif}%{message}"));
    actor->process->setProcessEnvironment(env);
    connect(actor->process, &QProcess::readyRead, this, [this, actor] { readFrom(actor); });
    connect(actor->process, &QProcess::finished, this, [this, actor](int code, QProcess::ExitStatus status) {
        readFrom(actor);
        if (!actor->partialLine.isEmpty())
            print(actor->label, QString::fromLocal8Bit(actor->partialLine));
        print(QStringLiteral("demo"), status == QProcess::NormalExit
                                          ? QStringLiteral("%1 exited with status %2").arg(actor->label).arg(code)
                                          : QStringLiteral("%1 was killed by a signal").arg(actor->label));
        if (actor == m_broker) {
            m_brokerExitCode = status == QProcess::NormalExit ? code : 1;
            if (!m_stopping)
                stop(QStringLiteral("the broker stopped"));
        }
        if (m_stopping)
            stopNext();
    });
    connect(actor->process, &QProcess::errorOccurred, this, [this, actor](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart) {
            print(QStringLiteral("demo"), QStringLiteral("cannot start %1: %2").arg(actor->process->program(), actor->process->errorString()));
            if (actor == m_broker)
                m_brokerExitCode = 1;
            if (!m_stopping)
                stop(QStringLiteral("a program is missing"));
            else
                stopNext();
        }
    });
    m_actors.append(actor);
    actor->process->start(QDir(m_options.binDir).filePath(program), arguments);
    return actor;
}

void DemoRunner::readFrom(Actor *actor)
{
    actor->partialLine += actor->process->readAll();
    qsizetype newline;
    while ((newline = actor->partialLine.indexOf('\n')) >= 0) {
        const QString line = QString::fromLocal8Bit(actor->partialLine.left(newline)).trimmed();
        actor->partialLine.remove(0, newline + 1);
        if (line.isEmpty())
            continue;
        print(actor->label, line);
        // The clients start once the broker says it is listening where they will connect.
        if (actor == m_broker && !m_clientsStarted
            && line.contains(QStringLiteral("listening on %1:%2").arg(m_options.host).arg(m_options.port)))
            startClients();
    }
}

void DemoRunner::start()
{
    m_clock.start();
    print(QStringLiteral("demo"), QStringLiteral("starting kennel-broker, then client1 (an old-protocol C program) and "
                                                 "client2 (a native Kennel client); Ctrl-C stops"));
    m_broker = spawn(QStringLiteral("broker"), QStringLiteral("kennel-broker"), m_options.brokerArgs);
    if (m_options.durationSeconds > 0)
        QTimer::singleShot(m_options.durationSeconds * 1000, this,
                           [this] { stop(QStringLiteral("%1 s are up").arg(m_options.durationSeconds)); });
}

void DemoRunner::startClients()
{
    m_clientsStarted = true;
    const QString port = QString::number(m_options.port);
    const QString interval = QString::number(m_options.intervalMs);
    spawn(QStringLiteral("client1"), QStringLiteral("kennel-legacy-client"),
          {QStringLiteral("--name"), QStringLiteral("client1"), QStringLiteral("--peer"), QStringLiteral("client2"),
           QStringLiteral("--host"), m_options.host, QStringLiteral("--port"), port,
           QStringLiteral("--send-interval-ms"), interval, QStringLiteral("--count"), QStringLiteral("0"),
           QStringLiteral("--text"), QStringLiteral("hello")});
    spawn(QStringLiteral("client2"), QStringLiteral("kennel-demo-client"),
          {QStringLiteral("--name"), QStringLiteral("client2"), QStringLiteral("--peer"), QStringLiteral("client1"),
           QStringLiteral("--broker"), QStringLiteral("%1:%2").arg(m_options.host, port),
           QStringLiteral("--interval-ms"), interval});
}

void DemoRunner::stop(const QString &why)
{
    if (m_stopping)
        return;
    m_stopping = true;
    print(QStringLiteral("demo"), QStringLiteral("stopping (%1): clients first, the broker last").arg(why));
    stopNext();
}

void DemoRunner::stopNext()
{
    // Reverse start order, one at a time, so the broker sees each client leave.
    for (qsizetype i = m_actors.size() - 1; i >= 0; --i) {
        QProcess *process = m_actors[i]->process;
        if (process->state() == QProcess::NotRunning)
            continue;
        if (!process->property("terminated").toBool()) {
            process->setProperty("terminated", true);
            process->terminate();
            QTimer::singleShot(StopGraceMs, process, [process] {
                if (process->state() != QProcess::NotRunning)
                    process->kill();
            });
        }
        return;
    }
    print(QStringLiteral("demo"), QStringLiteral("done after %1 s").arg(m_clock.elapsed() / 1000.0, 0, 'f', 1));
    emit finished(m_brokerExitCode == 0 ? 0 : 1);
}
