// FramedConnection on its own, through the smallest subclass that can use it, against a scripted
// peer on a real Unix socket: the order of the hooks, the handshake deadline, the keepalive (Ping
// on a quiet line, then IdleTimeout), refusals, and the jittered backoff's bounds. KennelClient's
// and MonitorLink's own tests cover what they build on it.
#include "framecodec.h"
#include "framedconnection.h"

#include <QLocalServer>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace Kennel;
using namespace std::chrono_literals;

Q_LOGGING_CATEGORY(lcProbe, "kennel.test.probe", QtInfoMsg)

namespace {

constexpr int WaitMs = 5000;

// Says a Hello, counts the Welcome as the end of the handshake, ends the connection on every loss.
class Probe : public FramedConnection
{
public:
    Probe() : FramedConnection(&lcProbe) {}

    QByteArrayList events;
    QList<Frame> frames;
    QList<Failure> failures;
    QStringList failureTexts;
    QList<Ended> endings;
    bool retry = true;

    using FramedConnection::handshakeDone;

protected:
    void attemptStarted() override { events << "attemptStarted"; }
    void transportReady() override
    {
        events << "transportReady";
        HelloPayload hello;
        writeFrame(FrameType::Hello, nextMessageId(), NoFlags, "probe", {}, encodeHello(hello));
    }
    void frameReceived(const Frame &frame) override
    {
        events << "frame";
        frames << frame;
        if (frame.type == FrameType::Welcome)
            handshakeDone();
    }
    void transportLost(Failure failure, const QString &text) override
    {
        events << "lost";
        failures << failure;
        failureTexts << text;
        endings << endConnection(false, retry);
    }
};

QByteArray welcome()
{
    WelcomePayload payload;
    QByteArray bytes;
    appendFrame(bytes, FrameType::Welcome, 1, NoFlags, {}, "probe", encodeWelcome(payload));
    return bytes;
}

} // namespace

class tst_FramedConnection : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void hooksInOrder();
    void handshakeDeadline();
    void quietLineIsPingedThenClosed();
    void nothingListening();
    void jitteredBackoffStaysWithinAQuarter();

private:
    // The peer's side of the last accepted connection, and what it decoded.
    QLocalSocket *acceptOne();
    QList<Frame> readFrames(QLocalSocket *socket);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QLocalServer> m_server;
    QString m_path;
    FrameDecoder m_decoder;
};

void tst_FramedConnection::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_path = m_dir->filePath(QStringLiteral("peer.sock"));
    m_server = std::make_unique<QLocalServer>();
    QVERIFY(m_server->listen(m_path));
    m_decoder.reset();
}

void tst_FramedConnection::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

QLocalSocket *tst_FramedConnection::acceptOne()
{
    if (!m_server->hasPendingConnections() && !m_server->waitForNewConnection(WaitMs))
        return nullptr;
    return m_server->nextPendingConnection();
}

QList<Frame> tst_FramedConnection::readFrames(QLocalSocket *socket)
{
    QList<Frame> result;
    m_decoder.append(socket->readAll());
    while (std::optional<Frame> frame = m_decoder.next())
        result << *frame;
    return result;
}

void tst_FramedConnection::hooksInOrder()
{
    Probe probe;
    probe.options().address = BrokerAddress::unixSocket(m_path);
    probe.open();
    QLocalSocket *peer = acceptOne();
    QVERIFY(peer);
    QList<Frame> got;
    QTRY_VERIFY_WITH_TIMEOUT(!(got += readFrames(peer)).isEmpty(), WaitMs);
    QCOMPARE(got.first().type, FrameType::Hello);
    QCOMPARE(got.first().source, QByteArray("probe"));
    QCOMPARE(probe.phase(), FramedConnection::Phase::Handshaking);
    QVERIFY(probe.isTransportUp());

    peer->write(welcome());
    QTRY_COMPARE_WITH_TIMEOUT(probe.phase(), FramedConnection::Phase::Established, WaitMs);
    QCOMPARE(probe.events, (QByteArrayList{"attemptStarted", "transportReady", "frame"}));

    // The peer closes: one loss, RemoteClosed, and with retry wanted but autoReconnect off, no
    // attempt is scheduled.
    peer->disconnectFromServer();
    QTRY_COMPARE_WITH_TIMEOUT(probe.failures.size(), 1, WaitMs);
    QCOMPARE(probe.failures.first(), FramedConnection::Failure::RemoteClosed);
    QVERIFY(probe.endings.first().wasUp);
    QVERIFY(!probe.endings.first().reconnectDelay);
    QCOMPARE(probe.phase(), FramedConnection::Phase::Idle);
    QCOMPARE(probe.transport(), nullptr);
}

void tst_FramedConnection::handshakeDeadline()
{
    Probe probe;
    probe.options().address = BrokerAddress::unixSocket(m_path);
    probe.options().handshakeTimeout = 200ms;
    probe.open();
    QVERIFY(acceptOne()); // and never answers
    QTRY_COMPARE_WITH_TIMEOUT(probe.failures.size(), 1, WaitMs);
    QCOMPARE(probe.failures.first(), FramedConnection::Failure::Timeout);
    QCOMPARE(probe.failureTexts.first(), QStringLiteral("no Welcome from the broker within 200 ms"));
}

void tst_FramedConnection::quietLineIsPingedThenClosed()
{
    Probe probe;
    probe.options().address = BrokerAddress::unixSocket(m_path);
    probe.options().idleTimeout = 600ms;
    probe.options().autoReconnect = true;
    probe.options().backoffMin = 5s;
    probe.open();
    QLocalSocket *peer = acceptOne();
    QVERIFY(peer);
    // (QTRY evaluates its expression once more at the end: what it reads must accumulate.)
    QList<Frame> got;
    QTRY_VERIFY_WITH_TIMEOUT(!(got += readFrames(peer)).isEmpty(), WaitMs);
    QCOMPARE(got.first().type, FrameType::Hello);
    peer->write(welcome());
    QTRY_COMPARE_WITH_TIMEOUT(probe.phase(), FramedConnection::Phase::Established, WaitMs);

    // Silent from here on: a Ping after a third of the timeout, then the end.
    got.clear();
    QTRY_VERIFY_WITH_TIMEOUT(!(got += readFrames(peer)).isEmpty(), WaitMs);
    QCOMPARE(got.first().type, FrameType::Ping);
    QVERIFY(probe.failures.isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(probe.failures.size(), 1, WaitMs);
    QCOMPARE(probe.failures.first(), FramedConnection::Failure::IdleTimeout);
    QVERIFY(probe.endings.first().reconnectDelay);
    QCOMPARE(probe.endings.first().reconnectDelay->count(), 5000);
    QVERIFY(probe.reconnectPending());
    probe.stopRetrying();
    QVERIFY(!probe.reconnectPending());
}

void tst_FramedConnection::nothingListening()
{
    Probe probe;
    probe.options().address = BrokerAddress::unixSocket(m_dir->filePath(QStringLiteral("nobody.sock")));
    probe.retry = false;
    probe.open();
    QTRY_COMPARE_WITH_TIMEOUT(probe.failures.size(), 1, WaitMs);
    QCOMPARE(probe.failures.first(), FramedConnection::Failure::Refused);
    QVERIFY(probe.failureTexts.first().startsWith(QStringLiteral("no socket at ")));
    QVERIFY(!probe.endings.first().wasUp);
    QCOMPARE(probe.events, (QByteArrayList{"attemptStarted", "lost"}));
}

void tst_FramedConnection::jitteredBackoffStaysWithinAQuarter()
{
    Probe probe;
    probe.options().address = BrokerAddress::unixSocket(m_dir->filePath(QStringLiteral("nobody.sock")));
    probe.options().autoReconnect = true;
    probe.options().backoffJitter = true;
    probe.options().backoffMin = 40ms;
    probe.options().backoffMax = 40ms;
    probe.open();
    QTRY_VERIFY_WITH_TIMEOUT(probe.endings.size() >= 12, WaitMs);
    probe.stopRetrying();
    QSet<qint64> seen;
    for (const auto &ended : std::as_const(probe.endings)) {
        QVERIFY(ended.reconnectDelay);
        const qint64 ms = ended.reconnectDelay->count();
        QVERIFY2(ms >= 30 && ms <= 50, qPrintable(QString::number(ms)));
        seen.insert(ms);
    }
    // 21 possible values, 12 draws: all equal would mean no jitter at all.
    QVERIFY(seen.size() > 1);
}

QTEST_GUILESS_MAIN(tst_FramedConnection)
#include "tst_framedconnection.moc"
