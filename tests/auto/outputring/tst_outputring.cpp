// OutputRing: a service's recent lines, bounded by lines and by bytes, at their edges, with the
// lines that fell off counted; and what a reader gets back (the tail, or what came after a line).
#include "outputring.h"

#include <QTest>

using namespace Kennel;

class tst_OutputRing : public QObject
{
    Q_OBJECT
private slots:
    void linesBoundAtItsEdge();
    void bytesBoundAtItsEdge();
    void zeroLinesKeepsNothing();
    void tailAndAfter();
    void newBoundsApplyAtOnce();
};

void tst_OutputRing::linesBoundAtItsEdge()
{
    OutputRing ring(3, 1024);
    for (int i = 1; i <= 3; ++i)
        ring.append(i, false, QByteArray(QByteArray("line ") + QByteArray::number(i)));
    QCOMPARE(ring.lineCount(), 3);
    QCOMPARE(ring.dropped(), 0u);
    ring.append(4, true, "line 4");
    QCOMPARE(ring.lineCount(), 3);
    QCOMPARE(ring.dropped(), 1u);
    QCOMPARE(ring.lastSeq(), 4u);
    const QList<OutputRing::Line> lines = ring.tail(0);
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines.first().text, QByteArray("line 2"));
    QCOMPARE(lines.first().seq, 2u);
    QCOMPARE(lines.last().text, QByteArray("line 4"));
    QVERIFY(lines.last().isStderr);
    QCOMPARE(lines.last().timeMs, 4);
}

void tst_OutputRing::bytesBoundAtItsEdge()
{
    OutputRing ring(100, 10);
    ring.append(0, false, "12345");
    ring.append(0, false, "67890"); // exactly 10 bytes: both kept
    QCOMPARE(ring.lineCount(), 2);
    QCOMPARE(ring.byteCount(), 10);
    QCOMPARE(ring.dropped(), 0u);
    ring.append(0, false, "x"); // 11: the oldest goes
    QCOMPARE(ring.lineCount(), 2);
    QCOMPARE(ring.byteCount(), 6);
    QCOMPARE(ring.dropped(), 1u);
    // A line larger than the whole bound is not kept either, and counted.
    ring.append(0, false, QByteArray(11, 'y'));
    QCOMPARE(ring.lineCount(), 0);
    QCOMPARE(ring.byteCount(), 0);
    QCOMPARE(ring.dropped(), 4u);
}

void tst_OutputRing::zeroLinesKeepsNothing()
{
    OutputRing ring(0, 4096);
    ring.append(0, false, "a");
    ring.append(0, false, "b");
    QCOMPARE(ring.lineCount(), 0);
    QCOMPARE(ring.dropped(), 2u);
    QCOMPARE(ring.lastSeq(), 2u);
}

void tst_OutputRing::tailAndAfter()
{
    OutputRing ring(10, 1000);
    for (int i = 1; i <= 10; ++i)
        ring.append(i, false, QByteArray(10, char('a' + i - 1)));
    QCOMPARE(ring.tail(3).size(), 3);
    QCOMPARE(ring.tail(3).first().seq, 8u);
    bool more = false;
    // 25 bytes of text: the newest two lines fit.
    QList<OutputRing::Line> lines = ring.tail(0, 0, 25, &more);
    QCOMPARE(lines.size(), 2);
    QCOMPARE(lines.first().seq, 9u);
    QVERIFY(more);
    lines = ring.tail(5, 0, 0, &more);
    QCOMPARE(lines.size(), 5);
    QVERIFY(!more);
    // After line 4, oldest first, within 30 bytes: 5, 6, 7; more follow.
    lines = ring.after(4, 30, &more);
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines.first().seq, 5u);
    QVERIFY(more);
    lines = ring.after(7, 1000, &more);
    QCOMPARE(lines.size(), 3);
    QVERIFY(!more);
    QVERIFY(ring.after(10, 1000).isEmpty());
    // A follower whose last line fell off gets the oldest kept one next.
    ring.append(11, false, "k");
    QCOMPARE(ring.after(0, 1000).first().seq, 2u);
}

void tst_OutputRing::newBoundsApplyAtOnce()
{
    OutputRing ring(10, 1000);
    for (int i = 0; i < 10; ++i)
        ring.append(i, false, "0123456789");
    ring.setBounds(4, 1000);
    QCOMPARE(ring.lineCount(), 4);
    QCOMPARE(ring.dropped(), 6u);
    ring.setBounds(4, 25);
    QCOMPARE(ring.lineCount(), 2);
    QCOMPARE(ring.dropped(), 8u);
    QCOMPARE(ring.maxLines(), 4);
    QCOMPARE(ring.maxBytes(), 25);
}

QTEST_GUILESS_MAIN(tst_OutputRing)
#include "tst_outputring.moc"
