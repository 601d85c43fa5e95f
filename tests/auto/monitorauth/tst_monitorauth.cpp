// Monitor admission: MonitorAuthenticator (tokens, local peers, throttling, bounds) and
// MonitorListener (plain TCP, Unix, TLS with a certificate generated here by the openssl tool).
// Timing checks only ever assert "no earlier than": an answer that comes late on a loaded machine
// is fine, one that comes early is the bug.
#include "brokerconfig.h"
#include "monitorauthenticator.h"
#include "monitorlistener.h"

#include <QElapsedTimer>
#include <QFile>
#include <QHostAddress>
#include <QLocalSocket>
#include <QPointer>
#include <QProcess>
#include <QSignalSpy>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <memory>
#include <unistd.h>

using namespace Kennel;
using namespace std::chrono_literals;

namespace {

const QByteArray Token = "kennel-monitor-token-0123456789";
const QByteArray ReadOnlyToken = "kennel-read-only-token-0123456789";

MonitorAuthenticator::Peer ip(const char *address)
{
    return {QString::fromLatin1(address), false, std::nullopt, {}, false};
}

MonitorAuthenticator::Peer unixPeer(std::optional<uid_t> uid)
{
    return {QStringLiteral("unix"), true, uid, {}, false};
}

MonitorSettings authSettings(std::chrono::milliseconds delay, std::chrono::milliseconds max)
{
    MonitorSettings settings;
    settings.token = Token;
    settings.failureDelay = delay;
    settings.failureDelayMax = max;
    // The broker-wide guess budget has tests of its own; here it must not be what answers.
    settings.maxTokenGuessesPerSecond = 10000;
    return settings;
}

uid_t otherUid()
{
    const uid_t own = ::geteuid();
    return own == 0 ? uid_t(4242) : own + 1;
}

struct Answer
{
    bool called = false;
    bool admitted = false;
    QString how;
    MonitorRole role = MonitorRole::ReadOnly;
    qint64 elapsedMs = -1;
    int order = 0; // 1 for the first answer the test saw, 2 for the next, ...
};

struct Delivery
{
    QPointer<QIODevice> device;
    QString peer;
    bool isUnix = false;
    std::optional<uid_t> uid;
};

ListenAddress loopback(quint16 port = 0)
{
    ListenAddress address;
    address.kind = ListenAddress::Kind::Tcp;
    address.host = QStringLiteral("127.0.0.1");
    address.port = port;
    return address;
}

ListenAddress unixAddress(const QString &path)
{
    ListenAddress address;
    address.kind = ListenAddress::Kind::Unix;
    address.path = path;
    return address;
}

} // namespace

class tst_MonitorAuth : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    // MonitorAuthenticator
    void rightTokenAdmitted();
    void wrongTokenRefused_data();
    void wrongTokenRefused();
    void failureDelaysDoubleAndCap();
    void parallelAttemptsAnsweredOneByOne();
    void rightTokenFromPenalisedAddressDelayed();
    void otherAddressesUnaffected();
    void penaltyDecays();
    void throttleKeys_data();
    void throttleKeys();
    void onePenaltyPerHost();
    void unixPeers_data();
    void unixPeers();
    void noTokenConfigured();
    void tokenFile_data();
    void tokenFile();
    void tokenFileProblems();
    void trackedAddressesBounded();
    void pendingAttemptsBounded();
    void destroyedContextIsNotCalled();
    void prefixKeys();
    void rotatingWithinPrefixShareItsPenalty();
    void guessBudgetBrokerWide();
    void provenAddressKeepsItsWay();
    void serviceNotAdmittedByUid();
    void roles_data();
    void roles();
    void rolesReplacedOnReload();

    // MonitorListener
    void emptyListen();
    void plainTcpDelivered();
    void unixStaysPlainUnderTls();
    void tlsTrustedClient();
    void tlsUntrustedClient_data();
    void tlsUntrustedClient();
    void silentClientOnTlsPortTimesOut();
    void plaintextOnTlsPortDropped();
    void handshakesBounded();
    void badTlsFiles_data();
    void badTlsFiles();
    void listenFailureLeavesNothingOpen();

private:
    std::shared_ptr<Answer> ask(MonitorAuthenticator &auth, const MonitorAuthenticator::Peer &peer, QByteArrayView token,
                                QObject *context = nullptr);
    QString writeFile(const QString &name, const QByteArray &content, QFileDevice::Permissions permissions);
    bool openssl(const QStringList &arguments);
    MonitorSettings tlsSettings() const;
    void collect(MonitorListener &listener, QList<Delivery> *deliveries);

    QTemporaryDir m_dir;
    QString m_cert, m_key, m_otherCert, m_rsaKey, m_garbage;
    QString m_opensslProblem; // empty: the TLS material is there
    int m_answers = 0;
};

void tst_MonitorAuth::initTestCase()
{
    QVERIFY2(m_dir.isValid(), qPrintable(m_dir.errorString()));
    m_cert = m_dir.filePath(QStringLiteral("cert.pem"));
    m_key = m_dir.filePath(QStringLiteral("key.pem"));
    m_otherCert = m_dir.filePath(QStringLiteral("other-cert.pem"));
    m_rsaKey = m_dir.filePath(QStringLiteral("rsa-key.pem"));
    m_garbage = writeFile(QStringLiteral("garbage.pem"), "this is not PEM\n", QFileDevice::ReadOwner | QFileDevice::WriteOwner);

    // Generated here rather than checked in: nothing expires in the repository, and no private
    // key is published. A short validity is enough for one run.
    if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty()) {
        m_opensslProblem = QStringLiteral("the openssl command-line tool is missing: run scripts/install-deps.sh");
        return;
    }
    const QStringList selfSigned{QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                                 QStringLiteral("ec"), QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:prime256v1"),
                                 QStringLiteral("-nodes"), QStringLiteral("-days"), QStringLiteral("2"),
                                 QStringLiteral("-subj"), QStringLiteral("/CN=localhost"), QStringLiteral("-addext"),
                                 QStringLiteral("subjectAltName=DNS:localhost,IP:127.0.0.1")};
    const QString otherKey = m_dir.filePath(QStringLiteral("other-key.pem"));
    if (!openssl(selfSigned + QStringList{QStringLiteral("-keyout"), m_key, QStringLiteral("-out"), m_cert})
        || !openssl(selfSigned + QStringList{QStringLiteral("-keyout"), otherKey, QStringLiteral("-out"), m_otherCert})
        || !openssl({QStringLiteral("genpkey"), QStringLiteral("-algorithm"), QStringLiteral("RSA"), QStringLiteral("-pkeyopt"),
                     QStringLiteral("rsa_keygen_bits:2048"), QStringLiteral("-out"), m_rsaKey})) {
        return;
    }
    if (!QSslSocket::supportsSsl())
        m_opensslProblem = QStringLiteral("Qt has no usable TLS backend (") + QSslSocket::activeBackend() + QLatin1Char(')');
}

bool tst_MonitorAuth::openssl(const QStringList &arguments)
{
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    // No broker or listener runs yet: waiting here blocks nothing under test.
    process.start(QStringLiteral("openssl"), arguments);
    if (!process.waitForFinished(60000) || process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        m_opensslProblem = QStringLiteral("openssl ") + arguments.join(QLatin1Char(' ')) + QStringLiteral(" failed: ")
                           + QString::fromLocal8Bit(process.readAll());
        return false;
    }
    for (const QString &argument : arguments) {
        if (argument.endsWith(QLatin1String("key.pem")))
            QFile::setPermissions(argument, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    }
    return true;
}

QString tst_MonitorAuth::writeFile(const QString &name, const QByteArray &content, QFileDevice::Permissions permissions)
{
    const QString path = m_dir.filePath(name);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(content) != content.size())
        qFatal("cannot write %s", qPrintable(path));
    file.close();
    if (!file.setPermissions(permissions))
        qFatal("cannot chmod %s", qPrintable(path));
    return path;
}

std::shared_ptr<Answer> tst_MonitorAuth::ask(MonitorAuthenticator &auth, const MonitorAuthenticator::Peer &peer,
                                             QByteArrayView token, QObject *context)
{
    auto answer = std::make_shared<Answer>();
    auto clock = std::make_shared<QElapsedTimer>();
    clock->start();
    auth.authenticate(peer, token, context ? context : this, [this, answer, clock](bool admitted, const QString &how, MonitorRole role) {
        answer->called = true;
        answer->admitted = admitted;
        answer->how = how;
        answer->role = role;
        answer->elapsedMs = clock->elapsed();
        answer->order = ++m_answers;
    });
    return answer;
}

// ---------------------------------------------------------------------------------------------
// MonitorAuthenticator

void tst_MonitorAuth::rightTokenAdmitted()
{
    MonitorAuthenticator auth(authSettings(100ms, 400ms));
    QString error;
    QVERIFY2(auth.load(&error), qPrintable(error));
    QVERIFY(auth.hasToken());

    const auto answer = ask(auth, ip("10.0.0.1"), Token);
    QVERIFY2(!answer->called, "answered from inside authenticate()");
    QTRY_VERIFY(answer->called);
    QVERIFY(answer->admitted);
    QCOMPARE(answer->how, QStringLiteral("token"));
    QCOMPARE(auth.failures(), quint64(0));
    // A success from a clean address leaves nothing behind.
    QCOMPARE(auth.trackedAddresses(), 0);
}

void tst_MonitorAuth::wrongTokenRefused_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<QString>("how");

    QByteArray lastByte = Token;
    lastByte.back() = 'X';
    QByteArray firstByte = Token;
    firstByte.front() = 'X';
    QTest::newRow("same-length-last-byte") << lastByte << QStringLiteral("wrong token");
    QTest::newRow("same-length-first-byte") << firstByte << QStringLiteral("wrong token");
    QTest::newRow("prefix") << Token.left(Token.size() - 1) << QStringLiteral("wrong token");
    QTest::newRow("longer") << QByteArray(Token + "x") << QStringLiteral("wrong token");
    QTest::newRow("different-length") << QByteArray("guess") << QStringLiteral("wrong token");
    QTest::newRow("with-newline") << QByteArray(Token + "\n") << QStringLiteral("wrong token");
    QTest::newRow("over-long") << QByteArray(100000, 'k') << QStringLiteral("wrong token");
    QTest::newRow("empty") << QByteArray() << QStringLiteral("no token given");
}

void tst_MonitorAuth::wrongTokenRefused()
{
    QFETCH(QByteArray, token);
    QFETCH(QString, how);

    MonitorAuthenticator auth(authSettings(100ms, 400ms));
    const auto answer = ask(auth, ip("10.0.0.2"), token);
    QVERIFY(!answer->called);
    QTRY_VERIFY(answer->called);
    QVERIFY(!answer->admitted);
    QCOMPARE(answer->how, how);
    QCOMPARE(auth.failures(), quint64(1));
    QVERIFY2(answer->elapsedMs >= 100, qPrintable(QString::number(answer->elapsedMs)));
}

void tst_MonitorAuth::failureDelaysDoubleAndCap()
{
    MonitorAuthenticator auth(authSettings(100ms, 400ms));
    const auto peer = ip("10.0.0.3");
    for (const int expected : {100, 200, 400, 400}) {
        const auto answer = ask(auth, peer, "wrong-token-wrong-token");
        QCOMPARE(auth.penaltyFor(peer).count(), expected);
        QTRY_VERIFY_WITH_TIMEOUT(answer->called, 5000);
        QVERIFY(!answer->admitted);
        QVERIFY2(answer->elapsedMs >= expected,
                 qPrintable(QStringLiteral("answered after %1 ms, expected %2").arg(answer->elapsedMs).arg(expected)));
    }
    QCOMPARE(auth.failures(), quint64(4));
}

// Many guesses at once from one address do not share one delay: each waits its turn.
void tst_MonitorAuth::parallelAttemptsAnsweredOneByOne()
{
    MonitorAuthenticator auth(authSettings(100ms, 400ms));
    const auto peer = ip("10.0.0.4");
    const auto a1 = ask(auth, peer, "guess-1");
    const auto a2 = ask(auth, peer, "guess-2");
    const auto a3 = ask(auth, peer, "guess-3");
    const auto right = ask(auth, peer, Token);
    QTRY_VERIFY_WITH_TIMEOUT(right->called, 10000);
    QVERIFY(a1->called && a2->called && a3->called);
    QCOMPARE(a1->order + 1, a2->order);
    QCOMPARE(a2->order + 1, a3->order);
    QCOMPARE(a3->order + 1, right->order);
    QVERIFY2(a1->elapsedMs >= 100, qPrintable(QString::number(a1->elapsedMs)));
    QVERIFY2(a2->elapsedMs >= 100 + 200, qPrintable(QString::number(a2->elapsedMs)));
    QVERIFY2(a3->elapsedMs >= 100 + 200 + 400, qPrintable(QString::number(a3->elapsedMs)));
    // The right token waits behind them, for the penalty it finds.
    QVERIFY(right->admitted);
    QVERIFY2(right->elapsedMs >= 100 + 200 + 400 + 400, qPrintable(QString::number(right->elapsedMs)));
    QCOMPARE(auth.failures(), quint64(3));
}

void tst_MonitorAuth::rightTokenFromPenalisedAddressDelayed()
{
    MonitorAuthenticator auth(authSettings(100ms, 1000ms));
    const auto peer = ip("10.0.0.5");
    for (int i = 0; i < 2; ++i) {
        const auto wrong = ask(auth, peer, "wrong-token-wrong-token");
        QTRY_VERIFY(wrong->called);
    }
    QCOMPARE(auth.penaltyFor(peer).count(), 200);

    const auto right = ask(auth, peer, Token);
    QVERIFY(!right->called);
    QTRY_VERIFY(right->called);
    QVERIFY(right->admitted);
    QCOMPARE(right->how, QStringLiteral("token"));
    QVERIFY2(right->elapsedMs >= 200, qPrintable(QString::number(right->elapsedMs)));
    // A success does not wipe the slate: only time does.
    QCOMPARE(auth.penaltyFor(peer).count(), 200);
}

void tst_MonitorAuth::otherAddressesUnaffected()
{
    MonitorAuthenticator auth(authSettings(300ms, 1200ms));
    const auto attacker = ip("10.0.0.6");
    const auto operatorPeer = ip("10.0.1.7"); // another /24: the attacker's own /24 shares its penalty
    const auto wrong = ask(auth, attacker, "wrong-token-wrong-token");
    const auto right = ask(auth, operatorPeer, Token);
    QTRY_VERIFY(right->called);
    QVERIFY(right->admitted);
    QTRY_VERIFY(wrong->called);
    QVERIFY2(right->order < wrong->order, "the operator waited for the attacker's penalty");
    QCOMPARE(auth.penaltyFor(operatorPeer).count(), 0);

    // A first failure from the other address starts at the bottom, not at the attacker's level.
    const auto second = ask(auth, attacker, "wrong-token-wrong-token");
    const auto mistake = ask(auth, operatorPeer, "typo");
    QCOMPARE(auth.penaltyFor(attacker).count(), 600);
    QCOMPARE(auth.penaltyFor(operatorPeer).count(), 300);
    QTRY_VERIFY(mistake->called);
    QTRY_VERIFY(second->called);
}

void tst_MonitorAuth::penaltyDecays()
{
    MonitorAuthenticator auth(authSettings(50ms, 200ms));
    const auto peer = ip("10.0.0.8");
    for (int i = 0; i < 2; ++i) {
        const auto answer = ask(auth, peer, "wrong-token-wrong-token");
        QTRY_VERIFY(answer->called);
    }
    QCOMPARE(auth.penaltyFor(peer).count(), 100);
    // failure_delay_max after the last failure, the address starts afresh.
    QTRY_COMPARE_WITH_TIMEOUT(auth.penaltyFor(peer).count(), 0, 5000);
    const auto again = ask(auth, peer, "wrong-token-wrong-token");
    QCOMPARE(auth.penaltyFor(peer).count(), 50);
    QTRY_VERIFY(again->called);
}

void tst_MonitorAuth::throttleKeys_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<bool>("isUnix");
    QTest::addColumn<qint64>("uid"); // -1: none
    QTest::addColumn<QString>("key");

    QTest::newRow("ipv4") << QStringLiteral("10.0.0.1") << false << qint64(-1) << QStringLiteral("10.0.0.1");
    QTest::newRow("ipv4-port") << QStringLiteral("10.0.0.1:5555") << false << qint64(-1) << QStringLiteral("10.0.0.1");
    QTest::newRow("ipv4-mapped") << QStringLiteral("::ffff:10.0.0.1") << false << qint64(-1) << QStringLiteral("10.0.0.1");
    QTest::newRow("ipv6") << QStringLiteral("2001:db8:1:2:aaaa:bbbb:cccc:dddd") << false << qint64(-1)
                          << QStringLiteral("2001:db8:1:2::/64");
    QTest::newRow("ipv6-port") << QStringLiteral("[2001:db8::1]:80") << false << qint64(-1) << QStringLiteral("2001:db8::/64");
    QTest::newRow("unix-uid") << QStringLiteral("unix") << true << qint64(1000) << QStringLiteral("unix uid 1000");
    QTest::newRow("unix-no-uid") << QStringLiteral("unix") << true << qint64(-1) << QStringLiteral("unix");
}

void tst_MonitorAuth::throttleKeys()
{
    QFETCH(QString, address);
    QFETCH(bool, isUnix);
    QFETCH(qint64, uid);
    QFETCH(QString, key);

    MonitorAuthenticator::Peer peer{address, isUnix, std::nullopt, {}, false};
    if (uid >= 0)
        peer.uid = uid_t(uid);
    QCOMPARE(MonitorAuthenticator::throttleKey(peer), key);
}

void tst_MonitorAuth::onePenaltyPerHost()
{
    MonitorAuthenticator auth(authSettings(100ms, 1000ms));
    ask(auth, ip("2001:db8:1:2::1"), "wrong-token-wrong-token");
    QCOMPARE(auth.penaltyFor(ip("2001:db8:1:2:ffff::9")).count(), 100);
    QCOMPARE(auth.penaltyFor(ip("2001:db8:1:3::1")).count(), 0);
    ask(auth, ip("::ffff:10.1.1.1"), "wrong-token-wrong-token");
    QCOMPARE(auth.penaltyFor(ip("10.1.1.1")).count(), 100);
    QCOMPARE(auth.trackedAddresses(), 3); // the two hosts and 10.1.1.0/24
    QTRY_COMPARE(auth.pendingAnswers(), 0);
}

void tst_MonitorAuth::unixPeers_data()
{
    QTest::addColumn<bool>("allowLocalPeers");
    QTest::addColumn<qint64>("uid"); // -1: the kernel did not say
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<bool>("admitted");
    QTest::addColumn<QString>("how"); // for admitted ones

    const qint64 own = ::geteuid();
    const qint64 other = otherUid();
    QTest::newRow("root") << true << qint64(0) << QByteArray() << true << QStringLiteral("peer uid 0");
    // A wrong token is refused whoever presents it; the uid admits only those who present none.
    QTest::newRow("root-wrong-token") << true << qint64(0) << QByteArray("nonsense") << false << QString();
    QTest::newRow("own-uid-wrong-token") << true << own << QByteArray("nonsense") << false << QString();
    QTest::newRow("own-uid-token") << true << own << Token << true << QStringLiteral("token");
    QTest::newRow("own-uid") << true << own << QByteArray() << true << QStringLiteral("peer uid %1").arg(own);
    QTest::newRow("other-uid") << true << other << QByteArray() << false << QString();
    QTest::newRow("other-uid-wrong-token") << true << other << QByteArray("nonsense") << false << QString();
    QTest::newRow("other-uid-token") << true << other << Token << true << QStringLiteral("token");
    QTest::newRow("no-uid") << true << qint64(-1) << QByteArray() << false << QString();
    QTest::newRow("root-not-allowed") << false << qint64(0) << QByteArray() << false << QString();
    QTest::newRow("own-not-allowed") << false << own << QByteArray() << false << QString();
    QTest::newRow("root-not-allowed-token") << false << qint64(0) << Token << true << QStringLiteral("token");
}

void tst_MonitorAuth::unixPeers()
{
    QFETCH(bool, allowLocalPeers);
    QFETCH(qint64, uid);
    QFETCH(QByteArray, token);
    QFETCH(bool, admitted);
    QFETCH(QString, how);

    MonitorSettings settings = authSettings(20ms, 100ms);
    settings.allowLocalPeers = allowLocalPeers;
    MonitorAuthenticator auth(settings);
    const auto answer = ask(auth, unixPeer(uid >= 0 ? std::optional<uid_t>(uid_t(uid)) : std::nullopt), token);
    QVERIFY(!answer->called);
    QTRY_VERIFY(answer->called);
    QCOMPARE(answer->admitted, admitted);
    if (admitted) {
        QCOMPARE(answer->how, how);
        QCOMPARE(auth.failures(), quint64(0));
    } else {
        QCOMPARE(auth.failures(), quint64(1));
        QVERIFY(answer->elapsedMs >= 20);
    }
}

// PROTOCOL: the credential decides the role. Without role keys every admitted monitor
// is an operator (as before roles); the read-only token and read_only_uids admit read-only
// monitors; operator_uids, when set, replaces root and the broker's own user.
void tst_MonitorAuth::roles_data()
{
    QTest::addColumn<QList<uint>>("operatorUids"); // {9999999}: "unset" (the default)
    QTest::addColumn<QList<uint>>("readOnlyUids");
    QTest::addColumn<qint64>("uid");               // -1: a TCP peer
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<bool>("admitted");
    QTest::addColumn<int>("role");
    QTest::addColumn<QString>("how");

    const QList<uint> unset{9999999};
    const uint own = ::geteuid();
    const uint other = otherUid();
    const int op = int(MonitorRole::Operator);
    const int ro = int(MonitorRole::ReadOnly);
    QTest::newRow("default root") << unset << QList<uint>{} << qint64(0) << QByteArray() << true << op << QStringLiteral("peer uid 0");
    QTest::newRow("default own") << unset << QList<uint>{} << qint64(own) << QByteArray() << true << op << QStringLiteral("peer uid %1").arg(own);
    QTest::newRow("default other") << unset << QList<uint>{} << qint64(other) << QByteArray() << false << ro << QString();
    QTest::newRow("operator token") << unset << QList<uint>{} << qint64(-1) << Token << true << op << QStringLiteral("token");
    QTest::newRow("read-only token") << unset << QList<uint>{} << qint64(-1) << ReadOnlyToken << true << ro << QStringLiteral("read-only token");
    QTest::newRow("read-only token on unix") << unset << QList<uint>{} << qint64(other) << ReadOnlyToken << true << ro << QStringLiteral("read-only token");
    QTest::newRow("read-only uid") << unset << QList<uint>{other} << qint64(other) << QByteArray() << true << ro << QStringLiteral("peer uid %1").arg(other);
    QTest::newRow("own uid demoted") << unset << QList<uint>{own} << qint64(own) << QByteArray() << true << ro << QStringLiteral("peer uid %1").arg(own);
    QTest::newRow("read-only uid with operator token") << unset << QList<uint>{other} << qint64(other) << Token << true << op << QStringLiteral("token");
    QTest::newRow("operator uid") << QList<uint>{other} << QList<uint>{} << qint64(other) << QByteArray() << true << op << QStringLiteral("peer uid %1").arg(other);
    QTest::newRow("operator_uids replaces the default") << QList<uint>{other} << QList<uint>{} << qint64(0) << QByteArray() << false << ro << QString();
    QTest::newRow("no operator uids") << QList<uint>{} << QList<uint>{} << qint64(own) << QByteArray() << false << ro << QString();
}

void tst_MonitorAuth::roles()
{
    QFETCH(QList<uint>, operatorUids);
    QFETCH(QList<uint>, readOnlyUids);
    QFETCH(qint64, uid);
    QFETCH(QByteArray, token);
    QFETCH(bool, admitted);
    QFETCH(int, role);
    QFETCH(QString, how);

    MonitorSettings settings = authSettings(20ms, 100ms);
    settings.readOnlyToken = ReadOnlyToken;
    if (operatorUids != QList<uint>{9999999})
        settings.operatorUids = operatorUids;
    settings.readOnlyUids = readOnlyUids;
    MonitorAuthenticator auth(settings);
    QString error;
    QVERIFY2(auth.load(&error), qPrintable(error));
    const auto answer = ask(auth, uid >= 0 ? unixPeer(uid_t(uid)) : ip("10.0.0.1"), token);
    QTRY_VERIFY(answer->called);
    QCOMPARE(answer->admitted, admitted);
    if (admitted) {
        QCOMPARE(answer->how, how);
        QCOMPARE(int(answer->role), role);
    }
}

// A reload (SIGHUP) changes the roles for monitors admitted from then on.
void tst_MonitorAuth::rolesReplacedOnReload()
{
    MonitorSettings settings = authSettings(20ms, 100ms);
    MonitorAuthenticator auth(settings);
    QString error;
    QVERIFY(auth.load(&error));
    const auto before = ask(auth, unixPeer(::geteuid()), {});
    QTRY_VERIFY(before->called);
    QVERIFY(before->admitted);
    QCOMPARE(before->role, MonitorRole::Operator);
    const auto noReadOnlyToken = ask(auth, ip("10.0.0.2"), ReadOnlyToken);
    QTRY_VERIFY(noReadOnlyToken->called);
    QVERIFY(!noReadOnlyToken->admitted);

    settings.readOnlyUids = {uint(::geteuid())};
    settings.readOnlyTokenFile = writeFile(QStringLiteral("readonly.token"), ReadOnlyToken + '\n', QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    QVERIFY2(auth.replaceCredentials(settings, &error), qPrintable(error));
    const auto after = ask(auth, unixPeer(::geteuid()), {});
    QTRY_VERIFY(after->called);
    QVERIFY(after->admitted);
    QCOMPARE(after->role, MonitorRole::ReadOnly);
    const auto readOnly = ask(auth, ip("10.0.0.3"), ReadOnlyToken);
    QTRY_VERIFY(readOnly->called);
    QVERIFY(readOnly->admitted);
    QCOMPARE(readOnly->role, MonitorRole::ReadOnly);

    // A read-only token file that cannot be used: refused whole, the roles before it kept.
    MonitorSettings broken = settings;
    broken.readOnlyUids.clear();
    broken.readOnlyTokenFile = writeFile(QStringLiteral("open.token"), ReadOnlyToken, QFileDevice::ReadOwner | QFileDevice::ReadOther);
    QVERIFY(!auth.replaceCredentials(broken, &error));
    QVERIFY2(error.contains(QLatin1String("read_only_token_file")), qPrintable(error));
    const auto kept = ask(auth, unixPeer(::geteuid()), {});
    QTRY_VERIFY(kept->called);
    QCOMPARE(kept->role, MonitorRole::ReadOnly);
}

void tst_MonitorAuth::noTokenConfigured()
{
    MonitorSettings settings = authSettings(20ms, 100ms);
    settings.token.clear();
    MonitorAuthenticator auth(settings);
    QString error;
    QVERIFY(auth.load(&error));
    QVERIFY(!auth.hasToken());

    const auto any = ask(auth, ip("10.0.0.9"), Token);
    QTRY_VERIFY(any->called);
    QVERIFY(!any->admitted);
    QCOMPARE(any->how, QStringLiteral("this broker admits no monitor by token"));
    const auto root = ask(auth, unixPeer(0), {});
    QTRY_VERIFY(root->called);
    QVERIFY(root->admitted);
}

void tst_MonitorAuth::tokenFile_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<int>("permissions");
    QTest::addColumn<QString>("error"); // empty: load() succeeds

    const int owner = int(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    QTest::newRow("newline") << QByteArray(Token + '\n') << owner << QString();
    QTest::newRow("crlf") << QByteArray(Token + "\r\n") << owner << QString();
    QTest::newRow("bare") << Token << int(QFileDevice::ReadOwner) << QString();
    QTest::newRow("empty") << QByteArray() << owner << QStringLiteral("is empty");
    QTest::newRow("blank-line") << QByteArray("\n") << owner << QStringLiteral("is empty");
    QTest::newRow("group-readable") << QByteArray(Token + '\n') << int(owner | QFileDevice::ReadGroup)
                                    << QStringLiteral("is accessible by group or others (mode 0640)");
    QTest::newRow("world-readable") << QByteArray(Token + '\n') << int(owner | QFileDevice::ReadOther)
                                    << QStringLiteral("is accessible by group or others (mode 0604)");
    QTest::newRow("group-writable") << QByteArray(Token + '\n') << int(owner | QFileDevice::WriteGroup)
                                    << QStringLiteral("is accessible by group or others (mode 0620)");
    QTest::newRow("short") << QByteArray("tiny\n") << owner << QStringLiteral("the token in it: too short");
    QTest::newRow("huge") << QByteArray(5000, 'k') << owner << QStringLiteral("longer than 1024 characters");
}

void tst_MonitorAuth::tokenFile()
{
    QFETCH(QByteArray, content);
    QFETCH(int, permissions);
    QFETCH(QString, error);

    const QString path = writeFile(QStringLiteral("token-%1").arg(QString::fromLatin1(QTest::currentDataTag())), content,
                                   QFileDevice::Permissions(permissions));
    MonitorSettings settings = authSettings(20ms, 100ms);
    settings.token.clear();
    settings.tokenFile = path;
    MonitorAuthenticator auth(settings);
    QString why;
    const bool loaded = auth.load(&why);
    if (!error.isEmpty()) {
        QVERIFY(!loaded);
        QVERIFY2(why.startsWith(QStringLiteral("monitor token_file \"") + path + QStringLiteral("\": ")), qPrintable(why));
        QVERIFY2(why.contains(error), qPrintable(why));
        QVERIFY2(!why.contains(QLatin1String("tiny")), "the error quotes the file's content");
        return;
    }
    QVERIFY2(loaded, qPrintable(why));
    QVERIFY(auth.hasToken());
    const auto right = ask(auth, ip("10.0.1.1"), Token);
    QTRY_VERIFY(right->called);
    QVERIFY(right->admitted);
    // The line break is the file's, not the token's.
    const auto withNewline = ask(auth, ip("10.0.1.2"), QByteArray(Token + '\n'));
    QTRY_VERIFY(withNewline->called);
    QVERIFY(!withNewline->admitted);
}

void tst_MonitorAuth::tokenFileProblems()
{
    MonitorSettings settings = authSettings(20ms, 100ms);
    settings.token.clear();
    settings.tokenFile = m_dir.filePath(QStringLiteral("no-such-token"));
    QString why;
    QVERIFY(!MonitorAuthenticator(settings).load(&why));
    QCOMPARE(why, QStringLiteral("monitor token_file \"") + settings.tokenFile + QStringLiteral("\": no such file"));

    settings.tokenFile = m_dir.path();
    QVERIFY(!MonitorAuthenticator(settings).load(&why));
    QVERIFY2(why.endsWith(QStringLiteral("is not a regular file")), qPrintable(why));

    settings.tokenFile = writeFile(QStringLiteral("token-both"), Token, QFileDevice::ReadOwner);
    settings.token = Token;
    QVERIFY(!MonitorAuthenticator(settings).load(&why));
    QCOMPARE(why, QStringLiteral("monitor: token and token_file are both set; give one of them"));
}

void tst_MonitorAuth::trackedAddressesBounded()
{
    MonitorAuthenticator auth(authSettings(1ms, 10ms));
    int answered = 0;
    constexpr int Addresses = 10000;
    for (int i = 0; i < Addresses; ++i) {
        const QString address = QStringLiteral("10.%1.%2.%3").arg(i >> 16).arg((i >> 8) & 0xff).arg(i & 0xff);
        auth.authenticate({address, false, std::nullopt, {}, false}, "wrong-token-wrong-token", this,
                          [&answered](bool, const QString &, MonitorRole) { ++answered; });
        QVERIFY(auth.trackedAddresses() <= MonitorAuthenticator::DefaultMaxTrackedAddresses);
    }
    QCOMPARE(auth.trackedAddresses(), MonitorAuthenticator::DefaultMaxTrackedAddresses);
    // The oldest went first; the newest are still remembered.
    QCOMPARE(auth.penaltyFor(ip("10.0.0.0")).count(), 0);
    QCOMPARE(auth.penaltyFor(ip("10.0.39.15")).count(), 1); // 9999
    QCOMPARE(auth.failures(), quint64(Addresses));
    QTRY_COMPARE_WITH_TIMEOUT(answered, Addresses, 60000);
    QCOMPARE(auth.pendingAnswers(), 0);
}

void tst_MonitorAuth::pendingAttemptsBounded()
{
    MonitorAuthenticator auth(authSettings(200ms, 800ms));
    auth.setTrackingLimits(MonitorAuthenticator::DefaultMaxTrackedAddresses, 3);
    const auto peer = ip("10.0.2.1");
    const auto w1 = ask(auth, peer, "wrong-token-wrong-token");
    const auto w2 = ask(auth, peer, "wrong-token-wrong-token");
    const auto right = ask(auth, peer, Token);
    QCOMPARE(auth.pendingAnswers(), 3);
    // Three answers are waiting for this address: the next are refused without being looked at,
    // even the right token.
    const auto r4 = ask(auth, peer, Token);
    const auto r5 = ask(auth, peer, "wrong-token-wrong-token");
    QCOMPARE(auth.pendingAnswers(), 3);
    QTRY_VERIFY(r4->called && r5->called);
    for (const auto &answer : {r4, r5}) {
        QVERIFY(!answer->admitted);
        QCOMPARE(answer->how, QStringLiteral("too many attempts waiting for an answer from this address"));
    }
    QCOMPARE(auth.failures(), quint64(4));

    // Another address has a queue of its own.
    const auto other = ask(auth, ip("10.0.2.2"), Token);
    QTRY_VERIFY(other->called);
    QVERIFY(other->admitted);

    QTRY_VERIFY_WITH_TIMEOUT(right->called, 10000);
    QVERIFY(right->admitted);
    QVERIFY(w1->called && w2->called);
    QVERIFY(r4->order < w1->order);
    QCOMPARE(auth.pendingAnswers(), 0);
}

void tst_MonitorAuth::destroyedContextIsNotCalled()
{
    MonitorAuthenticator auth(authSettings(100ms, 400ms));
    const auto peer = ip("10.0.3.1");
    auto *context = new QObject;
    const auto orphan = ask(auth, peer, "wrong-token-wrong-token", context);
    delete context;
    const auto sentinel = ask(auth, peer, "wrong-token-wrong-token");
    QTRY_VERIFY(sentinel->called); // answered after the orphan's turn
    QVERIFY(!orphan->called);
    QCOMPARE(auth.pendingAnswers(), 0);
}

// ---------------------------------------------------------------------------------------------
// MonitorListener

void tst_MonitorAuth::prefixKeys()
{
    QCOMPARE(MonitorAuthenticator::prefixKey(ip("10.1.2.3")), QStringLiteral("10.1.2.0/24"));
    QCOMPARE(MonitorAuthenticator::prefixKey(ip("::ffff:10.1.2.3")), QStringLiteral("10.1.2.0/24"));
    QCOMPARE(MonitorAuthenticator::prefixKey(ip("2001:db8:1:2::7")), QStringLiteral("2001:db8:1:2::/64"));
    QCOMPARE(MonitorAuthenticator::prefixKey(unixPeer(0)), QString());
}

// Finding 6: a guesser that takes a new address in its /24 for every guess does not start at the
// bottom each time: the /24's penalty doubles as an address's would.
void tst_MonitorAuth::rotatingWithinPrefixShareItsPenalty()
{
    MonitorAuthenticator auth(authSettings(100ms, 400ms));
    QList<std::shared_ptr<Answer>> answers;
    for (int i = 1; i <= 3; ++i)
        answers.append(ask(auth, ip(QByteArray("10.9.9." + QByteArray::number(i)).constData()), "wrong-token-wrong-token"));
    // Each address's own first failure, but the /24's 1st, 2nd and 3rd: answered one after the
    // other at 100, 100 + 200, 100 + 200 + 400 ms.
    QCOMPARE(auth.penaltyFor(ip("10.9.9.3")).count(), 100); // the address's own: its first failure
    QTRY_VERIFY_WITH_TIMEOUT(answers.last()->called, 5000);
    QVERIFY2(answers.at(1)->elapsedMs >= 300, qPrintable(QString::number(answers.at(1)->elapsedMs)));
    QVERIFY2(answers.at(2)->elapsedMs >= 700, qPrintable(QString::number(answers.at(2)->elapsedMs)));
    // Another /24 is not touched.
    const auto elsewhere = ask(auth, ip("10.9.8.1"), "wrong-token-wrong-token");
    QTRY_VERIFY(elsewhere->called);
    QVERIFY2(elsewhere->elapsedMs < 300, qPrintable(QString::number(elsewhere->elapsedMs)));
}

// Finding 6: whatever the addresses, at most max_token_guesses_per_second tokens are looked at;
// the rest are refused at once with a reason and counted.
void tst_MonitorAuth::guessBudgetBrokerWide()
{
    MonitorSettings settings = authSettings(10ms, 20ms);
    settings.maxTokenGuessesPerSecond = 5;
    MonitorAuthenticator auth(settings);
    QList<std::shared_ptr<Answer>> answers;
    for (int i = 0; i < 20; ++i)
        answers.append(ask(auth, ip(QStringLiteral("10.%1.0.1").arg(i).toLatin1().constData()), "wrong-token-wrong-token"));
    QTRY_VERIFY(std::all_of(answers.cbegin(), answers.cend(), [](const auto &a) { return a->called; }));
    int looked = 0;
    int refused = 0;
    for (const auto &a : answers) {
        QVERIFY(!a->admitted);
        if (a->how == QStringLiteral("wrong token"))
            ++looked;
        else if (a->how.startsWith(QStringLiteral("too many token attempts broker-wide (max_token_guesses_per_second 5)")))
            ++refused;
    }
    QCOMPARE(looked, 5);
    QCOMPARE(refused, 15);
    QCOMPARE(auth.guessesRefused(), quint64(15));
    // Even the right token is refused unlooked while the budget is spent...
    const auto spent = ask(auth, ip("10.100.0.1"), Token);
    QTRY_VERIFY(spent->called);
    QVERIFY(!spent->admitted);
    // ... and looked at again once it refills (5 a second: one every 200 ms).
    QTest::qWait(250);
    const auto later = ask(auth, ip("10.100.0.1"), Token);
    QTRY_VERIFY(later->called);
    QVERIFY(later->admitted);
}

// Reserves: an address that presented the right token is proven: the guess budget and its /24's
// penalty do not stop it; a wrong token from it ends that.
void tst_MonitorAuth::provenAddressKeepsItsWay()
{
    MonitorSettings settings = authSettings(200ms, 2000ms);
    settings.maxTokenGuessesPerSecond = 2;
    MonitorAuthenticator auth(settings);
    const auto first = ask(auth, ip("10.7.7.1"), Token);
    QTRY_VERIFY(first->called);
    QVERIFY(first->admitted);
    QVERIFY(auth.isProven(QStringLiteral("10.7.7.1")));
    // A neighbour guesses: the /24 is penalised and the budget spent.
    QList<std::shared_ptr<Answer>> guesses;
    for (int i = 0; i < 4; ++i)
        guesses.append(ask(auth, ip("10.7.7.66"), "wrong-token-wrong-token"));
    QVERIFY(auth.guessesRefused() >= 2);
    const auto again = ask(auth, ip("10.7.7.1"), Token);
    QTRY_VERIFY(again->called);
    QVERIFY(again->admitted);
    QVERIFY2(again->elapsedMs < 150, qPrintable(QString::number(again->elapsedMs)));
    // An unproven neighbour with the right token waits for the /24's penalty (or is refused
    // unlooked while the budget is spent).
    const auto neighbour = ask(auth, ip("10.7.7.2"), Token);
    QTRY_VERIFY_WITH_TIMEOUT(neighbour->called, 5000);
    QVERIFY(!neighbour->admitted || neighbour->elapsedMs >= 200);
    // A wrong token from the proven address: proven no more.
    const auto typo = ask(auth, ip("10.7.7.1"), "wrong-token-wrong-token");
    QVERIFY(!auth.isProven(QStringLiteral("10.7.7.1")));
    QTRY_VERIFY_WITH_TIMEOUT(typo->called, 5000);
    for (const auto &g : guesses)
        QTRY_VERIFY_WITH_TIMEOUT(g->called, 10000);
}

// Finding 3: a peer the supervisor says is a service is not admitted by its uid, unless its
// service may be a monitor; with the token it is, like anyone.
void tst_MonitorAuth::serviceNotAdmittedByUid()
{
    MonitorAuthenticator auth(authSettings(50ms, 100ms));
    MonitorAuthenticator::Peer service = unixPeer(::geteuid());
    service.service = QStringLiteral("worker");
    const auto byUid = ask(auth, service, {});
    QTRY_VERIFY(byUid->called);
    QVERIFY(!byUid->admitted);
    QVERIFY2(byUid->how.contains(QStringLiteral("service 'worker'")), qPrintable(byUid->how));
    QCOMPARE(auth.servicesRefused(), quint64(1));

    const auto byToken = ask(auth, service, Token);
    QTRY_VERIFY_WITH_TIMEOUT(byToken->called, 5000);
    QVERIFY(byToken->admitted);
    QCOMPARE(byToken->how, QStringLiteral("token"));

    service.serviceMayMonitor = true;
    const auto allowed = ask(auth, service, {});
    QTRY_VERIFY_WITH_TIMEOUT(allowed->called, 5000);
    QVERIFY(allowed->admitted);
    QCOMPARE(allowed->how, QStringLiteral("peer uid ") + QString::number(::geteuid()));
}

MonitorSettings tst_MonitorAuth::tlsSettings() const
{
    MonitorSettings settings;
    settings.listen = {loopback()};
    settings.tls = true;
    settings.certificateFile = m_cert;
    settings.privateKeyFile = m_key;
    return settings;
}

void tst_MonitorAuth::collect(MonitorListener &listener, QList<Delivery> *deliveries)
{
    connect(&listener, &MonitorListener::connectionReady, this,
            [deliveries](QIODevice *device, const QString &peer, bool isUnix, std::optional<uid_t> uid) {
                deliveries->append({device, peer, isUnix, uid});
            });
}

void tst_MonitorAuth::emptyListen()
{
    MonitorListener listener(MonitorSettings{});
    QString error;
    QVERIFY(listener.start(&error));
    QVERIFY(error.isEmpty());
    QVERIFY(listener.boundAddresses().isEmpty());
}

void tst_MonitorAuth::plainTcpDelivered()
{
    MonitorSettings settings;
    settings.listen = {loopback()};
    MonitorListener listener(settings);
    QString error;
    QVERIFY2(listener.start(&error), qPrintable(error));
    const QList<ListenAddress> bound = listener.boundAddresses();
    QCOMPARE(bound.size(), 1);
    QVERIFY(bound.first().port != 0);
    QList<Delivery> deliveries;
    collect(listener, &deliveries);

    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, bound.first().port);
    QTRY_COMPARE(deliveries.size(), 1);
    const Delivery &d = deliveries.first();
    QVERIFY(qobject_cast<QTcpSocket *>(d.device.data()));
    QVERIFY(!qobject_cast<QSslSocket *>(d.device.data()));
    QCOMPARE(d.device->parent(), &listener);
    QCOMPARE(d.peer, QStringLiteral("127.0.0.1"));
    QVERIFY(!d.isUnix);
    QVERIFY(!d.uid);

    client.write("hello");
    QTRY_COMPARE(d.device->bytesAvailable(), qint64(5));
    QCOMPARE(d.device->readAll(), QByteArray("hello"));
}

void tst_MonitorAuth::unixStaysPlainUnderTls()
{
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));
    const QString path = m_dir.filePath(QStringLiteral("monitor.sock"));
    MonitorSettings settings = tlsSettings();
    settings.listen.append(unixAddress(path));
    MonitorListener listener(settings);
    QString error;
    QVERIFY2(listener.start(&error), qPrintable(error));
    QCOMPARE(listener.boundAddresses().size(), 2);
    QList<Delivery> deliveries;
    collect(listener, &deliveries);

    QLocalSocket client;
    client.connectToServer(path);
    QTRY_COMPARE(deliveries.size(), 1);
    const Delivery &d = deliveries.first();
    QVERIFY(qobject_cast<QLocalSocket *>(d.device.data()));
    QCOMPARE(d.peer, QStringLiteral("unix"));
    QVERIFY(d.isUnix);
    QVERIFY(d.uid);
    QCOMPARE(*d.uid, ::geteuid());
    client.write("hello");
    QTRY_COMPARE(d.device->bytesAvailable(), qint64(5));

    listener.close();
    QVERIFY(!QFile::exists(path));
}

void tst_MonitorAuth::tlsTrustedClient()
{
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));
    MonitorListener listener(tlsSettings());
    QString error;
    QVERIFY2(listener.start(&error), qPrintable(error));
    const quint16 port = listener.boundAddresses().first().port;
    QList<Delivery> deliveries;
    collect(listener, &deliveries);

    QSslSocket client;
    QSslConfiguration trusting = QSslConfiguration::defaultConfiguration();
    trusting.setCaCertificates(QSslCertificate::fromPath(m_cert));
    client.setSslConfiguration(trusting);
    QSignalSpy clientErrors(&client, &QSslSocket::sslErrors);
    client.connectToHostEncrypted(QStringLiteral("127.0.0.1"), port, QStringLiteral("localhost"));
    QTRY_VERIFY(client.isEncrypted());
    QCOMPARE(clientErrors.count(), 0);
    QVERIFY(client.peerCertificate() == QSslCertificate::fromPath(m_cert).first());

    QTRY_COMPARE(deliveries.size(), 1);
    auto *server = qobject_cast<QSslSocket *>(deliveries.first().device.data());
    QVERIFY(server);
    QVERIFY(server->isEncrypted());
    QCOMPARE(deliveries.first().peer, QStringLiteral("127.0.0.1"));
    QCOMPARE(listener.pendingHandshakes(), 0);
    QCOMPARE(listener.failedHandshakes(), quint64(0));

    // Both ways, through the TLS layer.
    client.write("hello");
    QTRY_COMPARE(server->bytesAvailable(), qint64(5));
    QCOMPARE(server->readAll(), QByteArray("hello"));
    server->write("welcome");
    QTRY_COMPARE(client.bytesAvailable(), qint64(7));
    QCOMPARE(client.readAll(), QByteArray("welcome"));
}

void tst_MonitorAuth::tlsUntrustedClient_data()
{
    QTest::addColumn<bool>("pinOther");
    QTest::newRow("system-cas") << false;
    QTest::newRow("other-certificate-pinned") << true;
}

void tst_MonitorAuth::tlsUntrustedClient()
{
    QFETCH(bool, pinOther);
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));
    MonitorListener listener(tlsSettings());
    QString error;
    QVERIFY2(listener.start(&error), qPrintable(error));
    QList<Delivery> deliveries;
    collect(listener, &deliveries);
    QSignalSpy failed(&listener, &MonitorListener::handshakeFailed);

    QSslSocket client;
    if (pinOther) {
        QSslConfiguration config = QSslConfiguration::defaultConfiguration();
        config.setCaCertificates(QSslCertificate::fromPath(m_otherCert));
        client.setSslConfiguration(config);
    }
    QSignalSpy clientErrors(&client, &QSslSocket::sslErrors);
    client.connectToHostEncrypted(QStringLiteral("127.0.0.1"), listener.boundAddresses().first().port,
                                  QStringLiteral("localhost"));
    QTRY_VERIFY(clientErrors.count() > 0);
    QTRY_COMPARE(client.state(), QAbstractSocket::UnconnectedState);
    QVERIFY(!client.isEncrypted());

    // The server side gives up on it and closes: nothing is handed on.
    QTRY_COMPARE(failed.count(), 1);
    QCOMPARE(failed.first().at(0).toString(), QStringLiteral("127.0.0.1"));
    QCOMPARE(listener.failedHandshakes(), quint64(1));
    QCOMPARE(listener.pendingHandshakes(), 0);
    QVERIFY(deliveries.isEmpty());
}

void tst_MonitorAuth::silentClientOnTlsPortTimesOut()
{
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));
    MonitorSettings settings = tlsSettings();
    settings.handshakeTimeout = 300ms;
    MonitorListener listener(settings);
    QString error;
    QVERIFY2(listener.start(&error), qPrintable(error));
    QList<Delivery> deliveries;
    collect(listener, &deliveries);
    QSignalSpy failed(&listener, &MonitorListener::handshakeFailed);

    QElapsedTimer clock;
    clock.start();
    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, listener.boundAddresses().first().port);
    QTRY_COMPARE(client.state(), QAbstractSocket::ConnectedState);
    QTRY_COMPARE(listener.pendingHandshakes(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), QAbstractSocket::UnconnectedState, 5000);
    QVERIFY2(clock.elapsed() >= 300, qPrintable(QString::number(clock.elapsed())));
    QCOMPARE(failed.count(), 1);
    QCOMPARE(failed.first().at(1).toString(), QStringLiteral("no TLS handshake within 300 ms"));
    QCOMPARE(listener.pendingHandshakes(), 0);
    QVERIFY(deliveries.isEmpty());
}

// A plain client that talks first (a native Hello, say) is not a TLS client: dropped at once.
void tst_MonitorAuth::plaintextOnTlsPortDropped()
{
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));
    MonitorSettings settings = tlsSettings();
    settings.handshakeTimeout = 60000ms;
    MonitorListener listener(settings);
    QString error;
    QVERIFY2(listener.start(&error), qPrintable(error));
    QList<Delivery> deliveries;
    collect(listener, &deliveries);
    QSignalSpy failed(&listener, &MonitorListener::handshakeFailed);

    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, listener.boundAddresses().first().port);
    QTRY_COMPARE(client.state(), QAbstractSocket::ConnectedState);
    client.write("KNL1 plain hello, not a TLS ClientHello\r\n\r\n");
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), QAbstractSocket::UnconnectedState, 10000);
    QCOMPARE(failed.count(), 1);
    QCOMPARE(listener.pendingHandshakes(), 0);
    QVERIFY(deliveries.isEmpty());
}

void tst_MonitorAuth::handshakesBounded()
{
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));
    MonitorSettings settings = tlsSettings();
    settings.maxMonitors = 2;
    // From one address: max_waiting_per_address is the bound that bites (the total is
    // max(16, 4 x max_monitors); tst_monitoradmission fills it from several addresses).
    settings.maxWaitingPerAddress = 2;
    settings.handshakeTimeout = 60000ms;
    MonitorListener listener(settings);
    QString error;
    QVERIFY2(listener.start(&error), qPrintable(error));

    std::vector<std::unique_ptr<QTcpSocket>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<QTcpSocket>());
        clients.back()->connectToHost(QHostAddress::LocalHost, listener.boundAddresses().first().port);
        QTRY_COMPARE(listener.pendingHandshakes() + int(listener.refusedConnections()), i + 1);
    }
    QCOMPARE(listener.pendingHandshakes(), 2);
    QCOMPARE(listener.refusedConnections(), quint64(1));
    // The third is closed at once, long before the handshake timeout.
    QTRY_COMPARE_WITH_TIMEOUT(clients[2]->state(), QAbstractSocket::UnconnectedState, 10000);
    QCOMPARE(clients[0]->state(), QAbstractSocket::ConnectedState);

    // A handshake that ends frees its place.
    clients[0]->abort();
    QTRY_COMPARE(listener.pendingHandshakes(), 1);
    QTcpSocket late;
    late.connectToHost(QHostAddress::LocalHost, listener.boundAddresses().first().port);
    QTRY_COMPARE(listener.pendingHandshakes(), 2);
    QCOMPARE(listener.refusedConnections(), quint64(1));
}

void tst_MonitorAuth::badTlsFiles_data()
{
    QTest::addColumn<QString>("certificate");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("error");

    const QString missingCert = QStringLiteral("/nonexistent/kennel/cert.pem");
    const QString missingKey = QStringLiteral("/nonexistent/kennel/key.pem");
    QTest::newRow("certificate-missing") << missingCert << m_key
                                         << QStringLiteral("monitor certificate \"") + missingCert + QStringLiteral("\": no such file");
    QTest::newRow("certificate-garbage") << m_garbage << m_key
                                         << QStringLiteral("monitor certificate \"") + m_garbage
                                                + QStringLiteral("\": no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")");
    QTest::newRow("certificate-is-a-key") << m_key << m_key
                                          << QStringLiteral("monitor certificate \"") + m_key
                                                 + QStringLiteral("\": no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")");
    QTest::newRow("certificate-unset") << QString() << m_key
                                       << QStringLiteral("monitor certificate: not set (required with tls)");
    QTest::newRow("key-missing") << m_cert << missingKey
                                 << QStringLiteral("monitor private key \"") + missingKey + QStringLiteral("\": no such file");
    QTest::newRow("key-garbage") << m_cert << m_garbage
                                 << QStringLiteral("monitor private key \"") + m_garbage
                                        + QStringLiteral("\": no unencrypted PEM private key (RSA, EC or DSA) in it");
    QTest::newRow("key-is-a-certificate") << m_cert << m_cert
                                          << QStringLiteral("monitor private key \"") + m_cert
                                                 + QStringLiteral("\": no unencrypted PEM private key (RSA, EC or DSA) in it");
    QTest::newRow("key-of-another-kind") << m_cert << m_rsaKey
                                         << QStringLiteral("monitor private key \"") + m_rsaKey + QStringLiteral("\": an RSA key, but certificate \"")
                                                + m_cert + QStringLiteral("\" is for an EC key; they are not a pair");
}

void tst_MonitorAuth::badTlsFiles()
{
    QFETCH(QString, certificate);
    QFETCH(QString, key);
    QFETCH(QString, error);
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));

    MonitorSettings settings = tlsSettings();
    settings.certificateFile = certificate;
    settings.privateKeyFile = key;
    MonitorListener listener(settings);
    QString why;
    QVERIFY(!listener.start(&why));
    QCOMPARE(why, error);
    QVERIFY(listener.boundAddresses().isEmpty());
}

void tst_MonitorAuth::listenFailureLeavesNothingOpen()
{
    MonitorSettings first;
    first.listen = {loopback()};
    MonitorListener holder(first);
    QString error;
    QVERIFY2(holder.start(&error), qPrintable(error));
    const quint16 taken = holder.boundAddresses().first().port;

    const QString path = m_dir.filePath(QStringLiteral("clash.sock"));
    MonitorSettings second;
    second.listen = {unixAddress(path), loopback(taken)};
    MonitorListener listener(second);
    QVERIFY(!listener.start(&error));
    QVERIFY2(error.startsWith(QStringLiteral("monitor listener: cannot listen on 127.0.0.1:") + QString::number(taken)),
             qPrintable(error));
    QVERIFY(listener.boundAddresses().isEmpty());
    QVERIFY(!QFile::exists(path));
}

QTEST_GUILESS_MAIN(tst_MonitorAuth)

#include "tst_monitorauth.moc"
