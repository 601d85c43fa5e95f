// Topic grammar (clientlib/protocol/topicname) and the broker's TopicTree, against one table of
// topics x filters that includes the MQTT 3.1.1 specification's own examples (4.7.1, 4.7.2).
#include "framecodec.h"
#include "topiccodec.h"
#include "topicname.h"
#include "topictree.h"

#include <QtTest>

#include <set>

using namespace Kennel;

namespace {

struct Case
{
    const char *filter;
    const char *topic;
    bool match;
};

const Case cases[] = {
    // MQTT 4.7.1.2: multi-level wildcard.
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/tennis/player1/#", "sport/tennis/player2", false},
    {"sport/tennis/player1/#", "sport/tennis", false},
    {"sport/#", "sport", true},
    {"sport/#", "sports", false},
    {"#", "sport/tennis/player1", true},
    {"#", "/", true},
    // MQTT 4.7.1.3: single-level wildcard.
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player2", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"+", "finance", true},
    {"+/tennis/#", "sport/tennis", true},
    {"+/tennis/#", "sport/tennis/x/y", true},
    {"+/tennis/#", "sport/golf", false},
    {"sport/+/player1", "sport/tennis/player1", true},
    {"sport/+/player1", "sport/tennis/player2", false},
    {"+/+/+", "a/b/c", true},
    {"+/+/+", "a/b", false},
    {"+/+/+", "a/b/c/d", false},
    // MQTT 4.7.2: '$' topics are not matched by a leading wildcard.
    {"#", "$SYS/monitor/Clients", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"$SYS/#", "$SYS/monitor/Clients", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"$SYS", "$SYS", true},
    {"a/#", "a/$x", true}, // '$' only counts as the first character of the topic
    // Exact levels, empty levels, case.
    {"a/b/c", "a/b/c", true},
    {"a/b/c", "a/b", false},
    {"a/b", "a/b/c", false},
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"/", "/", true},
    {"Sport", "sport", false},
    {"a/b/#", "a/b/", true},
    {"a/+/#", "a/b", true},
    {"a/+/#", "a", false},
};

} // namespace

class tst_Topics : public QObject
{
    Q_OBJECT

private slots:
    void names_data();
    void names();
    void filters_data();
    void filters();
    void bounds();
    void referenceMatcher();
    void treeAgreesWithTable();
    void treeAddRemovePrunes();
    void treeDoesNotWalkEverySubscription();
    void codecRoundTrips();
    void codecRefusesShortPayloads();
    void publicationFrameDecodes();
};

void tst_Topics::names_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<int>("check");
    QTest::newRow("plain") << QByteArray("sensors/kitchen/temp") << int(Topic::Check::Ok);
    QTest::newRow("one level") << QByteArray("x") << int(Topic::Check::Ok);
    QTest::newRow("empty levels") << QByteArray("/a//") << int(Topic::Check::Ok);
    QTest::newRow("space and utf8") << QByteArray("caf\xc3\xa9 au lait") << int(Topic::Check::Ok);
    QTest::newRow("dollar") << QByteArray("$SYS/x") << int(Topic::Check::Ok);
    QTest::newRow("empty") << QByteArray() << int(Topic::Check::Empty);
    QTest::newRow("plus") << QByteArray("a/+") << int(Topic::Check::Wildcard);
    QTest::newRow("hash") << QByteArray("a/#") << int(Topic::Check::Wildcard);
    QTest::newRow("hash inside") << QByteArray("a#b") << int(Topic::Check::Wildcard);
    QTest::newRow("nul") << QByteArray("a\0b", 3) << int(Topic::Check::BadBytes);
    QTest::newRow("not utf8") << QByteArray("a/\xff") << int(Topic::Check::BadBytes);
}

void tst_Topics::names()
{
    QFETCH(QByteArray, name);
    QFETCH(int, check);
    QCOMPARE(int(Topic::checkName(name)), check);
}

void tst_Topics::filters_data()
{
    QTest::addColumn<QByteArray>("filter");
    QTest::addColumn<int>("check");
    // MQTT 4.7.1.2/4.7.1.3's valid and invalid filters.
    QTest::newRow("#") << QByteArray("#") << int(Topic::Check::Ok);
    QTest::newRow("sport/tennis/#") << QByteArray("sport/tennis/#") << int(Topic::Check::Ok);
    QTest::newRow("sport/tennis#") << QByteArray("sport/tennis#") << int(Topic::Check::MisplacedWildcard);
    QTest::newRow("sport/tennis/#/ranking") << QByteArray("sport/tennis/#/ranking") << int(Topic::Check::MisplacedWildcard);
    QTest::newRow("+") << QByteArray("+") << int(Topic::Check::Ok);
    QTest::newRow("+/tennis/#") << QByteArray("+/tennis/#") << int(Topic::Check::Ok);
    QTest::newRow("sport+") << QByteArray("sport+") << int(Topic::Check::MisplacedWildcard);
    QTest::newRow("sport/+/player1") << QByteArray("sport/+/player1") << int(Topic::Check::Ok);
    QTest::newRow("+/+") << QByteArray("+/+") << int(Topic::Check::Ok);
    QTest::newRow("/+") << QByteArray("/+") << int(Topic::Check::Ok);
    QTest::newRow("+a") << QByteArray("+a") << int(Topic::Check::MisplacedWildcard);
    QTest::newRow("##") << QByteArray("##") << int(Topic::Check::MisplacedWildcard);
    QTest::newRow("#/") << QByteArray("#/") << int(Topic::Check::MisplacedWildcard);
    QTest::newRow("empty") << QByteArray() << int(Topic::Check::Empty);
    QTest::newRow("nul") << QByteArray("+/\0", 3) << int(Topic::Check::BadBytes);
}

void tst_Topics::filters()
{
    QFETCH(QByteArray, filter);
    QFETCH(int, check);
    QCOMPARE(int(Topic::checkFilter(filter)), check);
}

void tst_Topics::bounds()
{
    // Length: the edge and one past it.
    const QByteArray at(40, 'a');
    const QByteArray over(41, 'a');
    QCOMPARE(Topic::checkName(at, 40, 16), Topic::Check::Ok);
    QCOMPARE(Topic::checkName(over, 40, 16), Topic::Check::TooLong);
    QCOMPARE(Topic::checkFilter(over, 40, 16), Topic::Check::TooLong);
    // Levels: 4 allowed, 5 refused; "a/#" counts '#' as a level.
    QCOMPARE(Topic::checkName("a/b/c/d", 256, 4), Topic::Check::Ok);
    QCOMPARE(Topic::checkName("a/b/c/d/e", 256, 4), Topic::Check::TooManyLevels);
    QCOMPARE(Topic::checkFilter("a/b/c/#", 256, 4), Topic::Check::Ok);
    QCOMPARE(Topic::checkFilter("a/b/c/d/#", 256, 4), Topic::Check::TooManyLevels);
    QCOMPARE(Topic::checkName("////", 256, 4), Topic::Check::TooManyLevels);
    // The wire's own bound is the u16 length field whatever the configured one.
    QCOMPARE(Topic::checkName(QByteArray(Topic::MaxLength + 1, 'x'), 1 << 20, 16), Topic::Check::TooLong);
}

void tst_Topics::referenceMatcher()
{
    for (const Case &c : cases) {
        QVERIFY2(Topic::checkFilter(c.filter) == Topic::Check::Ok, c.filter);
        QVERIFY2(Topic::checkName(c.topic) == Topic::Check::Ok, c.topic);
        QVERIFY2(Topic::matches(c.filter, c.topic) == c.match,
                 qPrintable(QStringLiteral("%1 vs %2").arg(QLatin1String(c.filter), QLatin1String(c.topic))));
    }
}

// One tree holding every filter of the table, each as its own subscriber: for every topic, the
// subscribers it reaches are exactly the filters the table (and the reference matcher) says.
void tst_Topics::treeAgreesWithTable()
{
    TopicTree tree;
    QList<QByteArray> filters;
    QList<QByteArray> topics;
    for (const Case &c : cases) {
        if (!filters.contains(c.filter))
            filters.append(c.filter);
        if (!topics.contains(c.topic))
            topics.append(c.topic);
    }
    std::vector<int> ids(size_t(filters.size()));
    auto subscriber = [&](int i) { return reinterpret_cast<TopicSubscriber *>(&ids[size_t(i)]); };
    for (int i = 0; i < filters.size(); ++i)
        QVERIFY(tree.add(filters[i], subscriber(i)));
    QCOMPARE(tree.size(), filters.size());
    for (const QByteArray &topic : std::as_const(topics)) {
        std::multiset<TopicSubscriber *> got;
        tree.match(topic, [&](TopicSubscriber *s) { got.insert(s); });
        std::multiset<TopicSubscriber *> want;
        for (int i = 0; i < filters.size(); ++i)
            if (Topic::matches(filters[i], topic))
                want.insert(subscriber(i));
        QVERIFY2(got == want, topic.constData());
    }
    // And the table's own verdicts, through the tree.
    for (const Case &c : cases) {
        const int i = int(filters.indexOf(c.filter));
        bool hit = false;
        tree.match(c.topic, [&](TopicSubscriber *s) { hit |= s == subscriber(i); });
        QVERIFY2(hit == c.match, qPrintable(QStringLiteral("%1 vs %2").arg(QLatin1String(c.filter), QLatin1String(c.topic))));
    }
}

void tst_Topics::treeAddRemovePrunes()
{
    TopicTree tree;
    int a = 0, b = 0;
    auto *sa = reinterpret_cast<TopicSubscriber *>(&a);
    auto *sb = reinterpret_cast<TopicSubscriber *>(&b);
    QVERIFY(tree.add("x/+/z", sa));
    QVERIFY(!tree.add("x/+/z", sa)); // once per subscriber and filter
    QVERIFY(tree.add("x/+/z", sb));
    QVERIFY(tree.add("x/#", sa));
    QCOMPARE(tree.size(), 3);
    int hits = 0;
    tree.match("x/y/z", [&](TopicSubscriber *) { ++hits; });
    QCOMPARE(hits, 3);
    QVERIFY(!tree.remove("x/y/z", sa)); // never subscribed
    QVERIFY(tree.remove("x/+/z", sa));
    QVERIFY(tree.remove("x/+/z", sb));
    QVERIFY(tree.remove("x/#", sa));
    QCOMPARE(tree.size(), 0);
    QCOMPARE(tree.nodeCount(), 1); // only the root is left
}

// 10 000 subscriptions on other topics cost a publication nothing: the walk visits only the
// nodes on the topic's path, counted through the visitor as hits (none) and timed against a
// bound that a walk of every subscription could not meet.
void tst_Topics::treeDoesNotWalkEverySubscription()
{
    TopicTree tree;
    std::vector<int> ids(10000);
    for (int i = 0; i < 10000; ++i)
        QVERIFY(tree.add(QByteArray(QByteArray("dev/") + QByteArray::number(i) + "/temp"), reinterpret_cast<TopicSubscriber *>(&ids[size_t(i)])));
    int one = 0;
    QVERIFY(tree.add("dev/+/humidity", reinterpret_cast<TopicSubscriber *>(&one)));
    int hits = 0;
    QElapsedTimer clock;
    clock.start();
    for (int n = 0; n < 100000; ++n)
        tree.match("dev/77/humidity", [&](TopicSubscriber *) { ++hits; });
    const qint64 ms = clock.elapsed();
    QCOMPARE(hits, 100000);
    // 100 000 walks of 10 001 subscriptions would be 10^9 steps; the tree does ~4 lookups each.
    QVERIFY2(ms < 2000, qPrintable(QString::number(ms)));
}

void tst_Topics::codecRoundTrips()
{
    QCOMPARE(encodeTopicFilter("a/+"), QByteArray("\x00\x03" "a/+", 5));
    QCOMPARE(*decodeTopicFilter(encodeTopicFilter("a/+")), QByteArrayView("a/+"));
    QCOMPARE(*decodeTopicFilter(QByteArray(encodeTopicFilter("a/+") + "reserved")), QByteArrayView("a/+")); // trailing bytes ignored
    const QByteArray message("\0\1binary", 8);
    const QByteArray encoded = encodeTopicMessage("t/x", message); // the decoded message views it
    const std::optional<TopicMessage> m = decodeTopicMessage(encoded);
    QVERIFY(m);
    QCOMPARE(m->topic, QByteArrayView("t/x"));
    QCOMPARE(m->message, QByteArrayView(message));
    QVERIFY(decodeTopicMessage(encodeTopicMessage("t", {}))->message.isEmpty());
    const std::optional<TopicAckPayload> ack = decodeTopicAck(encodeTopicAck({ErrorCode::TooManySubscriptions, 7, QStringLiteral("why")}));
    QVERIFY(ack);
    QCOMPARE(ack->result, ErrorCode::TooManySubscriptions);
    QCOMPARE(ack->count, 7u);
    QCOMPARE(ack->text, QStringLiteral("why"));
    const std::optional<PublishStatusPayload> st = decodePublishStatus(encodePublishStatus({ErrorCode::RetainedStoreFull, 3, 0x01020304, {}}));
    QVERIFY(st);
    QCOMPARE(st->result, ErrorCode::RetainedStoreFull);
    QCOMPARE(st->delivered, 3u);
    QCOMPARE(st->notTaken, 0x01020304u);
    QVERIFY(st->text.isEmpty());
}

void tst_Topics::codecRefusesShortPayloads()
{
    QVERIFY(!decodeTopicFilter({}));
    QVERIFY(!decodeTopicFilter(QByteArray(1, '\0')));
    QVERIFY(!decodeTopicFilter(QByteArray("\x00\x04" "abc", 5))); // claims one byte more than it has
    QVERIFY(decodeTopicFilter(QByteArray("\x00\x00", 2))->isEmpty()); // empty: the grammar refuses it, not the codec
    QVERIFY(!decodeTopicMessage(QByteArray("\xff\xff" "abc", 5)));
    QVERIFY(!decodeTopicAck(QByteArray(5, '\0')));
    QVERIFY(decodeTopicAck(QByteArray(6, '\0')));
    QVERIFY(!decodePublishStatus(QByteArray(9, '\0')));
    QVERIFY(decodePublishStatus(QByteArray(10, '\0')));
}

// The broker writes a Publication in place, once; a reader decodes it with the ordinary codec.
void tst_Topics::publicationFrameDecodes()
{
    const size_t size = publicationFrameSize("pub-1", "a/b", "hello");
    QCOMPARE(size, size_t(Wire::HeaderSize + 5 + 2 + 3 + 5));
    QByteArray bytes(qsizetype(size), '\xAA');
    writePublication(bytes.data(), 42, RetainFlag, "pub-1", "a/b", "hello");
    const DecodeResult r = decodeFrame(bytes, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.consumed, qsizetype(size));
    QCOMPARE(r.frame.type, FrameType::Publication);
    QCOMPARE(r.frame.messageId, 42u);
    QCOMPARE(r.frame.flags, quint16(RetainFlag));
    QCOMPARE(r.frame.source, QByteArrayView("pub-1"));
    QVERIFY(r.frame.target.isEmpty());
    const std::optional<TopicMessage> m = decodeTopicMessage(r.frame.payload);
    QCOMPARE(m->topic, QByteArrayView("a/b"));
    QCOMPARE(m->message, QByteArrayView("hello"));
    QCOMPARE(frameTypeName(FrameType::Publication), "publication");
    QCOMPARE(errorCodeName(ErrorCode::RetainedStoreFull), "retained_store_full");
}

QTEST_GUILESS_MAIN(tst_Topics)
#include "tst_topics.moc"
