#include "canary.h"

#include "kennelclient.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QTest>
#include <QtEndian>

#include <cstring>

using Kennel::BrokerAddress;
using Kennel::KennelClient;

namespace KennelTest {

namespace {
// Payload: sequence number and send time (µs on the canary's clock), then filler.
constexpr int HeaderBytes = 16;

} // namespace

Canary::Canary(QObject *parent)
    : QObject(parent)
{
    connect(&m_timer, &QTimer::timeout, this, &Canary::sendOne);
}

Canary::~Canary()
{
    m_timer.stop();
    delete m_tx;
    delete m_rx;
}

bool Canary::start(const Options &options)
{
    m_options = options;
    m_options.payloadSize = std::max(m_options.payloadSize, HeaderBytes);
    m_clock.start();
    const auto address = BrokerAddress::parse(m_options.brokerAddress);
    if (!address) {
        fail(QStringLiteral("bad broker address %1").arg(m_options.brokerAddress));
        return false;
    }
    auto makeClient = [&](const QByteArray &name) {
        auto *client = new KennelClient(this);
        client->setBrokerAddress(*address);
        client->setName(name);
        client->setAutoReconnect(false);
        connect(client, &KennelClient::errorOccurred, this, [this, name](KennelClient::ClientError, const QString &text) {
            fail(QStringLiteral("%1: %2").arg(QString::fromLatin1(name), text));
        });
        connect(client, &KennelClient::disconnected, this, [this, name] {
            if (m_running)
                fail(QStringLiteral("%1 lost its connection").arg(QString::fromLatin1(name)));
        });
        return client;
    };
    m_tx = makeClient(m_options.senderName);
    m_rx = makeClient(m_options.receiverName);
    connect(m_rx, &KennelClient::messageReceived, this,
            [this](const QByteArray &source, const QByteArray &payload, quint32) { onMessage(source, payload); });
    connect(m_tx, &KennelClient::deliveryStatusReceived, this,
            [this](quint32 id, const QByteArray &, Kennel::DeliveryStatus status) {
                if (status == Kennel::DeliveryStatus::Delivered)
                    ++m_delivered;
                else
                    fail(QStringLiteral("message %1: status %2").arg(id).arg(QLatin1String(Kennel::deliveryStatusName(status))));
            });
    m_rx->connectToBroker();
    m_tx->connectToBroker();
    const bool up = QTest::qWaitFor([this] {
        return !m_failure.isEmpty()
            || (m_tx->state() == KennelClient::Registered && m_rx->state() == KennelClient::Registered);
    }, 10000);
    if (!up || !m_failure.isEmpty()) {
        if (m_failure.isEmpty())
            fail(QStringLiteral("the canary did not register within 10 s"));
        return false;
    }
    m_running = true;
    m_timer.start(m_options.interval);
    return true;
}

void Canary::stop(int drainMs)
{
    m_timer.stop();
    // Not drained in time is not an error here: verdict() then says what is missing.
    [[maybe_unused]] const bool drained = QTest::qWaitFor(
        [this] { return !m_failure.isEmpty() || (m_received == m_sent && m_delivered == m_sent); }, drainMs);
    m_running = false;
}

void Canary::sendOne()
{
    QByteArray payload(m_options.payloadSize, 'c');
    qToBigEndian<quint64>(m_sent, payload.data());
    qToBigEndian<qint64>(m_clock.nsecsElapsed() / 1000, payload.data() + 8);
    if (m_tx->send(m_options.receiverName, payload, true) == 0) {
        fail(QStringLiteral("canary-tx could not send message %1 (not registered)").arg(m_sent));
        return;
    }
    ++m_sent;
}

void Canary::onMessage(const QByteArray &source, const QByteArray &payload)
{
    if (source != m_options.senderName) {
        fail(QStringLiteral("the receiver got a message from '%1'").arg(QString::fromLatin1(source)));
        return;
    }
    if (payload.size() != m_options.payloadSize) {
        fail(QStringLiteral("message of %1 bytes, expected %2").arg(payload.size()).arg(m_options.payloadSize));
        return;
    }
    const quint64 seq = qFromBigEndian<quint64>(payload.constData());
    const qint64 sentAt = qFromBigEndian<qint64>(payload.constData() + 8);
    if (seq != m_received) {
        fail(QStringLiteral("expected message %1, got %2 (lost or out of order)").arg(m_received).arg(seq));
        return;
    }
    ++m_received;
    const qint64 latency = m_clock.nsecsElapsed() / 1000 - sentAt;
    m_maxLatencyUs = std::max(m_maxLatencyUs, latency);
    if (latency > qint64(m_options.latencyBound.count()) * 1000)
        fail(QStringLiteral("message %1 took %2 ms (bound %3 ms)").arg(seq).arg(latency / 1000.0).arg(m_options.latencyBound.count()));
}

void Canary::fail(const QString &why)
{
    if (m_failure.isEmpty())
        m_failure = why;
}

QString Canary::verdict() const
{
    if (!m_failure.isEmpty())
        return m_failure;
    if (m_sent == 0)
        return QStringLiteral("the canary sent nothing");
    if (m_running) {
        // Messages sent longer ago than the bound must have arrived by now.
        const qint64 boundMessages = m_options.latencyBound.count() / std::max<qint64>(1, m_options.interval.count()) + 2;
        if (qint64(m_sent - m_received) > boundMessages)
            return QStringLiteral("%1 messages sent, only %2 received").arg(m_sent).arg(m_received);
        return {};
    }
    if (m_received != m_sent)
        return QStringLiteral("%1 messages sent, %2 received").arg(m_sent).arg(m_received);
    if (m_delivered != m_sent)
        return QStringLiteral("%1 messages sent, %2 delivery statuses").arg(m_sent).arg(m_delivered);
    return {};
}

} // namespace KennelTest
