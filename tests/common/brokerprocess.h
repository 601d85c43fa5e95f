// Test support: kennel-broker as a real child process, for tests that attack it, kill it or
// measure it from the outside. It listens on 127.0.0.1 (a port the kernel picks) and on a Unix
// socket in a temporary folder, and says where on its standard output (--print-listening); its log
// is collected from the event loop, never by blocking, so an in-process canary keeps running while
// a test waits.
#pragma once

#include <QByteArray>
#include <QObject>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>

namespace KennelTest {

class BrokerProcess : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        QStringList arguments;       // extra command-line flags (e.g. --max-clients 10)
        QByteArray configText;       // written to an INI file passed with --config, if not empty
        quint64 maxDescriptors = 0;  // RLIMIT_NOFILE for the broker (0: inherit the test's)
        bool unixSocket = true;      // also listen on a Unix socket in the temporary folder
        QByteArray loggingRules;     // QT_LOGGING_RULES for the broker (default: kennel.*.info)
    };

    explicit BrokerProcess(QObject *parent = nullptr);
    // Kills the broker (by its own PID, through QProcess) if it still runs.
    ~BrokerProcess() override;

    // Starts the broker and waits (processing events) until it prints where it listens and that
    // it is ready (--print-listening). On failure returns false with the log so far in *error.
    bool start(const Options &options, QString *error = nullptr);
    bool start() { return start(Options{}); }

    // SIGKILL, as a crash would; waits for the process to be gone.
    void kill9();
    // SIGTERM and wait (processing events) for the exit; true if it exited within the time.
    bool terminate(int timeoutMs = 10000);
    // SIGTERM, then: empty if the broker exited by itself with status 0 within the time, else what
    // happened with the end of its log. Under AddressSanitizer a leak or an error found at exit
    // makes the status non-zero, so a test ending with this fails on a broker that leaked.
    QString stopVerdict(int timeoutMs = 15000);
    // A new broker on the same TCP port and Unix socket path as the last start (after kill9()).
    bool restart(QString *error = nullptr);

    bool isRunning() const;
    qint64 pid() const;
    int exitCode() const;
    QProcess::ExitStatus exitStatus() const;

    quint16 tcpPort() const { return m_port; }
    QString tcpAddress() const; // "127.0.0.1:PORT"
    QString unixPath() const { return m_unixPath; }
    QString unixAddress() const { return QStringLiteral("unix:") + m_unixPath; }
    QString directory() const { return m_dir.path(); }
    // Where monitors connect, when the configuration gives them listeners of their own.
    QStringList monitorAddresses() const { return m_monitorAddresses; }

    // Everything the broker wrote to stderr so far.
    QByteArray log() const { return m_log; }
    int countInLog(const QByteArray &needle) const;

    // From /proc/PID: resident set size in KiB and open descriptors; -1 when not running.
    qint64 rssKiB() const;
    int openDescriptors() const;

signals:
    void logged(const QByteArray &line);

private:
    bool launch(QString *error);
    void readLog();
    void readListening();

    Options m_options;
    QTemporaryDir m_dir;
    QProcess m_process;
    QByteArray m_log;
    QByteArray m_partialLine;
    QByteArray m_stdout; // --print-listening's lines not yet read
    bool m_ready = false;
    QStringList m_monitorAddresses;
    QString m_unixPath;
    quint16 m_port = 0;
};

} // namespace KennelTest
