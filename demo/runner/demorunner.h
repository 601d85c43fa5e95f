// Runs the demo's cast — the broker and two clients — as child processes and prints their output
// as one timeline, each line stamped with the time it arrived and who said it.
#pragma once

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>

class QTimer;

struct DemoOptions
{
    QString binDir;        // where kennel-broker and the demo clients live
    QStringList brokerArgs;// extra arguments for kennel-broker (none: its built-in defaults)
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 8000;
    int intervalMs = 2000;
    int durationSeconds = 0; // 0: until Ctrl-C
};

class DemoRunner : public QObject
{
    Q_OBJECT
public:
    explicit DemoRunner(DemoOptions options, QObject *parent = nullptr);

    void start();
    void stop(const QString &why);

signals:
    void finished(int exitCode);

private:
    struct Actor
    {
        QString label;
        QProcess *process = nullptr;
        QByteArray partialLine;
    };

    Actor *spawn(const QString &label, const QString &program, const QStringList &arguments);
    void readFrom(Actor *actor);
    void print(const QString &label, const QString &line);
    void startClients();
    void stopNext();

    DemoOptions m_options;
    QList<Actor *> m_actors; // in start order; stopped in reverse, the broker last
    Actor *m_broker = nullptr;
    QElapsedTimer m_clock;
    bool m_stopping = false;
    bool m_clientsStarted = false;
    int m_brokerExitCode = -1;
};
