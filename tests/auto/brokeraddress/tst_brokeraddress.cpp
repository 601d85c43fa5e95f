#include <brokeraddress.h>

#include <QTest>

using Kennel::BrokerAddress;

class tst_BrokerAddress : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseValid_data();
    void parseValid();
    void parseInvalid_data();
    void parseInvalid();
    void unixPrefixInAnyCase();
    void builders();
    void defaultIsInvalid();
};

void tst_BrokerAddress::parseValid_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("isUnix");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("path");

    QTest::newRow("ipv4") << QStringLiteral("127.0.0.1:8000") << false << QStringLiteral("127.0.0.1") << 8000 << QString();
    QTest::newRow("any-ipv4-port-0") << QStringLiteral("0.0.0.0:0") << false << QStringLiteral("0.0.0.0") << 0 << QString();
    QTest::newRow("localhost") << QStringLiteral("localhost:1") << false << QStringLiteral("localhost") << 1 << QString();
    QTest::newRow("fqdn-max-port") << QStringLiteral("broker.example.com:65535") << false
                                   << QStringLiteral("broker.example.com") << 65535 << QString();
    QTest::newRow("hostname-dash-underscore") << QStringLiteral("my_host-1:80") << false
                                              << QStringLiteral("my_host-1") << 80 << QString();
    QTest::newRow("ipv6-loopback") << QStringLiteral("[::1]:8000") << false << QStringLiteral("::1") << 8000 << QString();
    QTest::newRow("ipv6-any") << QStringLiteral("[::]:8000") << false << QStringLiteral("::") << 8000 << QString();
    QTest::newRow("ipv6-scoped") << QStringLiteral("[fe80::1%eth0]:9") << false << QStringLiteral("fe80::1%eth0") << 9 << QString();
    QTest::newRow("ipv6-mapped-v4") << QStringLiteral("[::ffff:1.2.3.4]:80") << false
                                    << QStringLiteral("::ffff:1.2.3.4") << 80 << QString();
    QTest::newRow("unix-absolute") << QStringLiteral("unix:/run/kennel/broker.sock") << true << QString() << 0
                                   << QStringLiteral("/run/kennel/broker.sock");
    QTest::newRow("unix-relative") << QStringLiteral("unix:broker.sock") << true << QString() << 0
                                   << QStringLiteral("broker.sock");
    QTest::newRow("unix-colon-in-path") << QStringLiteral("unix:/tmp/a:b") << true << QString() << 0
                                        << QStringLiteral("/tmp/a:b");
    QTest::newRow("unix-digits-is-a-path") << QStringLiteral("unix:8000") << true << QString() << 0
                                           << QStringLiteral("8000");
    QTest::newRow("unix-max-path") << QStringLiteral("unix:/") + QString(106, u'p') << true << QString() << 0
                                   << QStringLiteral("/") + QString(106, u'p');
}

void tst_BrokerAddress::parseValid()
{
    QFETCH(QString, text);
    QFETCH(bool, isUnix);
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, path);

    QString error = QStringLiteral("untouched");
    const std::optional<BrokerAddress> address = BrokerAddress::parse(text, &error);
    QVERIFY2(address, qPrintable(error));
    QVERIFY(address->isValid());
    QCOMPARE(address->isUnix(), isUnix);
    QCOMPARE(address->isTcp(), !isUnix);
    QCOMPARE(address->host(), host);
    QCOMPARE(int(address->port()), port);
    QCOMPARE(address->path(), path);
    QCOMPARE(address->toString(), text);
    QCOMPARE(BrokerAddress::parse(address->toString()), address);
    QCOMPARE(error, QStringLiteral("untouched"));
}

void tst_BrokerAddress::parseInvalid_data()
{
    QTest::addColumn<QString>("text");

    QTest::newRow("empty") << QString();
    QTest::newRow("no-port") << QStringLiteral("localhost");
    QTest::newRow("empty-port") << QStringLiteral("localhost:");
    QTest::newRow("no-host") << QStringLiteral(":8000");
    QTest::newRow("port-not-number") << QStringLiteral("host:http");
    QTest::newRow("port-negative") << QStringLiteral("host:-1");
    QTest::newRow("port-plus") << QStringLiteral("host:+80");
    QTest::newRow("port-too-big") << QStringLiteral("host:65536");
    QTest::newRow("port-huge") << QStringLiteral("host:99999999999999999999");
    QTest::newRow("space-in-port") << QStringLiteral("host: 80");
    QTest::newRow("leading-space") << QStringLiteral(" host:80");
    QTest::newRow("trailing-newline") << QStringLiteral("host:80\n");
    QTest::newRow("bad-ipv4") << QStringLiteral("10.0.0.300:80");
    QTest::newRow("short-ipv4-lookalike") << QStringLiteral("1.2.3:80");
    QTest::newRow("host-bad-char") << QStringLiteral("ho$t:80");
    QTest::newRow("host-empty-label") << QStringLiteral("bad..host:80");
    QTest::newRow("host-label-too-long") << QString(64, u'a') + QStringLiteral(":80");
    QTest::newRow("ipv6-without-brackets") << QStringLiteral("::1:8000");
    QTest::newRow("two-colons") << QStringLiteral("a:b:80");
    QTest::newRow("ipv6-no-port") << QStringLiteral("[::1]");
    QTest::newRow("ipv6-no-colon") << QStringLiteral("[::1]8000");
    QTest::newRow("ipv6-unclosed") << QStringLiteral("[::1:8000");
    QTest::newRow("ipv6-empty") << QStringLiteral("[]:80");
    QTest::newRow("ipv4-in-brackets") << QStringLiteral("[1.2.3.4]:80");
    QTest::newRow("ipv6-garbage") << QStringLiteral("[not:an:address]:80");
    QTest::newRow("unix-empty-path") << QStringLiteral("unix:");
    QTest::newRow("unix-path-too-long") << QStringLiteral("unix:/") + QString(107, u'p');
    QTest::newRow("unix-space") << QStringLiteral("unix:/tmp/a b");
}

void tst_BrokerAddress::parseInvalid()
{
    QFETCH(QString, text);

    QString error;
    QVERIFY(!BrokerAddress::parse(text, &error));
    QVERIFY2(!error.isEmpty(), "a refusal must say why");
    QVERIFY(!BrokerAddress::parse(text)); // the error pointer is optional
}

void tst_BrokerAddress::unixPrefixInAnyCase()
{
    // One grammar with the broker's listen addresses (AddressGrammar), which take "UNIX:": a
    // client given the address a broker was configured with must reach it.
    QString error;
    const std::optional<BrokerAddress> address = BrokerAddress::parse(QStringLiteral("UNIX:/run/k.sock"), &error);
    QVERIFY2(address, qPrintable(error));
    QVERIFY(address->isUnix());
    QCOMPARE(address->path(), QStringLiteral("/run/k.sock"));
    QCOMPARE(address->toString(), QStringLiteral("unix:/run/k.sock"));
}

void tst_BrokerAddress::builders()
{
    const BrokerAddress tcp = BrokerAddress::tcp(QStringLiteral("::1"), 8000);
    QVERIFY(tcp.isTcp());
    QCOMPARE(tcp.kind(), BrokerAddress::Kind::Tcp);
    QCOMPARE(tcp.toString(), QStringLiteral("[::1]:8000"));
    QCOMPARE(BrokerAddress::parse(QStringLiteral("[::1]:8000")), tcp);

    const BrokerAddress local = BrokerAddress::unixSocket(QStringLiteral("/tmp/k.sock"));
    QVERIFY(local.isUnix());
    QCOMPARE(local.toString(), QStringLiteral("unix:/tmp/k.sock"));
    QVERIFY(local != tcp);
}

void tst_BrokerAddress::defaultIsInvalid()
{
    const BrokerAddress address;
    QVERIFY(!address.isValid());
    QCOMPARE(address.kind(), BrokerAddress::Kind::Invalid);
    QVERIFY(address.toString().isEmpty());
    QCOMPARE(address, BrokerAddress());
}

QTEST_APPLESS_MAIN(tst_BrokerAddress)

#include "tst_brokeraddress.moc"
