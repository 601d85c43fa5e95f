// The old C server's 552-byte frame (docs/LEGACY-PROTOCOL.md, docs/PROTOCOL.md §7).
#include "legacyframe.h"

#include <QTest>

#include <cstring>

using namespace Kennel;
using namespace Kennel::Legacy;

Q_DECLARE_METATYPE(Kennel::Legacy::Sniff)
Q_DECLARE_METATYPE(Kennel::Legacy::DecodeError)

namespace Kennel::Legacy {
char *toString(DecodeError error)
{
    return qstrdup(decodeErrorName(error));
}
} // namespace Kennel::Legacy

namespace {

QByteArray encoded(Command command, qint32 wdt, QByteArrayView target, QByteArrayView source, QByteArrayView msg)
{
    QByteArray frame(FrameSize, Qt::Uninitialized);
    encode(frame.data(), command, wdt, target, source, msg);
    return frame;
}

// A 4-byte little-endian int, written byte by byte.
void putLe32(QByteArray &frame, int offset, quint32 value)
{
    frame[offset] = char(value & 0xFF);
    frame[offset + 1] = char((value >> 8) & 0xFF);
    frame[offset + 2] = char((value >> 16) & 0xFF);
    frame[offset + 3] = char((value >> 24) & 0xFF);
}

// What an old client's write() may put on the wire: the defined bytes of LEGACY-PROTOCOL.md's table
// and garbage everywhere the struct leaves bytes undefined.
QByteArray handBuilt(qint32 cmd, qint32 wdt, const char *target, const char *source, const char *msg)
{
    QByteArray frame(552, '\xA5');
    std::memcpy(frame.data() + 0, "head", 5);        // head[10] at 0: "head" and its NUL
    putLe32(frame, 12, quint32(cmd));                  // cmd at 12, after 2 padding bytes
    putLe32(frame, 16, quint32(wdt));                  // wdt at 16
    std::memcpy(frame.data() + 20, target, strlen(target) + 1); // target_name[10] at 20
    std::memcpy(frame.data() + 30, source, strlen(source) + 1); // source_name[10] at 30
    std::memcpy(frame.data() + 40, msg, strlen(msg) + 1);       // msg[512] at 40
    return frame;
}

QByteArray binaryMsg()
{
    QByteArray msg(512, Qt::Uninitialized);
    for (int i = 0; i < msg.size(); ++i)
        msg[i] = char((i * 73 + 5) & 0xFF);
    msg[3] = '\0'; // a NUL early on, as routebench's binary counters produce
    return msg;
}

} // namespace

class tst_LegacyFrame : public QObject
{
    Q_OBJECT

private slots:
    void constants();
    void handBuiltLayout();
    void encodeLayout();
    void roundTrip_data();
    void roundTrip();
    void growingPrefixes_data() { roundTrip_data(); }
    void growingPrefixes();
    void onlyTheFirstFrameIsRead();
    void badHead_data();
    void badHead();
    void paddingIsIgnored();
    void unterminatedName_data();
    void unterminatedName();
    void unknownCommand_data();
    void unknownCommand();
    void wdtIgnoredOutsideWatchdog_data();
    void wdtIgnoredOutsideWatchdog();
    void textStopsAtNul();
    void textWithoutNul();
    void binaryMsgFieldForwardedVerbatim();
    void encodeTruncatesAndZeroFills();
    void sniff_data();
    void sniff();
    void decodeErrorNames();
};

void tst_LegacyFrame::constants()
{
    QCOMPARE(FrameSize, 552);
    QCOMPARE(MsgOffset + MsgFieldSize, FrameSize);
    QCOMPARE(MaxNameLength, 9);
    QCOMPARE(MaxTextLength, 511);
}

void tst_LegacyFrame::handBuiltLayout()
{
    const QByteArray frame = handBuilt(2, 0, "bob", "alice", "hello bob");
    const DecodeResult r = decode(frame);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.frame.command, Command::Forward);
    QCOMPARE(r.frame.wdt, 0);
    QCOMPARE(r.frame.target, QByteArrayView("bob"));
    QCOMPARE(r.frame.source, QByteArrayView("alice"));
    QCOMPARE(r.frame.text(), QByteArrayView("hello bob"));
    QCOMPARE(r.frame.msgField.size(), 512);
    QCOMPARE(r.frame.msgField.data(), frame.constData() + 40);
    QCOMPARE(r.frame.target.data(), frame.constData() + 20);
    QCOMPARE(r.frame.source.data(), frame.constData() + 30);

    const QByteArray watchdog = handBuilt(1, 1, "null", "pump", "null");
    const DecodeResult w = decode(watchdog);
    QCOMPARE(w.error, DecodeError::None);
    QCOMPARE(w.frame.command, Command::Watchdog);
    QCOMPARE(w.frame.wdt, qint32(WatchdogOp::Feed));
    QCOMPARE(w.frame.source, QByteArrayView("pump"));
    QCOMPARE(w.frame.target, QByteArrayView("null"));
}

void tst_LegacyFrame::encodeLayout()
{
    // encode() writes the same defined bytes as an old client, and zeroes every undefined one.
    QByteArray expected(552, '\0');
    std::memcpy(expected.data(), "head", 5);
    putLe32(expected, 12, 1);
    putLe32(expected, 16, 0);
    std::memcpy(expected.data() + 20, "null", 4);
    std::memcpy(expected.data() + 30, "sensor", 6);
    std::memcpy(expected.data() + 40, "null", 4);
    QCOMPARE(encoded(Command::Watchdog, 0, "null", "sensor", "null"), expected);

    QByteArray forward(552, '\0');
    std::memcpy(forward.data(), "head", 5);
    putLe32(forward, 12, 2);
    std::memcpy(forward.data() + 20, "b", 1);
    std::memcpy(forward.data() + 30, "a", 1);
    std::memcpy(forward.data() + 40, "text", 4);
    QCOMPARE(encoded(Command::Forward, 0, "b", "a", "text"), forward);
    // Little-endian whatever the host: cmd 2 is 02 00 00 00.
    QCOMPARE(forward.mid(12, 4), QByteArray::fromHex("02000000"));
}

void tst_LegacyFrame::roundTrip_data()
{
    QTest::addColumn<int>("command");
    QTest::addColumn<int>("wdt");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("source");
    QTest::addColumn<QByteArray>("msg");
    QTest::newRow("register receiver") << 0 << 0 << QByteArrayLiteral("null") << QByteArrayLiteral("logger")
                                       << QByteArrayLiteral("null");
    QTest::newRow("watchdog register") << 1 << 0 << QByteArrayLiteral("null") << QByteArrayLiteral("pump")
                                       << QByteArrayLiteral("null");
    QTest::newRow("watchdog feed") << 1 << 1 << QByteArrayLiteral("null") << QByteArrayLiteral("pump")
                                   << QByteArrayLiteral("null");
    QTest::newRow("forward") << 2 << 0 << QByteArrayLiteral("logger") << QByteArrayLiteral("pump")
                             << QByteArrayLiteral("pressure=3.2bar");
    QTest::newRow("9-char names, 511-char text") << 2 << 0 << QByteArrayLiteral("123456789")
                                                 << QByteArrayLiteral("abcdefghi") << QByteArray(511, 'm');
    QTest::newRow("empty names and text") << 2 << 0 << QByteArray() << QByteArray() << QByteArray();
}

void tst_LegacyFrame::roundTrip()
{
    QFETCH(int, command);
    QFETCH(int, wdt);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, source);
    QFETCH(QByteArray, msg);
    const QByteArray frame = encoded(Command(command), wdt, target, source, msg);
    QCOMPARE(frame.size(), FrameSize);
    const DecodeResult r = decode(frame);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(int(r.frame.command), command);
    QCOMPARE(r.frame.wdt, wdt);
    QCOMPARE(r.frame.target.toByteArray(), target);
    QCOMPARE(r.frame.source.toByteArray(), source);
    QCOMPARE(r.frame.text().toByteArray(), msg);
    QCOMPARE(r.frame.msgField.size(), MsgFieldSize);
}

void tst_LegacyFrame::growingPrefixes()
{
    QFETCH(int, command);
    QFETCH(int, wdt);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, source);
    QFETCH(QByteArray, msg);
    const QByteArray frame = encoded(Command(command), wdt, target, source, msg);
    // A reader that accumulates: every split point yields NeedMore until the 552nd byte.
    for (qsizetype size = 0; size < FrameSize; ++size)
        QCOMPARE(decode(QByteArrayView(frame).first(size)).error, DecodeError::NeedMore);
    const DecodeResult r = decode(frame);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.frame.target.toByteArray(), target);
    QCOMPARE(r.frame.text().toByteArray(), msg);
}

void tst_LegacyFrame::onlyTheFirstFrameIsRead()
{
    const QByteArray first = encoded(Command::Forward, 0, "b", "a", "one");
    const QByteArray second = encoded(Command::Forward, 0, "c", "a", "two");
    const QByteArray stream = first + second;
    const DecodeResult r = decode(stream);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.frame.text(), QByteArrayView("one"));
    QCOMPARE(r.frame.target, QByteArrayView("b"));
    const DecodeResult r2 = decode(QByteArrayView(stream).sliced(FrameSize));
    QCOMPARE(r2.frame.text(), QByteArrayView("two"));
    // Garbage after the first frame is the next frame's business.
    const QByteArray followed = first + QByteArrayLiteral("garbage");
    QCOMPARE(decode(followed).error, DecodeError::None);
}

void tst_LegacyFrame::badHead_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::newRow("capital H") << QByteArray("Head\0", 5);
    QTest::newRow("no NUL") << QByteArrayLiteral("heads");
    QTest::newRow("short word") << QByteArray("hea\0\0", 5);
    QTest::newRow("all zero") << QByteArray(5, '\0');
    QTest::newRow("native magic") << QByteArray::fromHex("4b4e011000");
    QTest::newRow("space for NUL") << QByteArrayLiteral("head ");
}

void tst_LegacyFrame::badHead()
{
    QFETCH(QByteArray, head);
    QByteArray frame = encoded(Command::Forward, 0, "b", "a", "x");
    frame.replace(0, head.size(), head);
    QCOMPARE(decode(frame).error, DecodeError::BadHead);
    // Known from the first differing byte on: no need to wait for 552.
    for (qsizetype size = 1; size <= head.size(); ++size) {
        const DecodeError early = decode(QByteArrayView(frame).first(size)).error;
        QVERIFY(early == DecodeError::BadHead || early == DecodeError::NeedMore);
    }
    QCOMPARE(decode(QByteArrayView(frame).first(5)).error, DecodeError::BadHead);
}

void tst_LegacyFrame::paddingIsIgnored()
{
    // Bytes 5..11 are the rest of head[10] and the struct padding: whatever the sender's memory held.
    QByteArray frame = encoded(Command::Forward, 0, "b", "a", "x");
    for (int i = 5; i < 12; ++i)
        frame[i] = char(0xEE + i);
    QCOMPARE(decode(frame).error, DecodeError::None);
}

void tst_LegacyFrame::unterminatedName_data()
{
    QTest::addColumn<int>("offset");
    QTest::newRow("target_name") << int(TargetOffset);
    QTest::newRow("source_name") << int(SourceOffset);
}

void tst_LegacyFrame::unterminatedName()
{
    QFETCH(int, offset);
    QByteArray frame = encoded(Command::Forward, 0, "b", "a", "x");
    // Nine characters and the NUL in the tenth byte is the longest legal name ...
    std::memcpy(frame.data() + offset, "ninechars", 10);
    QCOMPARE(decode(frame).error, DecodeError::None);
    // ... ten characters leave no room for it.
    std::memcpy(frame.data() + offset, "tencharsXX", 10);
    QCOMPARE(decode(frame).error, DecodeError::UnterminatedName);
}

void tst_LegacyFrame::unknownCommand_data()
{
    QTest::addColumn<qint32>("cmd");
    QTest::addColumn<qint32>("wdt");
    QTest::newRow("cmd 3") << 3 << 0;
    QTest::newRow("cmd -1") << -1 << 0;
    QTest::newRow("cmd 0x100") << 0x100 << 0;
    QTest::newRow("cmd big-endian 2") << qint32(0x02000000) << 0;
    QTest::newRow("watchdog, wdt 2") << 1 << 2;
    QTest::newRow("watchdog, wdt -1") << 1 << -1;
    QTest::newRow("watchdog, wdt big-endian 1") << 1 << qint32(0x01000000);
}

void tst_LegacyFrame::unknownCommand()
{
    QFETCH(qint32, cmd);
    QFETCH(qint32, wdt);
    QByteArray frame = encoded(Command::Forward, 0, "b", "a", "x");
    putLe32(frame, CmdOffset, quint32(cmd));
    putLe32(frame, WdtOffset, quint32(wdt));
    QCOMPARE(decode(frame).error, DecodeError::UnknownCommand);
}

void tst_LegacyFrame::wdtIgnoredOutsideWatchdog_data()
{
    QTest::addColumn<int>("cmd");
    QTest::addColumn<qint32>("wdt");
    QTest::newRow("register receiver, wdt 7") << 0 << 7;
    QTest::newRow("forward, wdt 1") << 2 << 1;
    QTest::newRow("forward, wdt -1") << 2 << -1;
}

void tst_LegacyFrame::wdtIgnoredOutsideWatchdog()
{
    QFETCH(int, cmd);
    QFETCH(qint32, wdt);
    QByteArray frame = encoded(Command(cmd), 0, "b", "a", "x");
    putLe32(frame, WdtOffset, quint32(wdt));
    const DecodeResult r = decode(frame);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(int(r.frame.command), cmd);
    QCOMPARE(r.frame.wdt, wdt);
}

void tst_LegacyFrame::textStopsAtNul()
{
    QByteArray frame = handBuilt(2, 0, "b", "a", "visible");
    // After the NUL: heap garbage in the old programs, never part of the text.
    std::memcpy(frame.data() + MsgOffset + 8, "stale", 5);
    const DecodeResult r = decode(frame);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.frame.text(), QByteArrayView("visible"));
    QCOMPARE(r.frame.msgField.size(), 512);
    QCOMPARE(r.frame.msgField.toByteArray(), frame.mid(MsgOffset, 512));
    QVERIFY(r.frame.msgField.toByteArray().contains("stale"));

    QByteArray empty = handBuilt(2, 0, "b", "a", "");
    QVERIFY(decode(empty).frame.text().isEmpty());
}

void tst_LegacyFrame::textWithoutNul()
{
    QByteArray frame = encoded(Command::Forward, 0, "b", "a", {});
    std::memset(frame.data() + MsgOffset, 'z', MsgFieldSize);
    const DecodeResult r = decode(frame);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.frame.text().size(), MaxTextLength);
    QCOMPARE(r.frame.msgField.size(), MsgFieldSize);
    // A default-constructed view has no text.
    QVERIFY(FrameView().text().isEmpty());
}

void tst_LegacyFrame::binaryMsgFieldForwardedVerbatim()
{
    // legacy -> legacy: the 512 bytes travel untouched (PROTOCOL §7.5).
    const QByteArray msg = binaryMsg();
    const QByteArray frame = encoded(Command::Forward, 0, "rx", "tx", msg);
    const DecodeResult r = decode(frame);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.frame.msgField.toByteArray(), msg);
    QCOMPARE(r.frame.text().toByteArray(), msg.left(3));
    const QByteArray again = encoded(Command::Forward, 0, r.frame.target, r.frame.source, r.frame.msgField);
    QCOMPARE(again, frame);
}

void tst_LegacyFrame::encodeTruncatesAndZeroFills()
{
    QByteArray frame(FrameSize, '\xCC'); // stale memory must not leak into the frame
    encode(frame.data(), Command::Forward, 0, "target-too-long", "source-too-long", QByteArray(600, 'm'));
    QCOMPARE(QByteArrayView(frame).sliced(5, 7), QByteArrayView(QByteArray(7, '\0')));
    QCOMPARE(frame.mid(TargetOffset, NameFieldSize), QByteArray("target-to\0", 10));
    QCOMPARE(frame.mid(SourceOffset, NameFieldSize), QByteArray("source-to\0", 10));
    QCOMPARE(frame.mid(MsgOffset), QByteArray(512, 'm'));

    encode(frame.data(), Command::Forward, 0, "t", "s", "short");
    QCOMPARE(frame.mid(TargetOffset, NameFieldSize), QByteArray("t\0\0\0\0\0\0\0\0\0", 10));
    QCOMPARE(frame.mid(MsgOffset + 5), QByteArray(512 - 5, '\0'));
    QCOMPARE(frame.count('\xCC'), 0);
}

void tst_LegacyFrame::sniff_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<Sniff>("expected");
    QTest::newRow("empty") << QByteArray() << Sniff::NeedMore;
    QTest::newRow("h") << QByteArrayLiteral("h") << Sniff::NeedMore;
    QTest::newRow("hea") << QByteArrayLiteral("hea") << Sniff::NeedMore;
    QTest::newRow("head") << QByteArrayLiteral("head") << Sniff::NeedMore;
    QTest::newRow("head NUL") << QByteArray("head\0", 5) << Sniff::Legacy;
    QTest::newRow("whole frame") << encoded(Command::RegisterReceiver, 0, "null", "me", "null") << Sniff::Legacy;
    QTest::newRow("native K") << QByteArrayLiteral("K") << Sniff::NotLegacy;
    QTest::newRow("native header") << QByteArray::fromHex("4b4e0101") << Sniff::NotLegacy;
    QTest::newRow("NUL") << QByteArray(1, '\0') << Sniff::NotLegacy;
    QTest::newRow("hx") << QByteArrayLiteral("hx") << Sniff::NotLegacy;
    QTest::newRow("HEAD") << QByteArray("HEAD\0", 5) << Sniff::NotLegacy;
    QTest::newRow("heads") << QByteArrayLiteral("heads") << Sniff::NotLegacy;
    QTest::newRow("head + space") << QByteArrayLiteral("head ") << Sniff::NotLegacy;
    QTest::newRow("HTTP") << QByteArrayLiteral("GET /") << Sniff::NotLegacy;
}

void tst_LegacyFrame::sniff()
{
    QFETCH(QByteArray, bytes);
    QFETCH(Sniff, expected);
    QCOMPARE(Legacy::sniff(bytes), expected);
}

void tst_LegacyFrame::decodeErrorNames()
{
    QCOMPARE(decodeErrorName(DecodeError::None), "none");
    QCOMPARE(decodeErrorName(DecodeError::NeedMore), "need_more");
    QCOMPARE(decodeErrorName(DecodeError::BadHead), "bad_head");
    QCOMPARE(decodeErrorName(DecodeError::UnterminatedName), "unterminated_name");
    QCOMPARE(decodeErrorName(DecodeError::UnknownCommand), "unknown_command");
    QCOMPARE(decodeErrorName(DecodeError(99)), "unknown");
}

QTEST_APPLESS_MAIN(tst_LegacyFrame)
#include "tst_legacyframe.moc"
