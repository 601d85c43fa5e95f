#include "testbroker.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QTest>

#include <sys/resource.h>

using namespace Kennel;

#ifdef KENNEL_TESTS_UNDER_QEMU_USER
#include <cerrno>
#include <cstdarg>
#include <dlfcn.h>
#include <sys/syscall.h>

// qemu-user 7.2 (Debian 12's) implements waitid(P_PIDFD) but not clone(CLONE_PIDFD) (added in
// qemu 8.0). Qt's forkfd takes the first as proof of the second, so under emulation every
// QProcess::start() fails with "fork failure: Invalid argument". This definition, in the test
// executable, comes before libc's for Qt's calls: it fails that probe as a kernel older than 5.4
// would, and Qt forks the classic way. Built only into cross builds' tests (docs/BOARD.md).
extern "C" long syscall(long number, ...) noexcept
{
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (long &arg : a)
        arg = va_arg(ap, long);
    va_end(ap);
    constexpr long PidfdIdType = 3; // P_PIDFD
    if (number == SYS_waitid && a[0] == PidfdIdType) {
        errno = ENOSYS;
        return -1;
    }
    using Syscall = long (*)(long, ...);
    static const auto next = reinterpret_cast<Syscall>(::dlsym(RTLD_NEXT, "syscall"));
    return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
#endif

namespace KennelTest {

QString binaryPath(const QString &program)
{
    const QByteArray buildDir = qgetenv("KENNEL_BUILD_DIR");
    if (!buildDir.isEmpty())
        return QDir(QString::fromLocal8Bit(buildDir)).filePath(QStringLiteral("bin/") + program);
    return QDir(QCoreApplication::applicationDirPath()).filePath(program);
}

void setBuildProgram(QProcess &process, const QString &program, const QStringList &arguments)
{
    const QStringList emulator = QString::fromLocal8Bit(qgetenv("KENNEL_TEST_EMULATOR")).split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (emulator.isEmpty()) {
        process.setProgram(program);
        process.setArguments(arguments);
        return;
    }
    process.setProgram(emulator.first());
    process.setArguments(emulator.mid(1) + QStringList{program} + arguments);
}

void raiseDescriptorLimit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

TestBroker::TestBroker(BrokerConfig config)
    : m_config(std::move(config))
{
    if (m_config.listen.isEmpty()) {
        ListenAddress tcp;
        tcp.kind = ListenAddress::Kind::Tcp;
        tcp.host = QStringLiteral("127.0.0.1");
        tcp.port = 0;
        ListenAddress unix;
        unix.kind = ListenAddress::Kind::Unix;
        unix.path = m_dir.filePath(QStringLiteral("broker.sock"));
        m_config.listen = {tcp, unix};
    }
}

TestBroker::~TestBroker() = default;

bool TestBroker::start()
{
    m_broker = std::make_unique<Broker>(m_config);
    QString error;
    if (!m_broker->start(&error)) {
        qWarning("test broker did not start: %s", qPrintable(error));
        return false;
    }
    return true;
}

quint16 TestBroker::tcpPort() const
{
    for (const ListenAddress &a : m_broker->boundAddresses())
        if (a.kind == ListenAddress::Kind::Tcp)
            return a.port;
    return 0;
}

QString TestBroker::unixPath() const
{
    for (const ListenAddress &a : m_broker->boundAddresses())
        if (a.kind == ListenAddress::Kind::Unix)
            return a.path;
    return {};
}

QString TestBroker::tcpAddress() const
{
    return QStringLiteral("127.0.0.1:%1").arg(tcpPort());
}

// --- RawPeer -------------------------------------------------------------------------------

RawPeer::~RawPeer()
{
    delete m_device;
}

bool RawPeer::connectTcp(quint16 port)
{
    auto *socket = new QTcpSocket;
    m_device = socket;
    socket->connectToHost(QHostAddress::LocalHost, port);
    return socket->waitForConnected(5000);
}

bool RawPeer::connectUnix(const QString &path)
{
    auto *socket = new QLocalSocket;
    m_device = socket;
    socket->connectToServer(path);
    return socket->waitForConnected(5000);
}

void RawPeer::writeBytes(const QByteArray &bytes)
{
    m_device->write(bytes);
    if (auto *tcp = qobject_cast<QAbstractSocket *>(m_device))
        tcp->flush();
    else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
        local->flush();
}

void RawPeer::send(const Frame &frame)
{
    writeBytes(encodeFrame(frame));
}

void RawPeer::hello(const QByteArray &name, quint32 pid)
{
    Frame f;
    f.type = FrameType::Hello;
    f.source = name;
    HelloPayload hello;
    hello.pid = pid;
    f.payload = encodeHello(hello);
    send(f);
}

bool RawPeer::registerAs(const QByteArray &name, int timeoutMs)
{
    hello(name, quint32(QCoreApplication::applicationPid()));
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        pump();
        for (qsizetype i = 0; i < m_frames.size(); ++i) {
            if (m_frames[i].type == FrameType::Welcome) {
                m_frames.removeAt(i);
                return true;
            }
            if (m_frames[i].type == FrameType::Error)
                return false;
        }
        QTest::qWait(5);
    }
    return false;
}

void RawPeer::sendTo(const QByteArray &target, const QByteArray &payload, quint32 id, bool wantStatus)
{
    Frame f;
    f.type = FrameType::Send;
    f.target = target;
    f.payload = payload;
    f.messageId = id;
    f.flags = wantStatus ? WantDeliveryStatus : NoFlags;
    send(f);
}

void RawPeer::pump()
{
    if (!m_device)
        return;
    const QByteArray bytes = m_device->readAll();
    if (!bytes.isEmpty())
        m_decoder.append(bytes);
    while (auto frame = m_decoder.next())
        m_frames.append(*frame);
}

QList<Frame> &RawPeer::frames()
{
    pump();
    return m_frames;
}

std::optional<Frame> RawPeer::take(FrameType type, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    do {
        pump();
        for (qsizetype i = 0; i < m_frames.size(); ++i) {
            if (m_frames[i].type == type)
                return m_frames.takeAt(i);
        }
        QTest::qWait(2);
    } while (!deadline.hasExpired());
    return std::nullopt;
}

bool RawPeer::isConnected() const
{
    if (auto *tcp = qobject_cast<QAbstractSocket *>(m_device))
        return tcp->state() == QAbstractSocket::ConnectedState;
    if (auto *local = qobject_cast<QLocalSocket *>(m_device))
        return local->state() == QLocalSocket::ConnectedState;
    return false;
}

bool RawPeer::waitForDisconnect(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (isConnected() && !deadline.hasExpired()) {
        pump();
        QTest::qWait(5);
    }
    pump();
    return !isConnected();
}

void RawPeer::close()
{
    if (auto *tcp = qobject_cast<QAbstractSocket *>(m_device))
        tcp->abort();
    else if (auto *local = qobject_cast<QLocalSocket *>(m_device))
        local->abort();
}

// --- LegacyPeer ----------------------------------------------------------------------------

LegacyPeer::~LegacyPeer()
{
    m_socket.abort();
}

bool LegacyPeer::connectTcp(quint16 port)
{
    m_socket.connectToHost(QHostAddress::LocalHost, port);
    return m_socket.waitForConnected(5000);
}

void LegacyPeer::sendFrame(Legacy::Command cmd, qint32 wdt, const QByteArray &target, const QByteArray &source,
                           const QByteArray &msg)
{
    QByteArray frame(Legacy::FrameSize, '\0');
    Legacy::encode(frame.data(), cmd, wdt, target, source, msg);
    m_socket.write(frame);
    m_socket.flush();
}

void LegacyPeer::pump()
{
    m_buffer += m_socket.readAll();
    while (m_buffer.size() >= Legacy::FrameSize) {
        const Legacy::DecodeResult r = Legacy::decode(QByteArrayView(m_buffer.constData(), Legacy::FrameSize));
        if (r.error == Legacy::DecodeError::None) {
            m_received.append({r.frame.target.toByteArray(), r.frame.source.toByteArray(), r.frame.text().toByteArray(),
                               r.frame.msgField.toByteArray()});
        } else {
            qWarning("legacy peer received an undecodable frame: %s", Legacy::decodeErrorName(r.error));
        }
        m_buffer.remove(0, Legacy::FrameSize);
    }
}

QList<LegacyPeer::Received> &LegacyPeer::received()
{
    pump();
    return m_received;
}

std::optional<LegacyPeer::Received> LegacyPeer::take(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    do {
        pump();
        if (!m_received.isEmpty())
            return m_received.takeFirst();
        QTest::qWait(2);
    } while (!deadline.hasExpired());
    return std::nullopt;
}

bool LegacyPeer::waitForDisconnect(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (m_socket.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired()) {
        pump();
        QTest::qWait(5);
    }
    return m_socket.state() != QAbstractSocket::ConnectedState;
}

} // namespace KennelTest
