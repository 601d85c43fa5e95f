// Names reserved for their services ([service.NAME] names, docs/SECURITY.md, PROTOCOL §4.5) with
// a real kennel-broker supervising a real program: a squatter that comes before the service —
// native (kennelctl) or old-protocol (raw 552-byte frames, receive and main connection) — is
// refused with name_reserved and holds nothing, and the service then registers; a service's
// forked child may register its name; an unrelated process cannot take it after the service died;
// `names =` empty reserves nothing.
#include "brokerprocess.h"
#include "legacyframe.h"
#include "testbroker.h"

#include <QElapsedTimer>
#include <QFile>
#include <QLocalSocket>
#include <QProcess>
#include <QTest>

using namespace Kennel;
using KennelTest::BrokerProcess;

namespace {

QString kennelctl()
{
    return KennelTest::binaryPath(QStringLiteral("kennelctl"));
}

QByteArray legacyFrame(Legacy::Command cmd, const QByteArray &target, const QByteArray &source, const QByteArray &msg)
{
    QByteArray frame(Legacy::FrameSize, '\0');
    Legacy::encode(frame.data(), cmd, 0, target, source, msg);
    return frame;
}

// A service that waits for `trigger` to exist, then runs `command` (sh syntax; kennelctl is
// $KC, the broker is $KENNEL_BROKER as the supervisor sets it).
QByteArray serviceWaitingFor(const QByteArray &name, const QString &trigger, const QByteArray &command,
                             const QByteArray &extra = {})
{
    return "[service." + name + "]\nprogram = /bin/sh\narguments = -c, \"while [ ! -e " + trigger.toUtf8()
           + " ]; do sleep 0.05; done; " + command + "\"\nenvironment = KC=" + kennelctl().toUtf8() + "\n" + extra;
}

// kennelctl listen NAME as an unrelated process: exits 3 when it cannot register.
struct Attempt
{
    int exitCode = -1;
    QByteArray err;
};

Attempt listenAs(const BrokerProcess &broker, const QString &name)
{
    QProcess p;
    p.start(kennelctl(), {QStringLiteral("listen"), name, QStringLiteral("--broker"), broker.unixAddress(),
                          QStringLiteral("--timeout"), QStringLiteral("1500")});
    if (!p.waitForFinished(10000))
        p.kill();
    return {p.exitCode(), p.readAllStandardError()};
}

// Sends `text` to `target` with kennelctl; true if delivered.
bool sendTo(const BrokerProcess &broker, const QString &target, const QString &text)
{
    QProcess p;
    p.start(kennelctl(), {QStringLiteral("send"), target, text, QStringLiteral("--broker"), broker.unixAddress()});
    return p.waitForFinished(10000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

// One raw old-protocol connection sending `frame`: true if the broker closed it within the time.
bool legacyClosedAfter(const BrokerProcess &broker, const QByteArray &frame)
{
    QLocalSocket socket;
    socket.connectToServer(broker.unixPath());
    if (!socket.waitForConnected(5000))
        return false;
    socket.write(frame);
    socket.flush();
    QElapsedTimer t;
    t.start();
    while (socket.state() == QLocalSocket::ConnectedState && t.elapsed() < 5000)
        socket.waitForDisconnected(100);
    return socket.state() != QLocalSocket::ConnectedState;
}

} // namespace

class tst_ReservedNames : public QObject
{
    Q_OBJECT
private slots:
    void squatterBeforeServiceIsRefused_data();
    void squatterBeforeServiceIsRefused();
    void forkedChildMayRegister();
    void unrelatedCannotTakeItAfterTheServiceDied();
    void emptyNamesReservesNothing();
};

void tst_ReservedNames::squatterBeforeServiceIsRefused_data()
{
    QTest::addColumn<QString>("squatter");
    QTest::newRow("native") << QStringLiteral("native");
    QTest::newRow("legacy-receive") << QStringLiteral("legacy-receive");
    QTest::newRow("legacy-main") << QStringLiteral("legacy-main");
}

void tst_ReservedNames::squatterBeforeServiceIsRefused()
{
    QFETCH(QString, squatter);
    BrokerProcess broker;
    const QString trigger = broker.directory() + QStringLiteral("/go");
    BrokerProcess::Options options;
    // Two names reserved: its own (registered) and one more.
    options.configText = serviceWaitingFor("sensor", trigger, "exec $KC listen sensor", "names = sensor, sensor2\n");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));

    if (squatter == QLatin1String("native")) {
        const Attempt a = listenAs(broker, QStringLiteral("sensor"));
        QCOMPARE(a.exitCode, 3);
        QVERIFY2(a.err.contains("reserved for service sensor"), a.err.constData());
        const Attempt b = listenAs(broker, QStringLiteral("sensor2"));
        QCOMPARE(b.exitCode, 3);
        QVERIFY2(b.err.contains("reserved for service sensor"), b.err.constData());
    } else if (squatter == QLatin1String("legacy-receive")) {
        QVERIFY(legacyClosedAfter(broker, legacyFrame(Legacy::Command::RegisterReceiver, "null", "sensor", "null")));
    } else {
        QVERIFY(legacyClosedAfter(broker, legacyFrame(Legacy::Command::Forward, "nobody", "sensor", "hello")));
    }
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("name_reserved - 'sensor' is reserved for service sensor"),
                              broker.log().constData(), 5000);
    // Not held by the squatter: nothing answers to it yet.
    QVERIFY(!sendTo(broker, QStringLiteral("sensor"), QStringLiteral("early")));

    QFile go(trigger);
    QVERIFY(go.open(QIODevice::WriteOnly));
    go.close();
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("registered 'sensor'"), broker.log().constData(), 15000);
    QVERIFY(sendTo(broker, QStringLiteral("sensor"), QStringLiteral("hello")));
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ReservedNames::forkedChildMayRegister()
{
    BrokerProcess broker;
    const QString trigger = broker.directory() + QStringLiteral("/go");
    BrokerProcess::Options options;
    // Not exec'd: sh forks kennelctl, a child of the service's process, and waits for it.
    options.configText = serviceWaitingFor("sensor", trigger, "$KC listen sensor; echo child ended with $?");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QFile go(trigger);
    QVERIFY(go.open(QIODevice::WriteOnly));
    go.close();
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("registered 'sensor'"), broker.log().constData(), 15000);
    QVERIFY(sendTo(broker, QStringLiteral("sensor"), QStringLiteral("hello")));
    QVERIFY2(!broker.log().contains("name_reserved"), broker.log().constData());
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ReservedNames::unrelatedCannotTakeItAfterTheServiceDied()
{
    BrokerProcess broker;
    const QString trigger = broker.directory() + QStringLiteral("/go");
    QFile go(trigger);
    QVERIFY(go.open(QIODevice::WriteOnly));
    go.close();
    BrokerProcess::Options options;
    // Registers, takes one message, exits, and is not restarted.
    options.configText = serviceWaitingFor("sensor", trigger, "exec $KC listen sensor --count 1", "restart = never\n");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("registered 'sensor'"), broker.log().constData(), 15000);
    QVERIFY(sendTo(broker, QStringLiteral("sensor"), QStringLiteral("bye")));
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("not restarting"), broker.log().constData(), 15000);

    const Attempt a = listenAs(broker, QStringLiteral("sensor"));
    QCOMPARE(a.exitCode, 3);
    QVERIFY2(a.err.contains("reserved for service sensor"), a.err.constData());
    QVERIFY(legacyClosedAfter(broker, legacyFrame(Legacy::Command::RegisterReceiver, "null", "sensor", "null")));
    // A name nobody reserved is anyone's.
    const Attempt free = listenAs(broker, QStringLiteral("other"));
    QCOMPARE(free.exitCode, 0);
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ReservedNames::emptyNamesReservesNothing()
{
    BrokerProcess broker;
    const QString trigger = broker.directory() + QStringLiteral("/never");
    BrokerProcess::Options options;
    options.configText = serviceWaitingFor("sensor", trigger, "exec $KC listen sensor", "names =\n");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const Attempt a = listenAs(broker, QStringLiteral("sensor"));
    QCOMPARE(a.exitCode, 0); // --timeout without --count: success
    QVERIFY2(!broker.log().contains("name_reserved"), broker.log().constData());
    QCOMPARE(broker.stopVerdict(), QString());
}

QTEST_GUILESS_MAIN(tst_ReservedNames)
#include "tst_reservednames.moc"
