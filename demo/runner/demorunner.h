// Runs the demo: kennel-broker with a generated config that makes it supervise the old system's two
// clients, and prints the broker's log — its own lines and the clients' output, which the broker
// forwards — as one timeline, each line stamped with the time it arrived and who said it.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

struct DemoOptions
{
    QString binDir;        // where kennel-broker and the demo clients live
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 8000;
    int intervalMs = 2000;      // between two messages of a client
    int heldIntervalMs = 250;   // client2's messages while one to client1 is held
    int feedIntervalMs = 10000; // client1's feeds: the old client1 fed every 10 s against 3 s x 3
    int durationSeconds = 0;    // 0: until Ctrl-C
    bool openMonitor = false;   // start kennel-monitor on the broker's Unix socket
    QStringList monitorArgs;    // extra arguments for kennel-monitor (e.g. --screenshot FILE)
    QString monitorListen;      // also a token-protected monitor listener, HOST:PORT, for a desktop
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
    bool writeConfig(QString *error);
    void readBroker();
    void showLogLine(const QString &line);
    void print(const QString &label, const QString &line);
    bool writeMonitorToken(QString *error);
    void startMonitor();
    void stopBroker();

    DemoOptions m_options;
    QTemporaryDir m_dir;
    QString m_configPath;
    QProcess *m_broker = nullptr;
    QProcess *m_monitor = nullptr;
    QString m_tokenPath;
    QByteArray m_partialLine;
    QElapsedTimer m_clock;
    bool m_stopping = false;
    bool m_brokerStopping = false;
    qint64 m_client2Pid = 0;
    QString m_summary; // client2's last "summary:" line
};
