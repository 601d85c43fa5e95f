#include "brokerprocess.h"
#include "testbroker.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QTest>

#include <csignal>
#include <dirent.h>
#include <linux/close_range.h>
#include <unistd.h>
#include <sys/resource.h>

namespace KennelTest {

BrokerProcess::BrokerProcess(QObject *parent)
    : QObject(parent)
{
    m_process.setProcessChannelMode(QProcess::SeparateChannels);
    connect(&m_process, &QProcess::readyReadStandardError, this, &BrokerProcess::readLog);
    connect(&m_process, &QProcess::readyReadStandardOutput, this, &BrokerProcess::readListening);
}

BrokerProcess::~BrokerProcess()
{
    if (m_process.state() != QProcess::NotRunning) {
        m_process.kill();
        m_process.waitForFinished(5000);
    }
}

bool BrokerProcess::start(const Options &options, QString *error)
{
    m_options = options;
    m_port = 0;
    m_unixPath = m_options.unixSocket ? m_dir.filePath(QStringLiteral("broker.sock")) : QString();
    return launch(error);
}

bool BrokerProcess::restart(QString *error)
{
    if (isRunning()) {
        if (error)
            *error = QStringLiteral("the broker is still running");
        return false;
    }
    return launch(error);
}

bool BrokerProcess::launch(QString *error)
{
    QStringList arguments;
    // Port 0 the first time; the same port again on a restart, as clients expect.
    arguments << QStringLiteral("--listen") << QStringLiteral("127.0.0.1:%1").arg(m_port);
    if (!m_unixPath.isEmpty())
        arguments << QStringLiteral("--listen") << QStringLiteral("unix:") + m_unixPath;
    if (!m_options.configText.isEmpty()) {
        const QString configPath = m_dir.filePath(QStringLiteral("broker.ini"));
        QFile config(configPath);
        if (!config.exists()) {
            if (!config.open(QIODevice::WriteOnly) || config.write(m_options.configText) != m_options.configText.size()) {
                if (error)
                    *error = QStringLiteral("cannot write %1").arg(configPath);
                return false;
            }
            config.close();
        }
        arguments << QStringLiteral("--config") << configPath;
    }
    arguments += m_options.arguments;
    arguments << QStringLiteral("--print-listening");

    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_LOGGING_RULES"), m_options.loggingRules.isEmpty()
                                                       ? QStringLiteral("kennel.*.info=true")
                                                       : QString::fromLatin1(m_options.loggingRules));
    m_process.setProcessEnvironment(env);
    const quint64 maxDescriptors = m_options.maxDescriptors;
    m_process.setChildProcessModifier([maxDescriptors] {
        // Descriptors the test process holds without FD_CLOEXEC would be the broker's too and
        // spoil its descriptor counts (and its limit, when lowered): closed at exec.
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        if (maxDescriptors) {
            const rlimit limit{rlim_t(maxDescriptors), rlim_t(maxDescriptors)};
            ::setrlimit(RLIMIT_NOFILE, &limit);
        }
    });
    m_log.clear();
    m_partialLine.clear();
    m_stdout.clear();
    m_ready = false;
    m_monitorAddresses.clear();
    setBuildProgram(m_process, binaryPath(QStringLiteral("kennel-broker")), arguments);
    m_process.start();
    if (!m_process.waitForStarted(10000)) {
        if (error)
            *error = QStringLiteral("cannot start kennel-broker: %1").arg(m_process.errorString());
        return false;
    }
    // --print-listening: "listening clients ADDR" per listener, then "ready".
    const bool up = QTest::qWaitFor([&] { return m_ready || m_process.state() == QProcess::NotRunning; }, 15000);
    if (!up || !m_ready || m_port == 0) {
        if (error)
            *error = QStringLiteral("the broker did not say it listens on 127.0.0.1 (standard output: %1): %2")
                         .arg(QString::fromLocal8Bit(m_stdout), QString::fromLocal8Bit(m_log));
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
        return false;
    }
    return true;
}

void BrokerProcess::readListening()
{
    m_stdout += m_process.readAllStandardOutput();
    qsizetype newline;
    while (!m_ready && (newline = m_stdout.indexOf('\n')) >= 0) {
        const QString line = QString::fromLocal8Bit(m_stdout.left(newline));
        m_stdout.remove(0, newline + 1);
        static const QString clients = QStringLiteral("listening clients ");
        static const QString monitors = QStringLiteral("listening monitors ");
        static const QString loopback = QStringLiteral("127.0.0.1:");
        if (line == QLatin1String("ready"))
            m_ready = true;
        else if (line.startsWith(clients + loopback))
            m_port = quint16(line.mid(clients.size() + loopback.size()).toUInt());
        else if (line.startsWith(monitors))
            m_monitorAddresses.append(line.mid(monitors.size()));
    }
}

void BrokerProcess::readLog()
{
    const QByteArray chunk = m_process.readAllStandardError();
    m_log += chunk;
    m_partialLine += chunk;
    qsizetype newline;
    while ((newline = m_partialLine.indexOf('\n')) >= 0) {
        const QByteArray line = m_partialLine.left(newline);
        m_partialLine.remove(0, newline + 1);
        Q_EMIT logged(line);
    }
}

void BrokerProcess::kill9()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.kill(); // SIGKILL to this child's PID only
    if (!QTest::qWaitFor([this] { return m_process.state() == QProcess::NotRunning; }, 10000))
        qWarning("kennel-broker (pid %lld) still running 10 s after SIGKILL", m_process.processId());
}

bool BrokerProcess::terminate(int timeoutMs)
{
    if (m_process.state() == QProcess::NotRunning)
        return true;
    m_process.terminate();
    return QTest::qWaitFor([this] { return m_process.state() == QProcess::NotRunning; }, timeoutMs);
}

QString BrokerProcess::stopVerdict(int timeoutMs)
{
    if (!isRunning())
        return QStringLiteral("the broker was not running (exit status %1)\n%2")
            .arg(m_process.exitCode()).arg(QString::fromLocal8Bit(m_log.right(4000)));
    if (!terminate(timeoutMs)) {
        kill9();
        return QStringLiteral("the broker did not stop within %1 ms of SIGTERM").arg(timeoutMs);
    }
    readLog();
    if (m_process.exitStatus() != QProcess::NormalExit || m_process.exitCode() != 0)
        return QStringLiteral("the broker exited with status %1%2\n%3")
            .arg(m_process.exitCode())
            .arg(m_process.exitStatus() == QProcess::CrashExit ? QStringLiteral(" (crashed)") : QString())
            .arg(QString::fromLocal8Bit(m_log.right(4000)));
    return {};
}

bool BrokerProcess::isRunning() const
{
    return m_process.state() != QProcess::NotRunning;
}

qint64 BrokerProcess::pid() const
{
    return m_process.processId();
}

int BrokerProcess::exitCode() const
{
    return m_process.exitCode();
}

QProcess::ExitStatus BrokerProcess::exitStatus() const
{
    return m_process.exitStatus();
}

QString BrokerProcess::tcpAddress() const
{
    return QStringLiteral("127.0.0.1:%1").arg(m_port);
}

int BrokerProcess::countInLog(const QByteArray &needle) const
{
    return int(m_log.count(needle));
}

qint64 BrokerProcess::rssKiB() const
{
    if (!isRunning())
        return -1;
    QFile status(QStringLiteral("/proc/%1/status").arg(pid()));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

int BrokerProcess::openDescriptors() const
{
    if (!isRunning())
        return -1;
    // Counted without sorting or stat()ing what may be 10,000 entries: tests poll this while
    // their event loop (and the canary on it) must keep running.
    DIR *dir = ::opendir(QByteArray("/proc/" + QByteArray::number(pid()) + "/fd").constData());
    if (!dir)
        return -1;
    int n = 0;
    while (const dirent *entry = ::readdir(dir))
        n += entry->d_name[0] != '.';
    ::closedir(dir);
    return n;
}

} // namespace KennelTest
