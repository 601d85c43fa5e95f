// OutputQueue (broker/net/outputqueue.h): a connection's output as owned bytes and references to
// shared frames, in order. The bytes that leave must be exactly the bytes queued, in order, at
// every cut a partial write can make; a shared frame is released when (and only when) its last
// byte has left every queue that holds it; size() counts shared bytes once per queue.
#include "legacyframe.h"
#include "outputqueue.h"
#include "sharedframe.h"

#include <QtTest>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Kennel;

namespace {

SharedFrame *frameOf(const QByteArray &bytes)
{
    SharedFrame *f = SharedFrame::create(size_t(bytes.size()));
    std::memcpy(f->data(), bytes.constData(), size_t(bytes.size()));
    return f;
}

QByteArray pattern(int size, char seed)
{
    QByteArray b(size, Qt::Uninitialized);
    for (int i = 0; i < size; ++i)
        b[i] = char(seed + i % 23);
    return b;
}

QByteArray contents(const OutputQueue &q)
{
    QByteArray b(qsizetype(q.size()), Qt::Uninitialized);
    q.copyOut(0, q.size(), b.data());
    return b;
}

// Owned "A", frame 1, owned "B", frame 2 twice, frame 1, owned "C": every kind of neighbour.
struct Interleaved
{
    SharedFrame *f1 = frameOf(pattern(5000, 'a'));
    SharedFrame *f2 = frameOf(pattern(700, 'k'));
    QByteArray expected;

    void fill(OutputQueue &q)
    {
        auto owned = [&](const QByteArray &b) {
            char *dst = q.reserve(size_t(b.size()));
            std::memcpy(dst, b.constData(), size_t(b.size()));
            q.commit(size_t(b.size()));
            expected += b;
        };
        auto shared = [&](SharedFrame *f) {
            QVERIFY(q.appendShared(*f));
            expected += QByteArray(f->data(), qsizetype(f->size()));
        };
        owned(pattern(100, 'A'));
        shared(f1);
        owned(pattern(33, 'B'));
        shared(f2);
        shared(f2);
        shared(f1);
        owned(pattern(2000, 'C'));
    }
    ~Interleaved()
    {
        f1->deref();
        f2->deref();
    }
};

} // namespace

class tst_OutputQueue : public QObject
{
    Q_OBJECT

private slots:
    void ownedOnlyIsTheByteQueue();
    void interleavedRunsInOrder();
    void everyCutOfAPartialWrite();
    void partialWritesThroughASocket();
    void sizeCountsSharedOncePerQueue();
    void clearReleasesReferences();
    void reholdWalkOfLegacyFrames();
    void framePoolReusesAndIsBounded();
};

void tst_OutputQueue::ownedOnlyIsTheByteQueue()
{
    OutputQueue q;
    QVERIFY(q.isEmpty());
    QVERIFY(q.append("hello ", 6));
    QVERIFY(q.append("world", 5));
    QCOMPARE(q.size(), size_t(11));
    QCOMPARE(q.sharedFrames(), size_t(0));
    q.consume(6);
    QCOMPARE(contents(q), QByteArray("world"));
    q.consume(5);
    QVERIFY(q.isEmpty());
}

void tst_OutputQueue::interleavedRunsInOrder()
{
    Interleaved data;
    OutputQueue q;
    data.fill(q);
    QCOMPARE(q.size(), size_t(data.expected.size()));
    QCOMPARE(q.sharedFrames(), size_t(4));
    QCOMPARE(data.f1->references(), 3u); // ours and two runs
    QCOMPARE(data.f2->references(), 3u);
    QCOMPARE(contents(q), data.expected);
    // Owned bytes queued after the shared ones stay behind them.
    QVERIFY(q.append("tail", 4));
    QCOMPARE(contents(q), data.expected + "tail");
}

void tst_OutputQueue::everyCutOfAPartialWrite()
{
    // A write may stop at any byte: inside owned bytes, inside a frame, at each boundary. After
    // any cut, what is left is the rest, and frames wholly written are released.
    Interleaved data;
    {
        OutputQueue probe;
        data.fill(probe);
    }
    const QByteArray all = data.expected;
    const size_t total = size_t(all.size());
    const size_t f1At = 100, f1End = f1At + 5000; // the first run of frame 1
    for (size_t cut = 0; cut <= total; cut += (cut < 200 || cut % 97 == 0) ? 1 : 89) {
        data.expected.clear();
        OutputQueue q;
        data.fill(q);
        q.consume(cut);
        QCOMPARE(q.size(), total - cut);
        QCOMPARE(contents(q), all.mid(qsizetype(cut)));
        // Frame 1's first run is released exactly when its last byte is consumed.
        if (cut >= f1End)
            QVERIFY(data.f1->references() <= 2u);
        else if (cut >= f1At)
            QCOMPARE(data.f1->references(), 3u);
        // The rest, in odd-sized steps.
        QByteArray rest;
        // Bounded: a queue whose size() never reaches 0 must fail here, not hang.
        for (int steps = 0; !q.isEmpty() && steps < 100000; ++steps) {
            const size_t step = qMin<size_t>(q.size(), 1 + (q.size() * 7) % 1301);
            QByteArray piece(qsizetype(step), Qt::Uninitialized);
            q.copyOut(0, step, piece.data());
            rest += piece;
            q.consume(step);
        }
        QVERIFY(q.isEmpty());
        QCOMPARE(rest, all.mid(qsizetype(cut)));
        QCOMPARE(data.f1->references(), 1u);
        QCOMPARE(data.f2->references(), 1u);
    }
}

void tst_OutputQueue::partialWritesThroughASocket()
{
    // A socket that takes a little at a time: writeTo() leaves the rest queued and sends it in
    // order on the next call; large shared frames (16 KiB and 64 KiB) cross several writes.
    int sv[2];
    QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    const int small = 4096;
    ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::fcntl(sv[0], F_SETFL, O_NONBLOCK);

    SharedFrame *big = frameOf(pattern(64 * 1024, 'x'));
    SharedFrame *mid = frameOf(pattern(16 * 1024, 'm'));
    QByteArray expected;
    OutputQueue q;
    for (int i = 0; i < 40; ++i) {
        const QByteArray own = pattern(1 + i * 37 % 600, char('0' + i % 10));
        QVERIFY(q.append(own.constData(), size_t(own.size())));
        expected += own;
        SharedFrame *f = i % 3 ? mid : big;
        QVERIFY(q.appendShared(*f));
        expected += QByteArray(f->data(), qsizetype(f->size()));
    }
    QCOMPARE(q.size(), size_t(expected.size()));

    QByteArray received;
    int partial = 0;
    QElapsedTimer timer;
    timer.start();
    while ((!q.isEmpty() || received.size() < expected.size()) && timer.elapsed() < 10000) {
        if (!q.isEmpty()) {
            const size_t before = q.size();
            const ssize_t n = q.writeTo(sv[0]);
            if (n < 0)
                QVERIFY2(errno == EAGAIN || errno == EWOULDBLOCK, strerror(errno));
            else {
                QCOMPARE(q.size(), before - size_t(n));
                partial += size_t(n) < before ? 1 : 0;
            }
        }
        char buffer[3000];
        const ssize_t r = ::recv(sv[1], buffer, sizeof buffer, MSG_DONTWAIT);
        if (r > 0)
            received.append(buffer, r);
    }
    QVERIFY2(partial > 10, qPrintable(QString::number(partial))); // the cut really happened, often
    QCOMPARE(received.size(), expected.size());
    QVERIFY(received == expected);
    QCOMPARE(big->references(), 1u);
    QCOMPARE(mid->references(), 1u);
    big->deref();
    mid->deref();
    ::close(sv[0]);
    ::close(sv[1]);
}

void tst_OutputQueue::sizeCountsSharedOncePerQueue()
{
    // The output bound, the memory budget and the monitors count what each queue holds, as they
    // counted copies: one frame in two queues is its size in each.
    SharedFrame *f = frameOf(pattern(16384, 's'));
    OutputQueue a, b;
    QVERIFY(a.append("12345", 5));
    QVERIFY(a.appendShared(*f));
    QVERIFY(b.appendShared(*f));
    QCOMPARE(a.size(), size_t(16384 + 5));
    QCOMPARE(b.size(), size_t(16384));
    QCOMPARE(f->references(), 3u);
    b.consume(16384);
    QVERIFY(b.isEmpty());
    QCOMPARE(f->references(), 2u);
    a.consume(5 + 100);
    QCOMPARE(a.size(), size_t(16384 - 100));
    QCOMPARE(f->references(), 2u); // a part written is still held
    f->deref();
    QCOMPARE(f->references(), 1u); // the queue's reference keeps it alive
    QCOMPARE(contents(a), pattern(16384, 's').mid(100));
    a.consume(a.size());
}

void tst_OutputQueue::clearReleasesReferences()
{
    SharedFrame *f = frameOf(pattern(8000, 'c'));
    {
        OutputQueue q;
        QVERIFY(q.appendShared(*f));
        QVERIFY(q.append("x", 1));
        QVERIFY(q.appendShared(*f));
        QCOMPARE(f->references(), 3u);
        q.consume(10);
        q.clear();
        QVERIFY(q.isEmpty());
        QCOMPARE(f->references(), 1u);
        QVERIFY(q.appendShared(*f)); // a queue still in use after clear()
        QCOMPARE(q.size(), size_t(8000));
    } // the destructor releases too
    QCOMPARE(f->references(), 1u);
    f->deref();
}

void tst_OutputQueue::reholdWalkOfLegacyFrames()
{
    // Session::leave() re-holds an old receiver's unsent whole 552-byte frames: it skips the
    // rest of the frame cut mid-way and copies whole frames, walking the queue in order
    // whatever the runs are made of.
    QByteArray frames;
    OutputQueue q;
    SharedFrame *f = frameOf(pattern(Legacy::FrameSize, 'L'));
    for (int i = 0; i < 6; ++i) {
        if (i % 2) {
            QVERIFY(q.appendShared(*f));
            frames += QByteArray(f->data(), Legacy::FrameSize);
        } else {
            const QByteArray own = pattern(Legacy::FrameSize, char('0' + i));
            QVERIFY(q.append(own.constData(), size_t(own.size())));
            frames += own;
        }
    }
    const size_t written = Legacy::FrameSize + 100; // one frame and part of the next
    q.consume(written);
    const size_t into = written % Legacy::FrameSize;
    const size_t skip = into ? Legacy::FrameSize - into : 0;
    const size_t whole = (q.size() - skip) / Legacy::FrameSize * Legacy::FrameSize;
    QCOMPARE(whole, size_t(4 * Legacy::FrameSize));
    QByteArray unsent(qsizetype(whole), Qt::Uninitialized);
    q.copyOut(skip, whole, unsent.data());
    QCOMPARE(unsent, frames.mid(2 * Legacy::FrameSize));
    q.clear();
    QCOMPARE(f->references(), 1u);
    f->deref();
}

void tst_OutputQueue::framePoolReusesAndIsBounded()
{
    SharedFrame::releasePool();
    QCOMPARE(SharedFrame::pooledBytes(), size_t(0));
    SharedFrame *f = SharedFrame::create(10000);
    QVERIFY(f);
    QCOMPARE(f->size(), size_t(10000));
    f->deref();
    QCOMPARE(SharedFrame::pooledBytes(), size_t(16384)); // its power-of-two capacity
    SharedFrame *again = SharedFrame::create(9000);
    QCOMPARE(again, f); // the same memory, taken back from the pool
    QCOMPARE(again->references(), 1u);
    QCOMPARE(again->size(), size_t(9000));
    QCOMPARE(SharedFrame::pooledBytes(), size_t(0));
    again->deref();
    // Past 1 MiB a frame goes back to the system; the pool's bytes are bounded.
    SharedFrame *huge = SharedFrame::create(2 * 1024 * 1024);
    QVERIFY(huge);
    huge->deref();
    QCOMPARE(SharedFrame::pooledBytes(), size_t(16384));
    std::vector<SharedFrame *> many;
    for (int i = 0; i < 20; ++i)
        many.push_back(SharedFrame::create(1024 * 1024));
    for (SharedFrame *m : many)
        m->deref();
    QVERIFY(SharedFrame::pooledBytes() <= size_t(8 * 1024 * 1024));
    SharedFrame::releasePool();
    QCOMPARE(SharedFrame::pooledBytes(), size_t(0));
}

QTEST_APPLESS_MAIN(tst_OutputQueue)
#include "tst_outputqueue.moc"
