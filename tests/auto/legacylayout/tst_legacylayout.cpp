// The old protocol's layout is the old clients' C struct on every architecture Kennel runs on
// (docs/LEGACY-PROTOCOL.md, docs/BOARD.md): oldclient.c declares the struct as they do, and is
// compiled by the same compiler as the codec: x86-64, and armhf/arm64 in the cross builds, whose
// tests run under qemu-user. The layout is held against the codec's constants, and frames are
// passed both ways between the C struct and the codec.
#include "legacyframe.h"
#include "oldclient.h"

#include <QSysInfo>
#include <QTest>

#include <cstring>

using namespace Kennel::Legacy;

namespace Kennel::Legacy {
char *toString(DecodeError error)
{
    return qstrdup(decodeErrorName(error));
}
} // namespace Kennel::Legacy

namespace {

old_frame_layout layout()
{
    old_frame_layout l{};
    old_frame_get_layout(&l);
    return l;
}

} // namespace

class tst_LegacyLayout : public QObject
{
    Q_OBJECT

private slots:
    void structIsTheCodecsLayout();
    void typesThatDifferByArchitectureAreNotInIt();
    void oldClientFramesDecode_data();
    void oldClientFramesDecode();
    void codecFramesReadInOldClient_data();
    void codecFramesReadInOldClient();
    void intsAreLittleEndianLikeTheHost();
};

void tst_LegacyLayout::structIsTheCodecsLayout()
{
    const old_frame_layout l = layout();
    QCOMPARE(l.size, size_t(FrameSize));
    QCOMPARE(l.head_offset, size_t(HeadOffset));
    QCOMPARE(l.head_size, size_t(10));
    // 2 bytes of padding after head: int is 4-byte aligned on all three ABIs (AAPCS too).
    QCOMPARE(l.cmd_offset, size_t(CmdOffset));
    QCOMPARE(l.cmd_size, size_t(4));
    QCOMPARE(l.wdt_offset, size_t(WdtOffset));
    QCOMPARE(l.wdt_size, size_t(4));
    QCOMPARE(l.target_offset, size_t(TargetOffset));
    QCOMPARE(l.target_size, size_t(NameFieldSize));
    QCOMPARE(l.source_offset, size_t(SourceOffset));
    QCOMPARE(l.source_size, size_t(NameFieldSize));
    QCOMPARE(l.msg_offset, size_t(MsgOffset));
    QCOMPARE(l.msg_size, size_t(MsgFieldSize));
    // No tail padding: 552 is a multiple of the struct's alignment, so an array of frames (or
    // back-to-back writes) is 552 bytes apart everywhere.
    QCOMPARE(l.align, size_t(4));
    QCOMPARE(l.size % l.align, size_t(0));
}

void tst_LegacyLayout::typesThatDifferByArchitectureAreNotInIt()
{
    const old_frame_layout l = layout();
    qInfo("%s (%s): int %zu, long %zu, time_t %zu, pointer %zu bytes; char is %s; frame %zu bytes",
          qPrintable(QSysInfo::buildCpuArchitecture()), qPrintable(QSysInfo::currentCpuArchitecture()),
          l.int_size, l.long_size, l.time_t_size, l.pointer_size, l.char_is_signed ? "signed" : "unsigned",
          l.size);
    // This build is what it says: the C side and the C++ side agree on the data model, and the
    // 32-bit build really is 32-bit (a test run on the wrong binary would pass vacuously).
    QCOMPARE(l.pointer_size, sizeof(void *));
    QCOMPARE(l.long_size, sizeof(long));
    QCOMPARE(l.int_size, size_t(4));
#if defined(__arm__)
    QCOMPARE(l.long_size, size_t(4));
    QCOMPARE(l.pointer_size, size_t(4));
    QCOMPARE(l.char_is_signed, 0); // ARM's plain char is unsigned; the codec never compares chars
#elif defined(__aarch64__) || defined(__x86_64__)
    QCOMPARE(l.long_size, size_t(8));
    QCOMPARE(l.pointer_size, size_t(8));
#endif
    // The frame is the same 552 bytes whatever long, time_t and pointers are: the struct holds
    // only char arrays and two ints.
    QCOMPARE(l.head_size + 2 + l.cmd_size + l.wdt_size + l.target_size + l.source_size + l.msg_size, l.size);
}

void tst_LegacyLayout::oldClientFramesDecode_data()
{
    QTest::addColumn<int>("junk");
    QTest::addColumn<int>("cmd");
    QTest::addColumn<int>("wdt");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("source");
    QTest::addColumn<QByteArray>("msg");
    const QByteArray longest(MaxTextLength, 'x');
    QTest::newRow("register receiver") << 0xA5 << 0 << 0 << QByteArray("null") << QByteArray("gps") << QByteArray("null");
    QTest::newRow("watchdog register") << 0x00 << 1 << 0 << QByteArray("null") << QByteArray("gps") << QByteArray("null");
    QTest::newRow("watchdog feed") << 0xFF << 1 << 1 << QByteArray("null") << QByteArray("gps") << QByteArray("null");
    QTest::newRow("forward, 9-char names") << 0x80 << 2 << 0 << QByteArray("ninechars") << QByteArray("123456789")
                                           << QByteArray("position 47.1 8.5");
    QTest::newRow("forward, 511 chars, high bytes") << 0xA5 << 2 << 0 << QByteArray("display") << QByteArray("gps")
                                                    << longest + QByteArray();
    QTest::newRow("forward, bytes above 0x7F") << 0x5A << 2 << 0 << QByteArray("display") << QByteArray("gps")
                                               << QByteArray("\xC3\xA9t\xC3\xA9 \xFF\x80");
}

void tst_LegacyLayout::oldClientFramesDecode()
{
    QFETCH(int, junk);
    QFETCH(int, cmd);
    QFETCH(int, wdt);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, source);
    QFETCH(QByteArray, msg);

    QByteArray wire(FrameSize, Qt::Uninitialized);
    old_frame_write(wire.data(), uchar(junk), cmd, wdt, target.constData(), source.constData(), msg.constData());
    const DecodeResult r = decode(wire);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(int(r.frame.command), cmd);
    QCOMPARE(r.frame.wdt, wdt);
    QCOMPARE(r.frame.target.toByteArray(), target);
    QCOMPARE(r.frame.source.toByteArray(), source);
    QCOMPARE(r.frame.text().toByteArray(), msg);
    QCOMPARE(r.frame.msgField.size(), qsizetype(MsgFieldSize));
    QCOMPARE(r.frame.msgField.data(), wire.constData() + MsgOffset);
}

void tst_LegacyLayout::codecFramesReadInOldClient_data()
{
    oldClientFramesDecode_data();
}

void tst_LegacyLayout::codecFramesReadInOldClient()
{
    QFETCH(int, cmd);
    QFETCH(int, wdt);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, source);
    QFETCH(QByteArray, msg);

    QByteArray wire(FrameSize, '\xEE');
    encode(wire.data(), Command(cmd), wdt, target, source, msg);
    int readCmd = -1;
    int readWdt = -1;
    char readTarget[NameFieldSize];
    char readSource[NameFieldSize];
    char readMsg[MsgFieldSize];
    old_frame_read(wire.constData(), &readCmd, &readWdt, readTarget, readSource, readMsg);
    QCOMPARE(readCmd, cmd);
    QCOMPARE(readWdt, wdt);
    // The old client reads the names and the text as C strings: each must end within its field.
    QVERIFY(std::memchr(readTarget, 0, sizeof readTarget));
    QVERIFY(std::memchr(readSource, 0, sizeof readSource));
    QVERIFY(std::memchr(readMsg, 0, sizeof readMsg));
    QCOMPARE(QByteArray(readTarget), target);
    QCOMPARE(QByteArray(readSource), source);
    QCOMPARE(QByteArray(readMsg), msg);
}

void tst_LegacyLayout::intsAreLittleEndianLikeTheHost()
{
    // The old clients write ints in host order; the codec reads little-endian explicitly. They are
    // the same bytes only because every target is little-endian: checked, not assumed.
    QCOMPARE(QSysInfo::ByteOrder, QSysInfo::LittleEndian);
    QByteArray wire(FrameSize, Qt::Uninitialized);
    old_frame_write(wire.data(), 0, 0x01020304, -2, "null", "gps", "null");
    QCOMPARE(wire.mid(CmdOffset, 4), QByteArray("\x04\x03\x02\x01", 4));
    QCOMPARE(wire.mid(WdtOffset, 4), QByteArray("\xFE\xFF\xFF\xFF", 4));
    QCOMPARE(decode(wire).error, DecodeError::UnknownCommand);

    old_frame_write(wire.data(), 0, 2, -2, "peer", "gps", "text");
    const DecodeResult r = decode(wire);
    QCOMPARE(r.error, DecodeError::None); // wdt is not checked outside cmd 1 (PROTOCOL §7.2)
    QCOMPARE(r.frame.wdt, -2);
}

QTEST_APPLESS_MAIN(tst_LegacyLayout)
#include "tst_legacylayout.moc"
