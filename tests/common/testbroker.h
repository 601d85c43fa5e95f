// Test support: a broker running inside the test process on free ports, and raw protocol peers
// that speak the wire format byte by byte (so tests see exactly what a client would).
#pragma once

#include "broker.h"
#include "brokerconfig.h"
#include "framecodec.h"
#include "legacyframe.h"

#include <QByteArray>
#include <QList>
#include <QLocalSocket>
#include <QProcess>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <memory>

namespace KennelTest {

// The folder holding kennel-broker, kennelctl and the demo programs of this build.
QString binaryPath(const QString &program);

// Sets `process` to run one of this build's programs (a path from binaryPath()) with `arguments`.
// In a cross build the test runs under qemu-user and so must the programs it starts: without
// binfmt_misc the kernel cannot exec them itself, so they are started through the emulator
// (KENNEL_TEST_EMULATOR, set by tests/CMakeLists.txt; docs/BOARD.md).
void setBuildProgram(QProcess &process, const QString &program, const QStringList &arguments);

// Lets the test process hold thousands of sockets.
void raiseDescriptorLimit();

class TestBroker
{
public:
    // Listens on 127.0.0.1 port 0 and on a Unix socket in a temporary folder unless `config`
    // says otherwise.
    explicit TestBroker(Kennel::BrokerConfig config = {});
    ~TestBroker();

    bool start();
    Kennel::Broker &broker() { return *m_broker; }
    const Kennel::BrokerConfig &config() const { return m_config; }
    quint16 tcpPort() const;
    QString unixPath() const;
    QString tcpAddress() const; // "127.0.0.1:PORT", the form every Kennel tool takes
    QString unixAddress() const { return QStringLiteral("unix:") + unixPath(); }

private:
    QTemporaryDir m_dir;
    Kennel::BrokerConfig m_config;
    std::unique_ptr<Kennel::Broker> m_broker;
};

// A native peer that sends and receives whole frames with no client library in between.
class RawPeer
{
public:
    RawPeer() = default;
    ~RawPeer();
    bool connectTcp(quint16 port);
    bool connectUnix(const QString &path);
    void writeBytes(const QByteArray &bytes);
    void send(const Kennel::Frame &frame);
    void hello(const QByteArray &name, quint32 pid = 0);
    // Hello, then waits for Welcome; false on Error or timeout.
    bool registerAs(const QByteArray &name, int timeoutMs = 5000);
    void sendTo(const QByteArray &target, const QByteArray &payload, quint32 id, bool wantStatus = true);

    // Frames received so far (reads whatever is pending first).
    QList<Kennel::Frame> &frames();
    // Waits up to `timeoutMs` for a frame of `type` and removes it from frames().
    std::optional<Kennel::Frame> take(Kennel::FrameType type, int timeoutMs = 5000);
    bool waitForDisconnect(int timeoutMs = 5000);
    bool isConnected() const;
    QIODevice *device() const { return m_device; }
    void close();

private:
    void pump();
    QIODevice *m_device = nullptr;
    Kennel::FrameDecoder m_decoder{64 * 1024 * 1024};
    QList<Kennel::Frame> m_frames;
};

// A legacy peer: 552-byte frames exactly as the old programs send them.
class LegacyPeer
{
public:
    ~LegacyPeer();
    bool connectTcp(quint16 port);
    void sendFrame(Kennel::Legacy::Command cmd, qint32 wdt, const QByteArray &target, const QByteArray &source,
                   const QByteArray &msg);
    void registerReceiver(const QByteArray &name) { sendFrame(Kennel::Legacy::Command::RegisterReceiver, 0, "null", name, "null"); }
    void forward(const QByteArray &target, const QByteArray &source, const QByteArray &msg)
    {
        sendFrame(Kennel::Legacy::Command::Forward, 0, target, source, msg);
    }

    struct Received { QByteArray target, source, text, msgField; };
    QList<Received> &received();
    std::optional<Received> take(int timeoutMs = 5000);
    bool waitForDisconnect(int timeoutMs = 5000);
    QTcpSocket &socket() { return m_socket; }

private:
    void pump();
    QTcpSocket m_socket;
    QByteArray m_buffer;
    QList<Received> m_received;
};

} // namespace KennelTest
