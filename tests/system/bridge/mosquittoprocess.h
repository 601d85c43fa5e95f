// Test support: a mosquitto of the test's own (Debian's /usr/sbin/mosquitto in the foreground),
// on a free loopback port, from a generated config in a temporary folder; never the system
// service. Ended by its own PID (QProcess). Persistence on, so a graceful stop and start keep the
// boards' sessions, as a real deployment's broker would.
#pragma once

#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <pwd.h>
#include <unistd.h>

namespace KennelTest {

class MosquittoProcess
{
public:
    struct Tls
    {
        QString caFile, certFile, keyFile;
        quint16 port = 0;
    };

    ~MosquittoProcess() { kill9(); }
    QByteArray extraConfig; // more lines for the generated mosquitto.conf (before start())

    static quint16 freePort()
    {
        QTcpServer server;
        server.listen(QHostAddress::LocalHost, 0);
        return server.serverPort();
    }

    bool start() { return start(Tls{}); }
    bool start(const Tls &tls)
    {
        if (!m_port)
            m_port = freePort();
        m_tls = tls;
        QByteArray conf = "listener " + QByteArray::number(m_port) + " 127.0.0.1\n"
                          "set_tcp_nodelay true\n"
                          "allow_anonymous true\n"
                          "persistence true\n"
                          "persistence_location " + m_dir.path().toUtf8() + "/\n"
                          "max_queued_messages 100000\n"
                          "log_dest stderr\n"
                          // Started as root, mosquitto would drop to user "mosquitto" and could not
                          // write its persistence or read the test's keys in our 0700 folders.
                          "user " + QByteArray(::getpwuid(::geteuid())->pw_name) + "\n";
        if (tls.port) {
            conf += "listener " + QByteArray::number(tls.port) + " 127.0.0.1\n"
                    "cafile " + tls.caFile.toUtf8() + "\ncertfile " + tls.certFile.toUtf8()
                    + "\nkeyfile " + tls.keyFile.toUtf8() + "\n";
        }
        conf += extraConfig;
        QFile file(m_dir.filePath(QStringLiteral("mosquitto.conf")));
        if (!file.open(QIODevice::WriteOnly) || file.write(conf) != conf.size())
            return false;
        file.close();
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.start(QStringLiteral("/usr/sbin/mosquitto"), {QStringLiteral("-c"), file.fileName()});
        if (!m_process.waitForStarted(5000))
            return false;
        // Ready when it accepts a connection.
        for (int i = 0; i < 100; ++i) {
            QTcpSocket probe;
            probe.connectToHost(QHostAddress::LocalHost, m_port);
            if (probe.waitForConnected(100))
                return true;
            if (m_process.state() != QProcess::Running)
                return false;
            QTest::qWait(50);
        }
        return false;
    }
    // A graceful stop: mosquitto saves its persistence (the boards' sessions and queues).
    void stop()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        ::kill(pid_t(m_process.processId()), SIGTERM);
        if (!m_process.waitForFinished(5000))
            kill9();
    }
    void kill9()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.kill();
        m_process.waitForFinished(5000);
    }
    bool restart() { return start(m_tls); }
    quint16 port() const { return m_port; }
    QString url() const { return QStringLiteral("mqtt://127.0.0.1:%1").arg(m_port); }
    QByteArray log() { return m_process.readAll(); }
    QString directory() const { return m_dir.path(); }

private:
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    Tls m_tls;
};

} // namespace KennelTest
