// Test support for kennel-monitor's link, models and window: a fake transport the test writes
// the broker's side into (and reads the monitor's frames from), and builders for monitor frames.
// Header-only; shared by tests/auto/monitormodels and tests/auto/monitorapp.
#pragma once

#include "framecodec.h"
#include "monitorcodec.h"
#include "monitorlink.h"

#include <QIODevice>
#include <QList>
#include <QTest>

#include <cstring>

namespace MonitorTest {

// An open, sequential device: push() is what the broker sends (readyRead follows at once),
// written() is what the monitor sent.
class FakeDevice : public QIODevice
{
public:
    FakeDevice() { open(QIODevice::ReadWrite | QIODevice::Unbuffered); }

    void push(QByteArrayView bytes)
    {
        m_in.append(bytes.data(), bytes.size());
        Q_EMIT readyRead();
    }
    QByteArray &written() { return m_out; }
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override { return m_in.size() + QIODevice::bytesAvailable(); }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = std::min<qint64>(maxSize, m_in.size());
        std::memcpy(data, m_in.constData(), size_t(n));
        m_in.remove(0, n);
        return n;
    }
    qint64 writeData(const char *data, qint64 size) override
    {
        m_out.append(data, size);
        return size;
    }

private:
    QByteArray m_in;
    QByteArray m_out;
};

inline QByteArray frame(Kennel::FrameType type, const QByteArray &payload, quint32 messageId = 0,
                        const QByteArray &source = {}, const QByteArray &target = {})
{
    QByteArray out;
    Kennel::appendFrame(out, type, messageId, Kennel::NoFlags, source, target, payload);
    return out;
}

inline QByteArray welcome(const QByteArray &name = "kennel-monitor-test")
{
    Kennel::WelcomePayload w;
    w.brokerVersion = "9.9.9";
    return frame(Kennel::FrameType::Welcome, Kennel::encodeWelcome(w), 1, {}, name);
}

inline QByteArray error(Kennel::ErrorCode code, const QString &text, quint32 messageId = 0)
{
    return frame(Kennel::FrameType::Error, Kennel::encodeError({code, text}), messageId);
}

inline QList<Kennel::Frame> decodeAll(const QByteArray &bytes)
{
    Kennel::FrameDecoder decoder;
    decoder.append(bytes);
    QList<Kennel::Frame> frames;
    while (auto f = decoder.next())
        frames.append(*f);
    return frames;
}

inline Kennel::MonitorClient client(quint64 sessionId, const QByteArray &name, Kennel::MonitorWatchState state = Kennel::MonitorWatchState::NotWatched,
                                    qint64 msUntilExpiry = -1, quint64 feeds = 0)
{
    Kennel::MonitorClient c;
    c.sessionId = sessionId;
    c.name = name;
    c.pid = qint64(1000 + sessionId);
    c.peerAddress = QStringLiteral("unix pid %1 uid 0").arg(1000 + sessionId);
    c.connectedSinceMs = 1700000000000;
    c.watchState = state;
    if (state != Kennel::MonitorWatchState::NotWatched) {
        c.watchIntervalMs = 1000;
        c.watchAllowedMisses = 3;
        c.msUntilExpiry = msUntilExpiry;
        c.msSinceLastFeed = 100;
        c.feeds = feeds;
    }
    return c;
}

inline Kennel::MonitorTrafficRecord record(qint64 n, const QByteArray &source = "alpha", const QByteArray &target = "beta",
                                           Kennel::DeliveryStatus status = Kennel::DeliveryStatus::Delivered)
{
    Kennel::MonitorTrafficRecord r;
    r.timeUs = 1700000000000000 + n * 1000;
    r.source = source;
    r.target = target;
    r.size = quint32(n % 1000);
    r.status = status;
    r.preview = "msg " + QByteArray::number(n);
    return r;
}

// Connects `link` over `device` and plays the broker's side of the handshake. Use with
// QVERIFY(goLive(...)).
inline bool goLive(Kennel::MonitorLink &link, FakeDevice &device, const QByteArray &token = "token")
{
    Kennel::MonitorLink::Settings s = link.settings();
    s.token = token;
    s.name = "kennel-monitor-test";
    link.setSettings(s);
    link.setTransport(&device);
    link.open();
    if (!QTest::qWaitFor([&] { return link.state() == Kennel::MonitorLink::State::Authenticating; }, 5000))
        return false;
    device.push(welcome());
    return link.state() == Kennel::MonitorLink::State::Live;
}

} // namespace MonitorTest
