// KennelClient against a scripted fake broker on a Unix socket in a temporary directory: the real
// socket code runs (connect, reconnect, close), while the test decides every byte the "broker"
// sends. No fixed ports, no sleeps.
#include <framecodec.h>
#include <kennelclient.h>

#include <QLocalServer>
#include <QLocalSocket>
#include <QMetaEnum>
#include <QPointer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

using namespace Kennel;
using namespace std::chrono_literals;

namespace {

constexpr int WaitMs = 5000;

QByteArray frameBytes(FrameType type, quint32 messageId = 0, QByteArray source = {}, QByteArray target = {},
                      QByteArray payload = {}, quint16 flags = 0)
{
    Frame frame;
    frame.type = type;
    frame.messageId = messageId;
    frame.flags = flags;
    frame.source = source;
    frame.target = target;
    frame.payload = payload;
    return encodeFrame(frame);
}

QByteArray welcomeBytes(const QByteArray &name, quint32 maxFrameSize = Wire::DefaultMaxFrameSize)
{
    WelcomePayload welcome;
    welcome.maxFrameSize = maxFrameSize;
    welcome.brokerVersion = QByteArrayLiteral("fake-1");
    return frameBytes(FrameType::Welcome, 0, {}, name, encodeWelcome(welcome));
}

QByteArray errorBytes(ErrorCode code, const QString &text = {})
{
    ErrorPayload error;
    error.code = code;
    error.text = text;
    return frameBytes(FrameType::Error, 0, {}, {}, encodeError(error));
}

// One end of an in-memory byte pipe: a transport that is no socket at all, to show that the
// client needs nothing but QIODevice from setTransport().
class PipeEnd : public QIODevice
{
public:
    static void link(PipeEnd &a, PipeEnd &b)
    {
        a.m_peer = &b;
        b.m_peer = &a;
        a.open(QIODevice::ReadWrite | QIODevice::Unbuffered);
        b.open(QIODevice::ReadWrite | QIODevice::Unbuffered);
    }
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override { return m_inbox.size() + QIODevice::bytesAvailable(); }
    void close() override
    {
        QIODevice::close();
        if (PipeEnd *peer = std::exchange(m_peer, nullptr)) {
            peer->m_peer = nullptr;
            QMetaObject::invokeMethod(peer, [peer] { Q_EMIT peer->readChannelFinished(); }, Qt::QueuedConnection);
        }
    }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = std::min<qint64>(maxSize, m_inbox.size());
        std::copy_n(m_inbox.constData(), n, data);
        m_inbox.remove(0, n);
        return n;
    }
    qint64 writeData(const char *data, qint64 size) override
    {
        if (!m_peer)
            return -1;
        m_peer->m_inbox.append(data, size);
        QPointer<PipeEnd> peer = m_peer;
        QMetaObject::invokeMethod(m_peer, [peer] { if (peer) Q_EMIT peer->readyRead(); }, Qt::QueuedConnection);
        return size;
    }

private:
    PipeEnd *m_peer = nullptr;
    QByteArray m_inbox;
};

// Accepts connections, decodes what clients send, and answers Hello as scripted.
class FakeBroker : public QObject
{
public:
    struct Peer
    {
        QPointer<QIODevice> socket;
        FrameDecoder decoder;
        QList<Frame> frames;
        bool closed = false;
    };

    bool autoWelcome = true;
    quint32 maxFrameSize = Wire::DefaultMaxFrameSize;
    QList<ErrorCode> refusals; // answers to the next Hellos, before auto-welcoming resumes

    FakeBroker()
    {
        connect(&m_server, &QLocalServer::newConnection, this, [this] {
            while (QLocalSocket *socket = m_server.nextPendingConnection())
                adopt(socket);
        });
    }

    ~FakeBroker() override
    {
        // The sockets outlive m_peers (they are the server's children): silence them first.
        for (const auto &peer : m_peers) {
            if (peer->socket)
                disconnect(peer->socket, nullptr, this, nullptr);
        }
    }

    bool listen()
    {
        if (!m_dir.isValid())
            return false;
        m_path = m_dir.filePath(QStringLiteral("broker.sock"));
        return m_server.listen(m_path);
    }
    void stopListening() { m_server.close(); }
    BrokerAddress address() const { return BrokerAddress::unixSocket(m_path); }
    QString path() const { return m_path; }

    void adopt(QIODevice *socket)
    {
        auto peer = std::make_unique<Peer>();
        peer->socket = socket;
        Peer *p = peer.get();
        m_peers.push_back(std::move(peer));
        connect(socket, &QIODevice::readyRead, this, [this, p] { readFrom(*p); });
        if (auto *local = qobject_cast<QLocalSocket *>(socket))
            connect(local, &QLocalSocket::disconnected, this, [p] { p->closed = true; });
        if (auto *tcp = qobject_cast<QTcpSocket *>(socket))
            connect(tcp, &QTcpSocket::disconnected, this, [p] { p->closed = true; });
    }

    int peerCount() const { return int(m_peers.size()); }
    Peer &peer(int i) { return *m_peers.at(size_t(i)); }
    Peer &last() { return *m_peers.back(); }

    void write(int i, const QByteArray &bytes)
    {
        peer(i).socket->write(bytes);
    }
    void drop(int i)
    {
        if (auto *local = qobject_cast<QLocalSocket *>(peer(i).socket)) {
            local->flush(); // what was written goes out; then the connection ends at once
            local->abort();
        }
        else
            peer(i).socket->close();
    }
    QList<Frame> framesOfType(int i, FrameType type)
    {
        QList<Frame> result;
        for (const Frame &frame : peer(i).frames) {
            if (frame.type == type)
                result.append(frame);
        }
        return result;
    }
    int countOf(int i, FrameType type) { return int(framesOfType(i, type).size()); }

private:
    void readFrom(Peer &peer)
    {
        peer.decoder.append(peer.socket->readAll());
        while (std::optional<Frame> frame = peer.decoder.next()) {
            peer.frames.append(*frame);
            if (frame->type != FrameType::Hello)
                continue;
            if (!refusals.isEmpty()) {
                peer.socket->write(errorBytes(refusals.takeFirst(), QStringLiteral("scripted refusal")));
                if (auto *local = qobject_cast<QLocalSocket *>(peer.socket))
                    local->disconnectFromServer();
            } else if (autoWelcome) {
                peer.socket->write(welcomeBytes(frame->source, maxFrameSize));
            }
        }
    }

    QTemporaryDir m_dir;
    QString m_path;
    QLocalServer m_server;
    std::vector<std::unique_ptr<Peer>> m_peers;
};

} // namespace

class tst_KennelClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void helloCarriesNameAndPid();
    void welcomeRegisters();
    void brokerFeaturesFromWelcome();
    void invalidLocalNameIsRefusedBeforeConnecting();
    void missingAddressIsRefused();
    void nameTakenIsReported();
    void nameTakenIsRetried();
    void invalidNameIsFatal();
    void deliverEmitsMessageReceived();
    void deliveryStatusIsReported();
    void sendIdsIncreaseAndFramesAreWellFormed();
    void sendRefusedWhenNotRegistered();
    void sendRefusedForBadTargetOrOversize();
    void malformedBytesAreAProtocolViolation();
    void unexpectedFrameIsAProtocolViolation();
    void reconnectsWithBackoffAfterDrop();
    void backoffDoublesUpToMax();
    void disconnectSendsByeAndStaysDown();
    void errorThenCloseIsReportedOnce();
    void byeFromBrokerIsRemoteClosed();
    void nonFatalErrorKeepsConnection();
    void pingPong();
    void answersBrokerPing();
    void watchdogTermsSentOnRegistrationAndAck();
    void handshakeTimeout();
    void connectionRefused();
    void givenTransportIsUsedOnce();
    void plainIODeviceTransport();
    void givenTransportDeletedUnderTheClient();
    void tcpTransportSetsNoDelay();
    void destructionSaysBye();
    void disconnectFromErrorSlotIsSafe();
    void queuedWhileRegisteringGoesFirst();
    void queuedMessageTooLargeForTheNewBroker();
    void queueAbandonedOnFatalRefusal();

private:
    std::unique_ptr<KennelClient> makeClient(const QByteArray &name = QByteArrayLiteral("alpha"));
    // Connects `client` and waits for registered(); the fake's peer for it is fake->last().
    void registerClient(KennelClient &client);

    std::unique_ptr<FakeBroker> fake;
};

void tst_KennelClient::init()
{
    fake = std::make_unique<FakeBroker>();
    QVERIFY(fake->listen());
}

void tst_KennelClient::cleanup()
{
    fake.reset();
}

std::unique_ptr<KennelClient> tst_KennelClient::makeClient(const QByteArray &name)
{
    auto client = std::make_unique<KennelClient>();
    client->setBrokerAddress(fake->address());
    client->setName(name);
    client->setReconnectBackoff(10ms, 40ms);
    return client;
}

void tst_KennelClient::registerClient(KennelClient &client)
{
    QSignalSpy registered(&client, &KennelClient::registered);
    client.connectToBroker();
    QVERIFY(registered.wait(WaitMs));
    QCOMPARE(client.state(), KennelClient::Registered);
}

void tst_KennelClient::helloCarriesNameAndPid()
{
    fake->autoWelcome = false;
    auto client = makeClient(QByteArrayLiteral("hello-test"));
    client->setPid(4242);
    QSignalSpy connectedSpy(client.get(), &KennelClient::connected);
    client->connectToBroker();
    // A Unix socket may connect at once, inside connectToBroker().
    QVERIFY(client->state() == KennelClient::Connecting || client->state() == KennelClient::Registering);

    QTRY_COMPARE_WITH_TIMEOUT(connectedSpy.count(), 1, WaitMs);
    QCOMPARE(client->state(), KennelClient::Registering);
    QTRY_COMPARE_WITH_TIMEOUT(fake->peerCount() == 1 ? fake->countOf(0, FrameType::Hello) : 0, 1, WaitMs);
    const Frame hello = fake->framesOfType(0, FrameType::Hello).first();
    QCOMPARE(hello.source, QByteArrayLiteral("hello-test"));
    QVERIFY(hello.target.isEmpty());
    const std::optional<HelloPayload> payload = decodeHello(hello.payload);
    QVERIFY(payload);
    QCOMPARE(payload->pid, 4242u);
    QCOMPARE(payload->role, Role::Client);
    QCOMPARE(payload->protocolVersion, quint16(Wire::Version));
    QVERIFY(payload->token.isEmpty());
    // PROTOCOL §4.1.1: the library lists the optional features it understands.
    QCOMPARE(payload->features, std::optional<quint32>(Wire::KnownFeatures));
}

// A Welcome answering the Hello's features: brokerFeatures() says what the broker offers.
void tst_KennelClient::brokerFeaturesFromWelcome()
{
    fake->autoWelcome = false;
    auto client = makeClient();
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(fake->peerCount() == 1 ? fake->countOf(0, FrameType::Hello) : 0, 1, WaitMs);
    WelcomePayload welcome;
    welcome.brokerVersion = "fake-2";
    welcome.features = FeatureWatchdog | 0x80000000u; // one it knows, one from the future
    fake->write(0, frameBytes(FrameType::Welcome, 0, {}, "alpha", encodeWelcome(welcome)));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), KennelClient::Registered, WaitMs);
    QCOMPARE(client->brokerFeatures(), quint32(FeatureWatchdog | 0x80000000u));
    QVERIFY(client->brokerOffers(FeatureWatchdog));
    QCOMPARE(client->brokerVersion(), QByteArrayLiteral("fake-2"));
}

void tst_KennelClient::welcomeRegisters()
{
    fake->maxFrameSize = 4096;
    auto client = makeClient();
    QCOMPARE(client->pid(), quint32(QCoreApplication::applicationPid()));
    QSignalSpy states(client.get(), &KennelClient::stateChanged);
    QSignalSpy registered(client.get(), &KennelClient::registered);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);
    QCOMPARE(registered.at(0).at(0).toByteArray(), QByteArrayLiteral("alpha"));
    QCOMPARE(client->state(), KennelClient::Registered);
    QCOMPARE(client->brokerVersion(), QByteArrayLiteral("fake-1"));
    QCOMPARE(client->brokerMaxFrameSize(), 4096u);
    QCOMPARE(client->brokerFeatures(), 0u); // a Welcome without features: an older broker
    QVERIFY(!client->brokerOffers(FeatureWatchdog));
    QCOMPARE(client->error(), KennelClient::NoError);

    QCOMPARE(states.count(), 3);
    QCOMPARE(states.at(0).at(0).value<KennelClient::State>(), KennelClient::Connecting);
    QCOMPARE(states.at(1).at(0).value<KennelClient::State>(), KennelClient::Registering);
    QCOMPARE(states.at(2).at(0).value<KennelClient::State>(), KennelClient::Registered);

    client->connectToBroker(); // already connected: nothing happens
    QCOMPARE(client->state(), KennelClient::Registered);
    QCOMPARE(states.count(), 3);
}

void tst_KennelClient::invalidLocalNameIsRefusedBeforeConnecting()
{
    auto client = makeClient(QByteArrayLiteral("not a name"));
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy states(client.get(), &KennelClient::stateChanged);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("not a valid client name")));
    client->connectToBroker();
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::InvalidName);
    QCOMPARE(client->state(), KennelClient::Disconnected);
    QCOMPARE(client->error(), KennelClient::InvalidName);
    QCOMPARE(states.count(), 0);
    QVERIFY(!client->reconnectPending());
    QCOMPARE(fake->peerCount(), 0);
}

void tst_KennelClient::missingAddressIsRefused()
{
    KennelClient client;
    client.setName(QByteArrayLiteral("alpha"));
    QSignalSpy errors(&client, &KennelClient::errorOccurred);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("no broker address")));
    client.connectToBroker();
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::InvalidAddress);

    client.setBrokerAddress(BrokerAddress::tcp(QStringLiteral("127.0.0.1"), 0));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("port 0")));
    client.connectToBroker();
    QCOMPARE(errors.count(), 2);
    QCOMPARE(errors.at(1).at(0).value<KennelClient::ClientError>(), KennelClient::InvalidAddress);
    QCOMPARE(client.state(), KennelClient::Disconnected);
}

void tst_KennelClient::nameTakenIsReported()
{
    fake->refusals = {ErrorCode::NameTaken};
    auto client = makeClient();
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy disconnectedSpy(client.get(), &KennelClient::disconnected);
    QSignalSpy registered(client.get(), &KennelClient::registered);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::NameTaken);
    QVERIFY(errors.at(0).at(1).toString().contains(QLatin1String("scripted refusal")));
    QCOMPARE(client->state(), KennelClient::Disconnected);
    QCOMPARE(client->error(), KennelClient::NameTaken);
    QCOMPARE(disconnectedSpy.count(), 1);
    QVERIFY(!client->reconnectPending()); // auto-reconnect is off by default
    QCOMPARE(registered.count(), 0);
}

void tst_KennelClient::nameTakenIsRetried()
{
    // A restarted broker may still hold our previous connection: NameTaken must not be final.
    fake->refusals = {ErrorCode::NameTaken, ErrorCode::NameTaken};
    auto client = makeClient();
    client->setAutoReconnect(true);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy registered(client.get(), &KennelClient::registered);
    QSignalSpy scheduled(client.get(), &KennelClient::reconnectScheduled);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);
    QCOMPARE(errors.count(), 2);
    QCOMPARE(fake->peerCount(), 3);
    QCOMPARE(scheduled.count(), 2);
    QCOMPARE(scheduled.at(0).at(0).toInt(), 10);
    QCOMPARE(scheduled.at(1).at(0).toInt(), 20);
    QCOMPARE(client->error(), KennelClient::NoError);
}

void tst_KennelClient::invalidNameIsFatal()
{
    fake->refusals = {ErrorCode::InvalidName};
    auto client = makeClient();
    client->setAutoReconnect(true);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy scheduled(client.get(), &KennelClient::reconnectScheduled);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::InvalidName);
    QCOMPARE(client->state(), KennelClient::Disconnected);
    QVERIFY(!client->reconnectPending());
    QCOMPARE(scheduled.count(), 0);
}

void tst_KennelClient::deliverEmitsMessageReceived()
{
    auto client = makeClient();
    registerClient(*client);
    QSignalSpy messages(client.get(), &KennelClient::messageReceived);
    static const char raw[] = "\x00\x01line\nbreak\xff";
    const QByteArray binary(raw, sizeof raw - 1);
    fake->write(0, frameBytes(FrameType::Deliver, 77, "sender", "alpha", "hello"));
    fake->write(0, frameBytes(FrameType::Deliver, 78, "sender", "alpha", binary));
    QTRY_COMPARE_WITH_TIMEOUT(messages.count(), 2, WaitMs);
    QCOMPARE(messages.at(0).at(0).toByteArray(), QByteArrayLiteral("sender"));
    QCOMPARE(messages.at(0).at(1).toByteArray(), QByteArrayLiteral("hello"));
    QCOMPARE(messages.at(0).at(2).toUInt(), 77u);
    QCOMPARE(messages.at(1).at(1).toByteArray(), binary);
    QCOMPARE(messages.at(1).at(2).toUInt(), 78u);
}

void tst_KennelClient::deliveryStatusIsReported()
{
    auto client = makeClient();
    registerClient(*client);
    QSignalSpy statuses(client.get(), &KennelClient::deliveryStatusReceived);
    fake->write(0, frameBytes(FrameType::DeliveryStatus, 5, {}, "bob", encodeDeliveryStatus(DeliveryStatus::NoSuchClient)));
    fake->write(0, frameBytes(FrameType::DeliveryStatus, 6, {}, "carol", encodeDeliveryStatus(DeliveryStatus::Delivered)));
    QTRY_COMPARE_WITH_TIMEOUT(statuses.count(), 2, WaitMs);
    QCOMPARE(statuses.at(0).at(0).toUInt(), 5u);
    QCOMPARE(statuses.at(0).at(1).toByteArray(), QByteArrayLiteral("bob"));
    QCOMPARE(statuses.at(0).at(2).value<DeliveryStatus>(), DeliveryStatus::NoSuchClient);
    QCOMPARE(statuses.at(1).at(2).value<DeliveryStatus>(), DeliveryStatus::Delivered);
}

void tst_KennelClient::sendIdsIncreaseAndFramesAreWellFormed()
{
    auto client = makeClient();
    registerClient(*client);
    const quint32 first = client->send("bob", "one");
    const quint32 second = client->send("bob", "two", false);
    const quint32 third = client->send("carol", QByteArray());
    QVERIFY(first != 0);
    QVERIFY(second > first);
    QVERIFY(third > second);

    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Send), 3, WaitMs);
    const QList<Frame> sends = fake->framesOfType(0, FrameType::Send);
    QCOMPARE(sends.at(0).messageId, first);
    QCOMPARE(sends.at(0).target, QByteArrayLiteral("bob"));
    QCOMPARE(sends.at(0).payload, QByteArrayLiteral("one"));
    QVERIFY(sends.at(0).source.isEmpty()); // PROTOCOL: the broker stamps the sender itself
    QCOMPARE(sends.at(0).flags, quint16(WantDeliveryStatus));
    QCOMPARE(sends.at(1).messageId, second);
    QCOMPARE(sends.at(1).flags, quint16(NoFlags));
    QCOMPARE(sends.at(2).messageId, third);
    QCOMPARE(sends.at(2).target, QByteArrayLiteral("carol"));
    QVERIFY(sends.at(2).payload.isEmpty());
}

void tst_KennelClient::sendRefusedWhenNotRegistered()
{
    fake->autoWelcome = false;
    auto client = makeClient();
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QCOMPARE(client->send("bob", "too early"), 0u);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), KennelClient::Registering, WaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(fake->peerCount(), 1, WaitMs);
    QCOMPARE(client->send("bob", "still too early"), 0u);
    QCOMPARE(errors.count(), 0); // documented: the return value is the report

    fake->write(0, welcomeBytes("alpha"));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), KennelClient::Registered, WaitMs);
    QCOMPARE(client->send("bob", "now"), 1u);
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Send), 1, WaitMs);
}

void tst_KennelClient::sendRefusedForBadTargetOrOversize()
{
    fake->maxFrameSize = 1024;
    auto client = makeClient();
    registerClient(*client);
    QCOMPARE(client->send("no spaces", "x"), 0u);
    QCOMPARE(client->send(QByteArray(), "x"), 0u);
    QCOMPARE(client->send(QByteArray(65, 'a'), "x"), 0u);
    const QByteArray fits(1024 - Wire::HeaderSize - 3, 'p');
    QCOMPARE(client->send("bob", fits + 'x'), 0u);
    const quint32 id = client->send("bob", fits);
    QVERIFY(id != 0);
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Send), 1, WaitMs);
    QCOMPARE(fake->framesOfType(0, FrameType::Send).first().messageId, id);
    QCOMPARE(client->state(), KennelClient::Registered);
}

void tst_KennelClient::malformedBytesAreAProtocolViolation()
{
    auto client = makeClient();
    client->setAutoReconnect(true);
    registerClient(*client);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy disconnectedSpy(client.get(), &KennelClient::disconnected);
    fake->write(0, QByteArrayLiteral("GET / HTTP/1.1\r\nHost: kennel\r\n\r\n"));
    QTRY_COMPARE_WITH_TIMEOUT(disconnectedSpy.count(), 1, WaitMs);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::ProtocolViolation);
    QCOMPARE(client->error(), KennelClient::ProtocolViolation);
    QVERIFY(client->state() != KennelClient::Registered);
    QTRY_VERIFY_WITH_TIMEOUT(fake->peer(0).closed, WaitMs);
}

void tst_KennelClient::unexpectedFrameIsAProtocolViolation()
{
    fake->autoWelcome = false;
    auto client = makeClient();
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy messages(client.get(), &KennelClient::messageReceived);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), KennelClient::Registering, WaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(fake->peerCount(), 1, WaitMs);
    fake->write(0, frameBytes(FrameType::Deliver, 1, "sender", "alpha", "before welcome"));
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::ProtocolViolation);
    QCOMPARE(messages.count(), 0);
    QCOMPARE(client->state(), KennelClient::Disconnected);
}

void tst_KennelClient::reconnectsWithBackoffAfterDrop()
{
    auto client = makeClient();
    client->setAutoReconnect(true);
    client->registerWatchdog(WatchdogTerms{500, 3, ExpiryAction::Notify});
    QSignalSpy registered(client.get(), &KennelClient::registered);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy disconnectedSpy(client.get(), &KennelClient::disconnected);
    QSignalSpy scheduled(client.get(), &KennelClient::reconnectScheduled);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);
    // The terms go out right after the Welcome; the fake must have read them before the drop, or
    // a loaded machine makes the count below a race.
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::WatchdogRegister), 1, WaitMs);
    const quint32 before = client->send("bob", "before");
    QVERIFY(before != 0);

    // The broker goes away while nobody listens, then comes back: the client must keep trying.
    fake->stopListening();
    fake->drop(0);
    QTRY_COMPARE_WITH_TIMEOUT(disconnectedSpy.count(), 1, WaitMs);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::RemoteClosed);
    QCOMPARE(scheduled.at(0).at(0).toInt(), 10); // restarts at the minimum after a registration
    QCOMPARE(client->send("bob", "while down"), 0u); // not queued
    QTRY_VERIFY_WITH_TIMEOUT(scheduled.count() >= 3, WaitMs);
    QVERIFY(fake->listen());

    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 2, WaitMs);
    QCOMPARE(registered.at(1).at(0).toByteArray(), QByteArrayLiteral("alpha"));
    QCOMPARE(client->state(), KennelClient::Registered);
    QCOMPARE(client->error(), KennelClient::NoError);
    QCOMPARE(fake->peerCount(), 2);
    QCOMPARE(fake->countOf(1, FrameType::Hello), 1);
    // A new connection starts unwatched: the terms go out again.
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(1, FrameType::WatchdogRegister), 1, WaitMs);
    QCOMPARE(fake->countOf(0, FrameType::WatchdogRegister), 1);

    const quint32 after = client->send("bob", "after");
    QVERIFY(after > before); // ids stay unique across connections
}

void tst_KennelClient::backoffDoublesUpToMax()
{
    fake->stopListening();
    auto client = makeClient();
    client->setAutoReconnect(true);
    QSignalSpy scheduled(client.get(), &KennelClient::reconnectScheduled);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    client->connectToBroker();
    QTRY_VERIFY_WITH_TIMEOUT(scheduled.count() >= 5, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::ConnectionRefused);
    QCOMPARE(scheduled.at(0).at(0).toInt(), 10);
    QCOMPARE(scheduled.at(1).at(0).toInt(), 20);
    QCOMPARE(scheduled.at(2).at(0).toInt(), 40);
    QCOMPARE(scheduled.at(3).at(0).toInt(), 40);
    QCOMPARE(scheduled.at(4).at(0).toInt(), 40);

    client->disconnectFromBroker();
    QVERIFY(!client->reconnectPending());
    const qsizetype count = scheduled.count();
    QTest::qWait(100); // the one place a wait is the point: nothing may happen during it
    QCOMPARE(scheduled.count(), count);
    QCOMPARE(client->state(), KennelClient::Disconnected);
}

void tst_KennelClient::disconnectSendsByeAndStaysDown()
{
    auto client = makeClient();
    client->setAutoReconnect(true);
    registerClient(*client);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy disconnectedSpy(client.get(), &KennelClient::disconnected);
    client->disconnectFromBroker();
    QCOMPARE(client->state(), KennelClient::Disconnected);
    QCOMPARE(disconnectedSpy.count(), 1);
    QCOMPARE(errors.count(), 0);
    QCOMPARE(client->error(), KennelClient::NoError);
    QVERIFY(!client->reconnectPending());
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Bye), 1, WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(fake->peer(0).closed, WaitMs);
    QCOMPARE(fake->peerCount(), 1);

    client->disconnectFromBroker(); // twice is harmless
    QCOMPARE(disconnectedSpy.count(), 1);
}

void tst_KennelClient::errorThenCloseIsReportedOnce()
{
    auto client = makeClient();
    registerClient(*client);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy disconnectedSpy(client.get(), &KennelClient::disconnected);
    fake->write(0, errorBytes(ErrorCode::ShuttingDown, QStringLiteral("bye for now")));
    fake->drop(0);
    QTRY_COMPARE_WITH_TIMEOUT(disconnectedSpy.count(), 1, WaitMs);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::ShuttingDown);
    QCOMPARE(client->error(), KennelClient::ShuttingDown);
    QVERIFY(client->errorString().contains(QLatin1String("bye for now")));
}

void tst_KennelClient::byeFromBrokerIsRemoteClosed()
{
    auto client = makeClient();
    registerClient(*client);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    fake->write(0, frameBytes(FrameType::Bye));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), KennelClient::Disconnected, WaitMs);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::RemoteClosed);
    QTRY_VERIFY_WITH_TIMEOUT(fake->peer(0).closed, WaitMs);
}

void tst_KennelClient::nonFatalErrorKeepsConnection()
{
    auto client = makeClient();
    registerClient(*client);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    fake->write(0, errorBytes(ErrorCode::WatchdogUnavailable));
    fake->write(0, frameBytes(FrameType::Pong));
    QSignalSpy pongs(client.get(), &KennelClient::pongReceived);
    QTRY_COMPARE_WITH_TIMEOUT(pongs.count(), 1, WaitMs);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::WatchdogUnavailable);
    QCOMPARE(client->state(), KennelClient::Registered);
}

void tst_KennelClient::pingPong()
{
    auto client = makeClient();
    QVERIFY(!client->ping());
    registerClient(*client);
    QSignalSpy pongs(client.get(), &KennelClient::pongReceived);
    QVERIFY(client->ping());
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Ping), 1, WaitMs);
    const Frame ping = fake->framesOfType(0, FrameType::Ping).first();
    fake->write(0, frameBytes(FrameType::Pong, ping.messageId, {}, {}, ping.payload));
    QTRY_COMPARE_WITH_TIMEOUT(pongs.count(), 1, WaitMs);
}

void tst_KennelClient::answersBrokerPing()
{
    auto client = makeClient();
    registerClient(*client);
    fake->write(0, frameBytes(FrameType::Ping, 9, {}, {}, "are you there"));
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Pong), 1, WaitMs);
    const Frame pong = fake->framesOfType(0, FrameType::Pong).first();
    QCOMPARE(pong.payload, QByteArrayLiteral("are you there"));
    QCOMPARE(pong.messageId, 9u);
}

void tst_KennelClient::watchdogTermsSentOnRegistrationAndAck()
{
    auto client = makeClient();
    QVERIFY(!client->feedWatchdog());
    const WatchdogTerms terms{250, 2, ExpiryAction::Kill};
    client->registerWatchdog(terms); // before connecting: remembered
    registerClient(*client);
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::WatchdogRegister), 1, WaitMs);
    const std::optional<WatchdogTerms> sent =
        decodeWatchdogTerms(fake->framesOfType(0, FrameType::WatchdogRegister).first().payload);
    QVERIFY(sent);
    QCOMPARE(sent->intervalMs, 250u);
    QCOMPARE(sent->allowedMisses, quint16(2));
    QCOMPARE(sent->action, ExpiryAction::Kill);

    QSignalSpy acks(client.get(), &KennelClient::watchdogRegistered);
    fake->write(0, frameBytes(FrameType::WatchdogAck, 0, {}, "alpha",
                              encodeWatchdogTerms(WatchdogTerms{300, 2, ExpiryAction::Kill})));
    QTRY_COMPARE_WITH_TIMEOUT(acks.count(), 1, WaitMs);
    QCOMPARE(acks.at(0).at(0).value<WatchdogTerms>().intervalMs, 300u);

    QVERIFY(client->feedWatchdog());
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::WatchdogFeed), 1, WaitMs);
    QVERIFY(fake->framesOfType(0, FrameType::WatchdogFeed).first().payload.isEmpty());

    client->registerWatchdog(WatchdogTerms{1000, 1, ExpiryAction::Default}); // while registered: now
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::WatchdogRegister), 2, WaitMs);
}

void tst_KennelClient::handshakeTimeout()
{
    fake->autoWelcome = false;
    auto client = makeClient();
    client->setConnectTimeout(50ms);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::Timeout);
    QCOMPARE(client->state(), KennelClient::Disconnected);
    QTRY_VERIFY_WITH_TIMEOUT(fake->peer(0).closed, WaitMs);
}

void tst_KennelClient::connectionRefused()
{
    fake->stopListening();
    auto client = makeClient();
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    QSignalSpy disconnectedSpy(client.get(), &KennelClient::disconnected);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::ConnectionRefused);
    QCOMPARE(client->state(), KennelClient::Disconnected);
    QCOMPARE(disconnectedSpy.count(), 0); // never connected
}

void tst_KennelClient::givenTransportIsUsedOnce()
{
    QLocalSocket socket;
    socket.connectToServer(fake->path());
    QVERIFY(socket.waitForConnected(WaitMs));

    KennelClient client;
    client.setName(QByteArrayLiteral("via-transport"));
    client.setAutoReconnect(true); // no address to fall back on: must not matter
    client.setTransport(&socket);
    QCOMPARE(client.transport(), &socket);
    QSignalSpy registered(&client, &KennelClient::registered);
    client.connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);
    QCOMPARE(fake->framesOfType(0, FrameType::Hello).first().source, QByteArrayLiteral("via-transport"));

    QSignalSpy errors(&client, &KennelClient::errorOccurred);
    fake->drop(0);
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), KennelClient::Disconnected, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::RemoteClosed);
    QVERIFY(!client.reconnectPending());
    QCOMPARE(client.transport(), nullptr); // forgotten, not deleted: `socket` is still ours
    QVERIFY(!socket.isOpen());
}

void tst_KennelClient::plainIODeviceTransport()
{
    PipeEnd clientEnd;
    PipeEnd brokerEnd;
    PipeEnd::link(clientEnd, brokerEnd);
    fake->adopt(&brokerEnd);

    KennelClient client;
    client.setName(QByteArrayLiteral("piped"));
    client.setTransport(&clientEnd);
    QSignalSpy registered(&client, &KennelClient::registered);
    QSignalSpy messages(&client, &KennelClient::messageReceived);
    client.connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);
    QCOMPARE(fake->framesOfType(0, FrameType::Hello).first().source, QByteArrayLiteral("piped"));

    fake->write(0, frameBytes(FrameType::Deliver, 3, "sender", "piped", "through a pipe"));
    QTRY_COMPARE_WITH_TIMEOUT(messages.count(), 1, WaitMs);
    QCOMPARE(messages.at(0).at(1).toByteArray(), QByteArrayLiteral("through a pipe"));

    QSignalSpy errors(&client, &KennelClient::errorOccurred);
    brokerEnd.close();
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), KennelClient::Disconnected, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::RemoteClosed);
    QVERIFY(!clientEnd.isOpen()); // the client closes what it was given when done
}

void tst_KennelClient::givenTransportDeletedUnderTheClient()
{
    auto *socket = new QLocalSocket;
    socket->connectToServer(fake->path());
    QVERIFY(socket->waitForConnected(WaitMs));
    KennelClient client;
    client.setName(QByteArrayLiteral("fragile"));
    client.setTransport(socket);
    QSignalSpy registered(&client, &KennelClient::registered);
    client.connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);

    QSignalSpy errors(&client, &KennelClient::errorOccurred);
    delete socket;
    QCOMPARE(errors.count(), 1);
    // ~QLocalSocket aborts first (RemoteClosed); a plain QIODevice is only seen being destroyed.
    const auto error = errors.at(0).at(0).value<KennelClient::ClientError>();
    QVERIFY2(error == KennelClient::RemoteClosed || error == KennelClient::TransportError,
             QMetaEnum::fromType<KennelClient::ClientError>().valueToKey(error));
    QCOMPARE(client.state(), KennelClient::Disconnected);
    QCOMPARE(client.transport(), nullptr);
    QCOMPARE(client.send("bob", "nowhere"), 0u);
}

void tst_KennelClient::tcpTransportSetsNoDelay()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    connect(&server, &QTcpServer::newConnection, fake.get(), [&] {
        while (QTcpSocket *socket = server.nextPendingConnection())
            fake->adopt(socket);
    });
    KennelClient client;
    client.setName(QByteArrayLiteral("tcp-client"));
    client.setBrokerAddress(BrokerAddress::tcp(QStringLiteral("127.0.0.1"), server.serverPort()));
    QSignalSpy registered(&client, &KennelClient::registered);
    client.connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);
    auto *socket = qobject_cast<QAbstractSocket *>(client.transport());
    QVERIFY(socket);
    QCOMPARE(socket->socketOption(QAbstractSocket::LowDelayOption).toInt(), 1);
    QVERIFY(client.send("bob", "over tcp") != 0);
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Send), 1, WaitMs);
    client.disconnectFromBroker();
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Bye), 1, WaitMs);
}

void tst_KennelClient::destructionSaysBye()
{
    auto client = makeClient();
    registerClient(*client);
    client.reset();
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Bye), 1, WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(fake->peer(0).closed, WaitMs);
}

void tst_KennelClient::disconnectFromErrorSlotIsSafe()
{
    // Regression guard for re-entrancy: a slot tearing the client down from inside the teardown.
    fake->refusals = {ErrorCode::NameTaken};
    auto client = makeClient();
    client->setAutoReconnect(true);
    KennelClient *raw = client.get();
    connect(raw, &KennelClient::errorOccurred, raw, [raw] { raw->disconnectFromBroker(); });
    QSignalSpy disconnectedSpy(raw, &KennelClient::disconnected);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(client->error(), KennelClient::NameTaken, WaitMs);
    QCOMPARE(client->state(), KennelClient::Disconnected);
    QVERIFY(!client->reconnectPending());

    // And deleting it from a slot, the Qt way.
    fake->refusals.clear();
    auto *doomed = makeClient(QByteArrayLiteral("doomed")).release();
    connect(doomed, &KennelClient::registered, doomed, &QObject::deleteLater);
    QSignalSpy destroyed(doomed, &QObject::destroyed);
    doomed->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(destroyed.count(), 1, WaitMs);
}

// The send queue (setSendQueueLimits()) also covers the first connection: what is sent before the
// Welcome keeps its id and is the first frame after it.
void tst_KennelClient::queuedWhileRegisteringGoesFirst()
{
    fake->autoWelcome = false;
    auto client = makeClient();
    client->setSendQueueLimits(10, 4096);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), KennelClient::Registering, WaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(fake->peerCount(), 1, WaitMs);
    const quint32 early = client->send("bob", "early");
    QVERIFY(early != 0);
    QCOMPARE(client->queuedSendCount(), 1);
    QCOMPARE(client->queuedSendBytes(), qint64(Wire::HeaderSize + 3 + 5));
    QCOMPARE(fake->countOf(0, FrameType::Send), 0);

    quint32 later = 0;
    connect(client.get(), &KennelClient::registered, this, [&] { later = client->send("bob", "later"); });
    fake->write(0, welcomeBytes("alpha"));
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(0, FrameType::Send), 2, WaitMs);
    const QList<Frame> sends = fake->framesOfType(0, FrameType::Send);
    QCOMPARE(sends.at(0).messageId, early);
    QCOMPARE(sends.at(0).payload, QByteArrayLiteral("early"));
    QVERIFY(sends.at(0).flags & WantDeliveryStatus);
    QCOMPARE(sends.at(1).messageId, later);
    QVERIFY(later > early);
    QCOMPARE(client->queuedSendCount(), 0);
}

// A broker that comes back with a lower frame limit (PROTOCOL §8.1): what no longer fits is
// reported, the rest is sent.
void tst_KennelClient::queuedMessageTooLargeForTheNewBroker()
{
    auto client = makeClient();
    client->setAutoReconnect(true);
    client->setSendQueueLimits(10, 1 << 20);
    QSignalSpy registered(client.get(), &KennelClient::registered);
    QSignalSpy failed(client.get(), &KennelClient::sendFailed);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 1, WaitMs);

    fake->stopListening();
    fake->drop(0);
    QTRY_VERIFY_WITH_TIMEOUT(client->reconnectPending(), WaitMs);
    const quint32 big = client->send("bob", QByteArray(2000, 'x'));
    const quint32 small = client->send("bob", "small");
    QVERIFY(big != 0 && small > big);
    fake->maxFrameSize = 1024;
    QVERIFY(fake->listen());

    QTRY_COMPARE_WITH_TIMEOUT(registered.count(), 2, WaitMs);
    QCOMPARE(failed.count(), 1);
    QCOMPARE(failed.at(0).at(0).toUInt(), big);
    QCOMPARE(failed.at(0).at(2).value<KennelClient::SendFailure>(), KennelClient::SendTooLarge);
    QTRY_COMPARE_WITH_TIMEOUT(fake->countOf(1, FrameType::Send), 1, WaitMs);
    QCOMPARE(fake->framesOfType(1, FrameType::Send).at(0).messageId, small);
}

// A refusal that retrying cannot cure ends the wish to connect: the queue is reported lost.
void tst_KennelClient::queueAbandonedOnFatalRefusal()
{
    fake->autoWelcome = false;
    auto client = makeClient();
    client->setAutoReconnect(true);
    client->setSendQueueLimits(10, 4096);
    QSignalSpy failed(client.get(), &KennelClient::sendFailed);
    QSignalSpy errors(client.get(), &KennelClient::errorOccurred);
    client->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(fake->peerCount(), 1, WaitMs);
    const quint32 first = client->send("bob", "one");
    const quint32 second = client->send("bob", "two");
    QVERIFY(first != 0 && second > first);

    fake->write(0, errorBytes(ErrorCode::NotPermitted, QStringLiteral("no")));
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::NotPermitted);
    QVERIFY(!client->reconnectPending());
    QCOMPARE(failed.count(), 2);
    QCOMPARE(failed.at(0).at(0).toUInt(), first);
    QCOMPARE(failed.at(1).at(0).toUInt(), second);
    QCOMPARE(failed.at(1).at(2).value<KennelClient::SendFailure>(), KennelClient::SendAbandoned);
    QCOMPARE(client->queuedSendCount(), 0);
    QCOMPARE(fake->countOf(0, FrameType::Send), 0);
}

QTEST_GUILESS_MAIN(tst_KennelClient)

#include "tst_kennelclient.moc"
