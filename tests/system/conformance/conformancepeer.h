// Support for the protocol conformance tests: a raw peer that writes bytes and reads frames with
// the pure codec only (no client library, no broker code), and a few frame builders.
#pragma once

#include "brokerprocess.h"
#include "framecodec.h"
#include "legacyframe.h"
#include "monitorcodec.h"

#include <QElapsedTimer>
#include <QLocalSocket>
#include <QTcpSocket>
#include <QtEndian>
#include <QtTest>

#include <optional>

using namespace Kennel;
using KennelTest::BrokerProcess;

namespace ConformanceTest {

inline constexpr int WaitMs = 5000;
inline constexpr quint32 FrameLimit = 8192; // the shared broker's max_frame_size and max_queue_bytes

// A peer speaking bytes: whatever it writes goes out as is; whatever arrives is kept raw and,
// when native, decoded frame by frame in arrival order.
class Conn
{
public:
    ~Conn() { delete m_device; }

    bool tcp(quint16 port)
    {
        auto *s = new QTcpSocket;
        m_device = s;
        s->connectToHost(QStringLiteral("127.0.0.1"), port);
        return s->waitForConnected(WaitMs);
    }
    bool unix(const QString &path)
    {
        auto *s = new QLocalSocket;
        m_device = s;
        s->connectToServer(path);
        return s->waitForConnected(WaitMs);
    }
    void write(const QByteArray &bytes)
    {
        m_device->write(bytes);
        if (auto *t = qobject_cast<QTcpSocket *>(m_device))
            t->flush();
        else if (auto *l = qobject_cast<QLocalSocket *>(m_device))
            l->flush();
        // flush() writes what the kernel takes now; the rest would wait for an event loop.
        while (m_device->bytesToWrite() > 0 && m_device->waitForBytesWritten(WaitMs)) {
        }
    }
    void send(FrameType type, quint32 id, QByteArrayView source, QByteArrayView target, QByteArrayView payload,
              quint16 flags = 0)
    {
        QByteArray out;
        appendFrame(out, type, id, flags, source, target, payload);
        write(out);
    }
    void hello(const QByteArray &name, quint32 id = 1, HelloPayload payload = {})
    {
        send(FrameType::Hello, id, name, {}, encodeHello(payload));
    }
    bool registerAs(const QByteArray &name)
    {
        hello(name);
        const std::optional<Frame> f = next();
        return f && f->type == FrameType::Welcome;
    }
    void sendTo(const QByteArray &target, const QByteArray &payload, quint32 id, bool wantStatus = true)
    {
        send(FrameType::Send, id, {}, target, payload, wantStatus ? WantDeliveryStatus : NoFlags);
    }

    // The next frame in arrival order, waiting up to `timeoutMs`.
    std::optional<Frame> next(int timeoutMs = WaitMs)
    {
        QElapsedTimer clock;
        clock.start();
        for (;;) {
            if (std::optional<Frame> f = decodeOne())
                return f;
            const qint64 left = timeoutMs - clock.elapsed();
            if (left <= 0 || !isOpen())
                return std::nullopt;
            pump(int(left));
        }
    }
    // The next frame of `type`, skipping others (Totals, records) on the way.
    std::optional<Frame> take(FrameType type, int timeoutMs = WaitMs)
    {
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < timeoutMs) {
            std::optional<Frame> f = next(int(timeoutMs - clock.elapsed()));
            if (!f)
                return std::nullopt;
            if (f->type == type)
                return f;
        }
        return std::nullopt;
    }
    // Nothing more arrives for `ms` (the connection may stay open).
    bool quietFor(int ms)
    {
        return !next(ms);
    }
    // Waits until the broker closed the connection.
    bool closed(int timeoutMs = WaitMs)
    {
        QElapsedTimer clock;
        clock.start();
        while (isOpen() && clock.elapsed() < timeoutMs)
            pump(int(timeoutMs - clock.elapsed()));
        return !isOpen();
    }
    qsizetype bytesReceived() const { return m_received; }
    const QByteArray &raw() const { return m_raw; }

private:
    bool isOpen() const
    {
        if (auto *t = qobject_cast<QTcpSocket *>(m_device))
            return t->state() == QAbstractSocket::ConnectedState || t->bytesAvailable() > 0;
        if (auto *l = qobject_cast<QLocalSocket *>(m_device))
            return l->state() == QLocalSocket::ConnectedState || l->bytesAvailable() > 0;
        return false;
    }
    void pump(int timeoutMs)
    {
        if (m_device->bytesAvailable() == 0) {
            if (auto *t = qobject_cast<QTcpSocket *>(m_device))
                t->waitForReadyRead(qMin(timeoutMs, 100));
            else if (auto *l = qobject_cast<QLocalSocket *>(m_device))
                l->waitForReadyRead(qMin(timeoutMs, 100));
        }
        const QByteArray bytes = m_device->readAll();
        m_received += bytes.size();
        m_raw += bytes;
        m_buffer += bytes;
    }
    std::optional<Frame> decodeOne()
    {
        const DecodeResult r = decodeFrame(m_buffer, 64 * 1024 * 1024);
        if (r.error != DecodeError::None)
            return std::nullopt;
        Frame f = r.frame.toFrame();
        m_buffer.remove(0, r.consumed);
        return f;
    }

    QIODevice *m_device = nullptr;
    QByteArray m_buffer;
    QByteArray m_raw;
    qsizetype m_received = 0;
};

inline std::optional<ErrorCode> errorOf(const std::optional<Frame> &f)
{
    if (!f || f->type != FrameType::Error)
        return std::nullopt;
    const std::optional<ErrorPayload> e = decodeError(f->payload);
    return e ? std::optional<ErrorCode>(e->code) : std::nullopt;
}

inline std::optional<DeliveryStatus> statusOf(const std::optional<Frame> &f)
{
    if (!f || f->type != FrameType::DeliveryStatus)
        return std::nullopt;
    return decodeDeliveryStatus(f->payload);
}

inline QByteArray legacyFrame(Legacy::Command cmd, qint32 wdt, const QByteArray &target, const QByteArray &source,
                       const QByteArray &msg)
{
    QByteArray out(Legacy::FrameSize, '\0');
    Legacy::encode(out.data(), cmd, wdt, target, source, msg);
    return out;
}

// Sends an old program's receive registration and waits until the broker has taken it (its log
// says so): the old protocol has no answer to wait for.
inline bool legacyReceiver(Conn &conn, BrokerProcess &broker, const QByteArray &name)
{
    conn.write(legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", name, "null"));
    const QByteArray line = "registered legacy receive connection '" + name + "'";
    QElapsedTimer clock;
    clock.start();
    while (!broker.log().contains(line) && clock.elapsed() < WaitMs)
        QTest::qWait(10);
    return broker.log().contains(line);
}

inline QByteArray header(FrameType type, quint32 bodyLength, quint8 sourceLength, quint8 targetLength, quint32 id = 9)
{
    QByteArray h(Wire::HeaderSize, '\0');
    writeHeader(h.data(), type, bodyLength, id, sourceLength, targetLength, 0);
    return h;
}

} // namespace ConformanceTest

namespace ConformanceTest {

// The broker most rules are checked against: max_frame_size = max_queue_bytes = FrameLimit, a
// 1.5 s register timeout, a 300 ms incomplete-frame timeout and watchdog intervals from 50 ms.
inline const QByteArray SharedConfig =
    QByteArrayLiteral("[limits]\nmax_frame_size = 8192\nmax_queue_bytes = 8192\nregister_timeout_ms = 1500\n"
                      "incomplete_frame_timeout_ms = 300\n"
                      "[watchdog]\nmin_interval_ms = 50\n"
                      // §5.4: the names held-delivery rules are checked with, expected back at any time.
                      // (and the §5.7 ones: r573-t, r574-t; an acknowledging connection keeps 3 unacknowledged)
                      "[hold]\nnames = r541-t, r542-t, r543-t, r544-t, r573-t, r574-t\nmax_count = 2\nttl_ms = 400\n"
                      "unacked_max_count = 3\n");

inline bool startBroker(BrokerProcess &broker, const QByteArray &config, const QStringList &arguments = {})
{
    BrokerProcess::Options options;
    options.configText = config;
    options.arguments = arguments;
    QString error;
    if (!broker.start(options, &error)) {
        qWarning("%s", qPrintable(error));
        return false;
    }
    return true;
}

} // namespace ConformanceTest
