// A peer that asks for answers (Send with WantDeliveryStatus, Ping) and never reads them: the
// broker must not read it forever, queueing answer after answer (docs/SECURITY.md: "a connection
// that does not read its own statuses stops being read"). Through the real kennel-broker process
// with a small max_queue_bytes, a raw socket that writes as fast as the broker takes its frames
// and never reads, and a canary pair beside it. The broker must stop taking its bytes (the
// writes stall) with its memory bounded, keep serving the canary, and, once the peer reads,
// answer every frame exactly once and in order (nothing was dropped to keep the bound).
#include "brokerprocess.h"
#include "canary.h"
#include "framecodec.h"
#include "sanitizerbuild.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSocketNotifier>
#include <QTest>

#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;

namespace {

constexpr qint64 KiB = 1024;
constexpr qint64 MiB = 1024 * KiB;
// Small, so that the bound bites after a few thousand answers.
constexpr qint64 MaxQueueBytes = 64 * KiB;
// What the peer writes at most. Without the bound the broker would read all of it and queue more
// answer bytes than that (an answer is a little larger than the frame asking for it). With it,
// the writes stall after what the bound and the kernel's socket buffers hold: under 1 MiB on a
// Unix socket; on loopback TCP the broker's receive buffer may autotune up to tcp_rmem's maximum
// (32 MiB here), hence the margin.
constexpr qint64 WriteCap = 96 * MiB;
// The writes count as stalled when nothing went for this long while the socket was watched.
constexpr int StallMs = 2000;
// How far the broker's resident memory may grow while the peer is stuck: the bound, one read
// batch of answers (256 KiB of frames), the allocator's slack and the canary.
constexpr qint64 RssSlackKiB = 16 * 1024;

// A peer that never reads unless told to: a plain descriptor, because a QTcpSocket would read
// into its own unbounded buffer from the event loop. Its send buffer is made small so that the
// kernel holds little of what it writes.
class Greedy
{
public:
    ~Greedy()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    bool connectTo(const BrokerProcess &broker, bool unixSocket)
    {
        m_fd = ::socket(unixSocket ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (m_fd < 0)
            return false;
        const int small = 4096;
        ::setsockopt(m_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        int r;
        if (unixSocket) {
            sockaddr_un address{};
            address.sun_family = AF_UNIX;
            const QByteArray path = QFile::encodeName(broker.unixPath());
            if (size_t(path.size()) >= sizeof address.sun_path)
                return false;
            std::memcpy(address.sun_path, path.constData(), size_t(path.size()));
            r = ::connect(m_fd, reinterpret_cast<const sockaddr *>(&address), sizeof address);
        } else {
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(broker.tcpPort());
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            r = ::connect(m_fd, reinterpret_cast<const sockaddr *>(&address), sizeof address);
        }
        return r == 0;
    }

    // Hello, then reads until Welcome: the only read before the test says so.
    bool registerAs(const QByteArray &name)
    {
        Frame hello;
        hello.type = FrameType::Hello;
        hello.source = name;
        hello.payload = encodeHello(HelloPayload{});
        const QByteArray bytes = encodeFrame(hello);
        if (::send(m_fd, bytes.constData(), size_t(bytes.size()), MSG_NOSIGNAL) != bytes.size())
            return false;
        return QTest::qWaitFor([this] {
            readAvailable();
            return !m_frames.isEmpty();
        }, 5000) && m_frames.takeFirst().type == FrameType::Welcome;
    }

    // Writes what the socket takes now without blocking; returns the bytes taken.
    qint64 writeSome(const char *data, qint64 size)
    {
        const ssize_t n = ::send(m_fd, data, size_t(size), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            m_writeError = errno;
        return n > 0 ? qint64(n) : 0;
    }

    // Reads and decodes what there is now, up to 256 KiB a call: the canary shares this event
    // loop, and hundreds of thousands of answers decoded in one go would hold it up.
    bool readAvailable()
    {
        char buffer[65536];
        for (int round = 0; round < 4; ++round) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n == 0)
                m_closed = true;
            if (n <= 0)
                break;
            m_decoder.append(QByteArrayView(buffer, n));
            while (auto frame = m_decoder.next())
                m_frames.append(std::move(*frame));
        }
        return m_decoder.error() == DecodeError::None;
    }

    int fd() const { return m_fd; }
    int writeError() const { return m_writeError; }
    bool closed() const { return m_closed; }
    QList<Frame> &frames() { return m_frames; }

private:
    int m_fd = -1;
    int m_writeError = 0;
    bool m_closed = false;
    FrameDecoder m_decoder;
    QList<Frame> m_frames;
};

// `count` frames asking for an answer, numbered from `firstId`.
QByteArray askingFrames(FrameType type, quint32 firstId, int count)
{
    QByteArray out;
    for (int i = 0; i < count; ++i) {
        if (type == FrameType::Send) // to a name nobody holds: answered no_such_client
            appendFrame(out, FrameType::Send, firstId + quint32(i), WantDeliveryStatus, {}, "x", {});
        else
            appendFrame(out, FrameType::Ping, firstId + quint32(i), NoFlags, {}, {}, {});
    }
    return out;
}

} // namespace

class tst_UnreadAnswers : public QObject
{
    Q_OBJECT

private slots:
    void notReadWhileItsAnswersAreUnread_data();
    void notReadWhileItsAnswersAreUnread();
};

void tst_UnreadAnswers::notReadWhileItsAnswersAreUnread_data()
{
    QTest::addColumn<bool>("unixSocket");
    QTest::addColumn<FrameType>("asking");
    QTest::addColumn<FrameType>("answer");
    QTest::newRow("statuses, unix") << true << FrameType::Send << FrameType::DeliveryStatus;
    QTest::newRow("statuses, tcp") << false << FrameType::Send << FrameType::DeliveryStatus;
    QTest::newRow("pongs, unix") << true << FrameType::Ping << FrameType::Pong;
}

void tst_UnreadAnswers::notReadWhileItsAnswersAreUnread()
{
    QFETCH(bool, unixSocket);
    QFETCH(FrameType, asking);
    QFETCH(FrameType, answer);

    BrokerProcess broker;
    BrokerProcess::Options options;
    options.arguments = {QStringLiteral("--max-frame-size"), QString::number(16 * KiB),
                         QStringLiteral("--max-queue-bytes"), QString::number(MaxQueueBytes)};
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    Canary canary;
    Canary::Options canaryOptions;
    canaryOptions.brokerAddress = broker.tcpAddress();
    if (underSanitizer()) // the broker and this test both run ~3x slower
        canaryOptions.latencyBound = std::chrono::milliseconds(3000);
    QVERIFY2(canary.start(canaryOptions), qPrintable(canary.verdict()));

    Greedy peer;
    QVERIFY(peer.connectTo(broker, unixSocket));
    QVERIFY(peer.registerAs("greedy"));
    const qint64 rssBefore = broker.rssKiB();

    // Writes from the event loop whenever the socket takes more, whole batches of frames, and
    // never reads.
    constexpr int Batch = 4096;
    const qint64 frameSize = askingFrames(asking, 1, 1).size();
    QByteArray pending;
    qint64 pendingOffset = 0;
    qint64 written = 0;
    quint32 nextId = 1;
    bool topUp = true; // false once the peer reads: only the batch begun is finished
    QElapsedTimer sinceProgress;
    sinceProgress.start();
    QSocketNotifier writable(peer.fd(), QSocketNotifier::Write);
    const auto writeMore = [&] {
        for (;;) {
            if (pendingOffset == pending.size()) {
                if (!topUp || written >= WriteCap) {
                    writable.setEnabled(false);
                    return;
                }
                pending = askingFrames(asking, nextId, Batch);
                pendingOffset = 0;
                nextId += Batch;
            }
            const qint64 n = peer.writeSome(pending.constData() + pendingOffset, pending.size() - pendingOffset);
            if (n == 0)
                return;
            pendingOffset += n;
            written += n;
            sinceProgress.restart();
        }
    };
    connect(&writable, &QSocketNotifier::activated, this, writeMore);
    writeMore();

    const bool settled = QTest::qWaitFor(
        [&] { return written >= WriteCap || sinceProgress.elapsed() >= StallMs || peer.writeError(); }, 60000);
    QVERIFY2(settled, qPrintable(QStringLiteral("after 60 s the writes had neither stalled nor reached %1 MiB: %2 bytes taken, "
                                                "broker VmRSS %3 -> %4 KiB")
                                     .arg(WriteCap / MiB).arg(written).arg(rssBefore).arg(broker.rssKiB())));
    QCOMPARE(peer.writeError(), 0);
    // Stalled, and stays so while the canary gets 25 more messages through: the broker is not
    // slow, it has stopped reading this peer.
    const qint64 writtenAtStall = written;
    const quint64 canaryBefore = canary.received();
    QTRY_VERIFY_WITH_TIMEOUT(canary.received() >= canaryBefore + 25, 10000);
    const qint64 rssStuck = broker.rssKiB();
    qInfo("%s: %lld bytes (%lld frames) taken before the writes stalled; broker VmRSS %lld -> %lld KiB",
          QTest::currentDataTag(), writtenAtStall, writtenAtStall / frameSize, rssBefore, rssStuck);
    QVERIFY2(writtenAtStall < WriteCap,
             qPrintable(QStringLiteral("the broker read all %1 MiB of a peer that never read its answers (VmRSS %2 -> %3 KiB)")
                            .arg(WriteCap / MiB).arg(rssBefore).arg(rssStuck)));
    QCOMPARE(written, writtenAtStall);
    QVERIFY2(writtenAtStall > MaxQueueBytes, "the writes stalled before the bound could bite");
    if (!underSanitizer()) // the sanitizer's allocator keeps freed memory in quarantine
        QVERIFY2(rssStuck - rssBefore < RssSlackKiB,
                 qPrintable(QStringLiteral("VmRSS grew from %1 to %2 KiB").arg(rssBefore).arg(rssStuck)));
    QVERIFY(broker.isRunning());
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));

    // The peer reads at last: the broker reads it again and answers every frame it took, once
    // each and in order; the writes finish the batch begun.
    topUp = false;
    writable.setEnabled(true);
    QSocketNotifier readable(peer.fd(), QSocketNotifier::Read);
    connect(&readable, &QSocketNotifier::activated, this, [&] { peer.readAvailable(); });
    QVERIFY(QTest::qWaitFor([&] {
        peer.readAvailable();
        return (pendingOffset == pending.size() && peer.frames().size() >= written / frameSize) || peer.closed();
    }, 60000));
    QVERIFY2(!peer.closed(), "the broker closed the peer");
    QCOMPARE(written % frameSize, 0);
    const qint64 expected = written / frameSize;
    QCOMPARE(qint64(peer.frames().size()), expected);
    for (qint64 i = 0; i < expected; ++i) {
        const Frame &frame = peer.frames().at(i);
        QCOMPARE(frame.type, answer);
        QCOMPARE(frame.messageId, quint32(i + 1));
        if (answer == FrameType::DeliveryStatus)
            QCOMPARE(decodeDeliveryStatus(frame.payload), std::optional(DeliveryStatus::NoSuchClient));
    }
    qInfo("%s: %lld answers read, all in order", QTest::currentDataTag(), expected);

    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
    const QString verdict = broker.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));
}

QTEST_GUILESS_MAIN(tst_UnreadAnswers)
#include "tst_unreadanswers.moc"
