// kennel-monitor's link and models without a broker: every model under QAbstractItemModelTester
// while fed synthetic monitor frames built with monitorcodec; the ring buffer wrapping past its
// capacity; 100,000 records arriving in batches; the link decoding a stream split at every byte
// offset; the handshake and its refusals; the CSV export, byte for byte.
#include "monitorfixture.h"

#include "clientsmodel.h"
#include "csvexport.h"
#include "eventsmodel.h"
#include "format.h"
#include "heldnames.h"
#include "monitorfeed.h"
#include "rateseries.h"
#include "servicesmodel.h"
#include "trafficfilterproxy.h"
#include "trafficmodel.h"

#include <QAbstractItemModelTester>
#include <QBuffer>
#include <QFile>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QTest>

using namespace Kennel;
using namespace MonitorTest;

namespace {

constexpr auto Fatal = QAbstractItemModelTester::FailureReportingMode::QtTest;

QList<MonitorTrafficRecord> records(qint64 first, qint64 count)
{
    QList<MonitorTrafficRecord> list;
    list.reserve(count);
    for (qint64 i = first; i < first + count; ++i)
        list.append(record(i));
    return list;
}

QString previewAt(const QAbstractItemModel &model, int row)
{
    return model.index(row, TrafficModel::PreviewColumn).data().toString();
}

} // namespace

class tst_MonitorModels : public QObject
{
    Q_OBJECT

private slots:
    // Pure helpers.
    void fingerprints_data();
    void fingerprints();
    void previewIsSafeText();

    // Models.
    void clientsSnapshotUpdatesAndGone();
    void clientsBatchCoalescesSignals();
    void clientsDeadlineCountsDown();
    void clientsSortAndFilterThroughProxy();
    void servicesUpsertAndCountdown();
    void trafficWrapsAtCapacity();
    void trafficBatchLargerThanCapacity();
    void trafficHundredThousandInBatches();
    void trafficPauseHoldsBackAndResumeShows();
    void trafficDropMarkers();
    void trafficFilterProxy();
    void eventsRing();
    void eventsRepeatsMerge();
    void rateSeriesFromTotals();
    void rateSeriesSmoothed();

    // Link.
    void linkHandshakeSendsHelloThenSubscribe();
    void linkDecodesStreamSplitAtEveryOffset();
    void linkDecodesStreamByteByByte();
    void linkSkipsMalformedPayloads();
    void linkRefusedTokenIsFinal();
    void linkControlRequests();
    void linkRefusesBadConfiguration();

    // Feed: link -> models in batches.
    void feedBatchesIntoModels();
    void feedSnapshotReplacesTables();
    // Held delivery (PROTOCOL §6.7).
    void feedHeldIntoClientsServicesAndTraffic();

    // CSV.
    void csvEscaping_data();
    void csvEscaping();
    void csvExportOfTraffic();

private:
    QByteArray sampleStream(QStringList *expected) const;
    void recordSignals(MonitorLink &link, QStringList *log) const;
};

// --- helpers --------------------------------------------------------------------------------

void tst_MonitorModels::fingerprints_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("valid");
    const QString hex = QStringLiteral("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    QTest::newRow("plain") << hex << true;
    QTest::newRow("upper with colons") << QString::fromLatin1(QByteArray::fromHex(hex.toLatin1()).toHex(':').toUpper()) << true;
    QTest::newRow("spaces") << QStringLiteral("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff") << true;
    QTest::newRow("short") << hex.left(62) << false;
    QTest::newRow("sha1 length") << hex.left(40) << false;
    QTest::newRow("not hex") << QString(hex).replace(0, 1, QStringLiteral("g")) << false;
    QTest::newRow("empty") << QString() << false;
}

void tst_MonitorModels::fingerprints()
{
    QFETCH(QString, text);
    QFETCH(bool, valid);
    const std::optional<QByteArray> sha = MonitorLink::parseFingerprint(text);
    QCOMPARE(sha.has_value(), valid);
    if (valid) {
        QCOMPARE(sha->size(), 32);
        QCOMPARE(MonitorLink::parseFingerprint(MonitorLink::formatFingerprint(*sha)), sha);
        QVERIFY(MonitorLink::formatFingerprint(*sha).startsWith(QStringLiteral("00:11:22")));
    }
}

void tst_MonitorModels::previewIsSafeText()
{
    QCOMPARE(Format::previewText("hello"), QStringLiteral("hello"));
    // Line breaks, NULs and undecodable bytes must not reach a table cell or a CSV line as such.
    const QString text = Format::previewText(QByteArray("a\nb\0c\xff", 6));
    QCOMPARE(text.size(), 6);
    QVERIFY(!text.contains(u'\n'));
    QVERIFY(!text.contains(QChar(0)));
    QCOMPARE(text.at(0), u'a');
    QCOMPARE(text.at(1), QChar(0x00b7));
    QCOMPARE(Format::previewHex(QByteArray("\x4b\x4e\x01", 3)), QStringLiteral("4b 4e 01"));
}

// --- ClientsModel ------------------------------------------------------------------------------

void tst_MonitorModels::clientsSnapshotUpdatesAndGone()
{
    ClientsModel model;
    QAbstractItemModelTester tester(&model, Fatal);

    model.apply({client(1, "alpha"), client(2, "beta", MonitorWatchState::Healthy, 2500, 7), client(3, "gamma")});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.index(1, ClientsModel::NameColumn).data().toString(), QStringLiteral("beta"));
    QCOMPARE(model.index(1, ClientsModel::FeedsColumn).data().toString(), QStringLiteral("7"));
    QCOMPARE(model.index(1, ClientsModel::WatchStateColumn).data().toString(), QStringLiteral("healthy"));
    QVERIFY(model.index(1, ClientsModel::WatchStateColumn).data(Qt::BackgroundRole).isValid());
    QVERIFY(!model.index(0, ClientsModel::WatchStateColumn).data(Qt::BackgroundRole).isValid());
    QCOMPARE(model.index(1, ClientsModel::TermsColumn).data().toString(), QStringLiteral("1.0 s × 3"));

    // An update for beta, gamma leaves, delta joins, a watchdog event turns alpha... nothing (it
    // is not watched) and beta late.
    MonitorClient beta = client(2, "beta", MonitorWatchState::Healthy, 2000, 9);
    beta.messagesIn = 42;
    MonitorClientGone gone;
    gone.sessionId = 3;
    gone.reason = QStringLiteral("peer closed the connection");
    model.apply({beta, gone, client(4, "delta"),
                 ClientsModel::WatchChange{2, MonitorWatchdogEventKind::Late, 9}});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.rowOf(3), -1);
    QCOMPARE(model.rowOf(4), 2);
    QCOMPARE(model.client(model.rowOf(2)).messagesIn, quint64(42));
    QCOMPARE(model.client(model.rowOf(2)).watchState, MonitorWatchState::Late);
    QCOMPARE(model.index(model.rowOf(2), ClientsModel::WatchStateColumn).data().toString(), QStringLiteral("late"));

    // Expired, then gone.
    model.apply({ClientsModel::WatchChange{2, MonitorWatchdogEventKind::Expired, 9}});
    QCOMPARE(model.index(model.rowOf(2), ClientsModel::DeadlineColumn).data().toString(), QStringLiteral("expired"));
    gone.sessionId = 2;
    model.apply({gone});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowOf(1), 0);
    QCOMPARE(model.rowOf(4), 1);

    // A session that joins and leaves within one batch never shows; an update after its
    // departure does not bring it back.
    MonitorClientGone quick;
    quick.sessionId = 5;
    model.apply({client(5, "flicker"), quick, client(5, "flicker")});
    QCOMPARE(model.rowOf(5), -1);
    QCOMPARE(model.rowCount(), 2);

    model.clear();
    QCOMPARE(model.rowCount(), 0);
}

void tst_MonitorModels::clientsBatchCoalescesSignals()
{
    ClientsModel model;
    QAbstractItemModelTester tester(&model, Fatal);
    QList<ClientsModel::Change> snapshot;
    for (quint64 id = 1; id <= 500; ++id)
        snapshot.append(client(id, "c" + QByteArray::number(id), MonitorWatchState::Healthy, 2000));
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    model.apply(snapshot);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(model.rowCount(), 500);

    // 2,000 updates to existing rows: one dataChanged. Every other row of the first hundred
    // leaves: fifty single-row removals (not contiguous); rows 200..299 leave: one removal.
    inserted.clear();
    QList<ClientsModel::Change> batch;
    for (int round = 0; round < 4; ++round)
        for (quint64 id = 1; id <= 500; ++id)
            batch.append(client(id, "c" + QByteArray::number(id), MonitorWatchState::Healthy, 1000 + round));
    for (quint64 id = 2; id <= 100; id += 2) {
        MonitorClientGone g;
        g.sessionId = id;
        batch.append(g);
    }
    for (quint64 id = 201; id <= 300; ++id) {
        MonitorClientGone g;
        g.sessionId = id;
        batch.append(g);
    }
    model.apply(batch);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(removed.count(), 51);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(model.rowCount(), 500 - 50 - 100);
    for (int r = 0; r < model.rowCount(); ++r)
        QCOMPARE(model.rowOf(model.client(r).sessionId), r);
    QCOMPARE(model.client(model.rowOf(1)).msUntilExpiry, qint64(1003));
}

void tst_MonitorModels::clientsDeadlineCountsDown()
{
    qint64 now = 10000;
    ClientsModel model;
    model.setClock([&now] { return now; });
    QAbstractItemModelTester tester(&model, Fatal);
    model.apply({client(1, "watched", MonitorWatchState::Healthy, 3000), client(2, "free")});
    const QModelIndex deadline = model.index(0, ClientsModel::DeadlineColumn);
    QCOMPARE(deadline.data(ClientsModel::DeadlineMsRole).toLongLong(), qint64(3000));
    QCOMPARE(deadline.data(ClientsModel::DeadlineFractionRole).toDouble(), 1.0); // 3000 of 1000 x 3
    QCOMPARE(model.index(0, ClientsModel::SinceFeedColumn).data(), QVariant(QStringLiteral("100 ms")));

    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    now += 1200;
    model.refreshTimes();
    QCOMPARE(changed.count(), 1);
    QCOMPARE(deadline.data(ClientsModel::DeadlineMsRole).toLongLong(), qint64(1800));
    QCOMPARE(deadline.data().toString(), QStringLiteral("1.8 s"));
    QCOMPARE(deadline.data(ClientsModel::DeadlineFractionRole).toDouble(), 0.6);
    QCOMPARE(model.index(0, ClientsModel::SinceFeedColumn).data().toString(), QStringLiteral("1.3 s"));

    // It never goes below zero, and an unwatched client has no deadline.
    now += 60000;
    QCOMPARE(deadline.data(ClientsModel::DeadlineMsRole).toLongLong(), qint64(0));
    QCOMPARE(model.index(1, ClientsModel::DeadlineColumn).data(ClientsModel::DeadlineMsRole).toLongLong(), qint64(-1));
    QCOMPARE(model.index(1, ClientsModel::DeadlineColumn).data(ClientsModel::DeadlineFractionRole).toDouble(), -1.0);

    // A fresh update restarts the count from its own stamp.
    model.apply({client(1, "watched", MonitorWatchState::Healthy, 2900)});
    QCOMPARE(deadline.data(ClientsModel::DeadlineMsRole).toLongLong(), qint64(2900));
}

void tst_MonitorModels::clientsSortAndFilterThroughProxy()
{
    ClientsModel model;
    QSortFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    proxy.setSortRole(ClientsModel::SortRole);
    proxy.setFilterKeyColumn(-1);
    proxy.setFilterCaseSensitivity(Qt::CaseInsensitive);
    QAbstractItemModelTester tester(&proxy, Fatal);
    proxy.sort(ClientsModel::MessagesInColumn, Qt::DescendingOrder);

    MonitorClient a = client(1, "alpha");
    a.messagesIn = 9;
    MonitorClient b = client(2, "beta");
    b.messagesIn = 100; // as text "100" < "9"; as a number it is the largest
    MonitorClient c = client(3, "gamma", MonitorWatchState::Late, 500);
    c.messagesIn = 10;
    model.apply({a, b, c});
    QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("beta"));
    QCOMPARE(proxy.index(1, 0).data().toString(), QStringLiteral("gamma"));
    QCOMPARE(proxy.index(2, 0).data().toString(), QStringLiteral("alpha"));

    proxy.setFilterFixedString(QStringLiteral("LATE"));
    QCOMPARE(proxy.rowCount(), 1);
    QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("gamma"));
    proxy.setFilterFixedString(QString());

    // Updates re-sort.
    a.messagesIn = 1000;
    model.apply({a});
    QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("alpha"));
}

// --- ServicesModel ---------------------------------------------------------------------------------

void tst_MonitorModels::servicesUpsertAndCountdown()
{
    qint64 now = 0;
    ServicesModel model;
    model.setClock([&now] { return now; });
    QAbstractItemModelTester tester(&model, Fatal);
    MonitorService logger;
    logger.name = QStringLiteral("logger");
    logger.state = MonitorServiceState::Running;
    logger.pid = 321;
    logger.starts = 1;
    MonitorService sensor = logger;
    sensor.name = QStringLiteral("sensor");
    model.apply({logger, sensor});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.index(0, ServicesModel::StateColumn).data().toString(), QStringLiteral("running"));

    sensor.state = MonitorServiceState::Backoff;
    sensor.restarts = 2;
    sensor.lastExitSignal = 9;
    sensor.lastExitMs = 1700000000000;
    sensor.msUntilRestart = 2000;
    model.apply({sensor});
    QCOMPARE(model.rowCount(), 2);
    const int row = model.rowOf(QStringLiteral("sensor"));
    QCOMPARE(model.index(row, ServicesModel::RestartsColumn).data().toString(), QStringLiteral("2"));
    QCOMPARE(model.index(row, ServicesModel::LastExitColumn).data().toString(), QStringLiteral("signal 9 (KILL)"));
    QCOMPARE(model.msUntilRestart(row), qint64(2000));
    now += 1500;
    model.refreshTimes();
    QCOMPARE(model.msUntilRestart(row), qint64(500));
    QCOMPARE(model.msUntilRestart(model.rowOf(QStringLiteral("logger"))), qint64(-1));
}

// --- TrafficModel ----------------------------------------------------------------------------------

void tst_MonitorModels::trafficWrapsAtCapacity()
{
    TrafficModel model(1000);
    QAbstractItemModelTester tester(&model, Fatal);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);

    // 2,500 records in batches of 300: the ring keeps the newest 1,000, oldest first.
    int batches = 0;
    for (qint64 first = 0; first < 2500; first += 300, ++batches)
        model.append(records(first, std::min<qint64>(300, 2500 - first)));
    QCOMPARE(model.rowCount(), 1000);
    QCOMPARE(inserted.count(), batches);              // one insertion per batch, never per record
    QVERIFY(removed.count() <= batches);              // at most one removal per batch
    QCOMPARE(previewAt(model, 0), QStringLiteral("msg 1500"));
    QCOMPARE(previewAt(model, 999), QStringLiteral("msg 2499"));
    for (int r = 0; r < model.rowCount(); ++r)
        QCOMPARE(model.entry(r).timeUs, record(1500 + r).timeUs);
    QCOMPARE(model.received(), quint64(2500));
    QCOMPARE(model.overwritten(), quint64(1500));
    // Removals take the oldest rows, insertions append.
    const QList<QVariant> lastRemoval = removed.constLast();
    QCOMPARE(lastRemoval.at(1).toInt(), 0);
    const QList<QVariant> lastInsertion = inserted.constLast();
    QCOMPARE(lastInsertion.at(2).toInt(), 999);
    // Names are shared, not copied per record.
    QCOMPARE(model.entry(0).source.constData(), model.entry(999).source.constData());
}

void tst_MonitorModels::trafficBatchLargerThanCapacity()
{
    TrafficModel model(100);
    QAbstractItemModelTester tester(&model, Fatal);
    model.append(records(0, 40));
    model.append(records(40, 250)); // more than the ring holds in one go
    QCOMPARE(model.rowCount(), 100);
    QCOMPARE(previewAt(model, 0), QStringLiteral("msg 190"));
    QCOMPARE(previewAt(model, 99), QStringLiteral("msg 289"));
    QCOMPARE(model.overwritten(), quint64(190));
    model.clear();
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.received(), quint64(0));
}

void tst_MonitorModels::trafficHundredThousandInBatches()
{
    TrafficModel model; // the application's capacity
    QCOMPARE(model.capacity(), qsizetype(100000));
    QAbstractItemModelTester tester(&model, Fatal);
    TrafficFilterProxy proxy;
    proxy.setSourceModel(&model);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy proxyInserted(&proxy, &QAbstractItemModel::rowsInserted);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);

    // QAbstractItemModelTester re-checks the whole model on every insertion, so it costs far
    // more than the model here; ten batches keep it affordable while it still checks each one.
    constexpr int Batch = 10000;
    int batches = 0;
    for (qint64 first = 0; first < 100000; first += Batch, ++batches)
        model.append(records(first, Batch));
    QCOMPARE(model.rowCount(), 100000);
    QCOMPARE(proxy.rowCount(), 100000);
    QCOMPARE(inserted.count(), batches);
    QCOMPARE(proxyInserted.count(), batches);
    QCOMPARE(reset.count(), 0);

    // One more batch: the oldest 10,000 go, in one removal, and the proxy follows.
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    model.append(records(100000, Batch));
    QCOMPARE(model.rowCount(), 100000);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(removed.first().at(2).toInt(), Batch - 1);
    QCOMPARE(previewAt(model, 0), QStringLiteral("msg 10000"));
    QCOMPARE(previewAt(proxy, 99999), QStringLiteral("msg 109999"));

    // A filter over all of them.
    proxy.setTextFilter(QStringLiteral("msg 9999"));
    QCOMPARE(proxy.rowCount(), 10); // 99990..99999; "msg 9999" itself has been overwritten
    QCOMPARE(previewAt(proxy, 9), QStringLiteral("msg 99999"));
}

void tst_MonitorModels::trafficPauseHoldsBackAndResumeShows()
{
    TrafficModel model(1000);
    QAbstractItemModelTester tester(&model, Fatal);
    QSignalSpy paused(&model, &TrafficModel::pausedChanged);
    model.append(records(0, 10));
    model.setPaused(true);
    QCOMPARE(paused.count(), 1);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.append(records(10, 20));
    model.append(records(30, 5));
    QCOMPARE(model.rowCount(), 10);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(model.heldBack(), qsizetype(25));

    model.setPaused(false);
    QCOMPARE(inserted.count(), 1); // all held-back records in one batch
    QCOMPARE(model.rowCount(), 35);
    QCOMPARE(model.heldBack(), qsizetype(0));
    QCOMPARE(previewAt(model, 34), QStringLiteral("msg 34"));

    // Held back beyond capacity: only the newest survive, and are counted as overwritten.
    model.setPaused(true);
    model.append(records(35, 1500));
    QCOMPARE(model.heldBack(), qsizetype(1000));
    model.setPaused(false);
    QCOMPARE(model.rowCount(), 1000);
    QCOMPARE(previewAt(model, 999), QStringLiteral("msg 1534"));
    QCOMPARE(previewAt(model, 0), QStringLiteral("msg 535"));
}

void tst_MonitorModels::trafficDropMarkers()
{
    TrafficModel model(100);
    QAbstractItemModelTester tester(&model, Fatal);
    model.append(records(0, 3));
    model.appendDropMarker(1700000000123, 42);
    model.append(records(3, 2));
    QCOMPARE(model.rowCount(), 6);
    QCOMPARE(model.droppedByBroker(), quint64(42));
    QCOMPARE(model.received(), quint64(5));
    const QModelIndex marker = model.index(3, TrafficModel::StatusColumn);
    QVERIFY(marker.data(TrafficModel::MarkerRole).toBool());
    QCOMPARE(marker.data().toString(), QStringLiteral("dropped"));
    QVERIFY(previewAt(model, 3).startsWith(QStringLiteral("42 record(s)")));

    TrafficFilterProxy proxy;
    proxy.setSourceModel(&model);
    QCOMPARE(proxy.rowCount(), 6);
    proxy.setSourceFilter(QStringLiteral("alpha"));
    QCOMPARE(proxy.rowCount(), 5); // markers only in the unfiltered view
}

void tst_MonitorModels::trafficFilterProxy()
{
    TrafficModel model(1000);
    TrafficFilterProxy proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester tester(&proxy, Fatal);
    QList<MonitorTrafficRecord> list;
    list << record(1, "alpha", "beta") << record(2, "Alpha2", "gamma") << record(3, "beta", "alpha")
         << record(4, "gamma", "nobody", DeliveryStatus::NoSuchClient);
    list[1].preview = QByteArray("TEMP=21.5\n", 10);
    model.append(list);
    QCOMPARE(proxy.rowCount(), 4);

    proxy.setSourceFilter(QStringLiteral("alpha")); // case-insensitive substring
    QCOMPARE(proxy.rowCount(), 2);
    proxy.setTargetFilter(QStringLiteral("gam"));
    QCOMPARE(proxy.rowCount(), 1);
    QCOMPARE(proxy.index(0, TrafficModel::SourceColumn).data().toString(), QStringLiteral("Alpha2"));
    proxy.setSourceFilter(QString());
    proxy.setTargetFilter(QString());
    proxy.setTextFilter(QStringLiteral("temp="));
    QCOMPARE(proxy.rowCount(), 1);
    QCOMPARE(proxy.index(0, TrafficModel::PreviewColumn).data().toString(), QStringLiteral("TEMP=21.5·"));

    // Hex mode changes what is shown and what the text filter matches.
    proxy.setHexPreview(true);
    QCOMPARE(proxy.rowCount(), 0);
    proxy.setTextFilter(QStringLiteral("32 31 2e 35 0a"));
    QCOMPARE(proxy.rowCount(), 1);
    QCOMPARE(proxy.index(0, TrafficModel::PreviewColumn).data().toString(),
             QStringLiteral("54 45 4d 50 3d 32 31 2e 35 0a"));
    proxy.setTextFilter(QString());
    proxy.setHexPreview(false);
    QCOMPARE(proxy.rowCount(), 4);
    // Undelivered messages stand out.
    QVERIFY(proxy.index(3, TrafficModel::StatusColumn).data(Qt::ForegroundRole).isValid());
    QCOMPARE(proxy.index(3, TrafficModel::StatusColumn).data().toString(), QStringLiteral("no_such_client"));

    // New rows are filtered as they come.
    proxy.setSourceFilter(QStringLiteral("beta"));
    model.append({record(5, "beta", "alpha"), record(6, "alpha", "beta")});
    QCOMPARE(proxy.rowCount(), 2);
}

// --- EventsModel, RateSeries -----------------------------------------------------------------------

// A client sending to a missing name once a second is one line that counts, not a line a message.
void tst_MonitorModels::eventsRepeatsMerge()
{
    EventsModel model(50);
    QAbstractItemModelTester tester(&model, Fatal);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    const qint64 t0 = 1700000000000;
    auto undelivered = [](qint64 t, const QString &who, quint64 count = 1) {
        return EventEntry{t, EventEntry::Kind::Undelivered, who, QStringLiteral("a message it sent was not delivered"), count, 0};
    };
    model.append({undelivered(t0, QStringLiteral("alpha")), undelivered(t0 + 1000, QStringLiteral("alpha"), 2)});
    QCOMPARE(model.rowCount(), 1);
    // Across batches too: the row already shown is updated in place.
    model.append({undelivered(t0 + 2000, QStringLiteral("alpha"))});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.entry(0).count, quint64(4));
    QCOMPARE(model.index(0, EventsModel::TextColumn).data().toString(), QStringLiteral("a message it sent was not delivered (4 times)"));
    QCOMPARE(model.entry(0).timeMs, t0 + 2000);
    QCOMPARE(model.entry(0).firstTimeMs, t0);
    QCOMPARE(model.index(0, EventsModel::KindColumn).data().toString(), QStringLiteral("undelivered"));

    // Another subject, another line; a repeat after it is a new line, and so is one too late.
    model.append({undelivered(t0 + 3000, QStringLiteral("beta")), undelivered(t0 + 4000, QStringLiteral("alpha"))});
    QCOMPARE(model.rowCount(), 3);
    model.append({undelivered(t0 + 4000 + EventsModel::RepeatWindowMs + 1, QStringLiteral("alpha"))});
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.index(3, EventsModel::TextColumn).data().toString(), QStringLiteral("a message it sent was not delivered"));
    // The same text under another kind is not a repeat.
    model.append({EventEntry{t0 + 4000 + EventsModel::RepeatWindowMs + 2, EventEntry::Kind::Refusal, QStringLiteral("alpha"),
                             QStringLiteral("a message it sent was not delivered")}});
    QCOMPARE(model.rowCount(), 5);
}

void tst_MonitorModels::eventsRing()
{
    EventsModel model(50);
    QAbstractItemModelTester tester(&model, Fatal);
    QList<EventEntry> batch;
    for (int i = 0; i < 80; ++i)
        batch.append(EventEntry{1700000000000 + i, EventEntry::Kind::Join, QStringLiteral("c%1").arg(i), QStringLiteral("joined")});
    model.append(batch.mid(0, 30));
    model.append(batch.mid(30));
    QCOMPARE(model.rowCount(), 50);
    QCOMPARE(model.index(0, EventsModel::SubjectColumn).data().toString(), QStringLiteral("c30"));
    QCOMPARE(model.index(49, EventsModel::SubjectColumn).data().toString(), QStringLiteral("c79"));
    QCOMPARE(model.index(0, EventsModel::KindColumn).data().toString(), QStringLiteral("join"));
}

// One message every other second: raw rates alternate 0 and 1; the moving window says 0.5.
void tst_MonitorModels::rateSeriesSmoothed()
{
    RateSeries series(std::chrono::seconds(300));
    QList<MonitorTotals> totals;
    for (int i = 0; i <= 40; ++i) {
        MonitorTotals t;
        t.timeMs = 1000000 + i * 1000;
        t.messagesRouted = quint64(i / 2);
        t.bytesRouted = quint64(i / 2) * 100;
        totals << t;
    }
    series.addTotals(totals);
    QCOMPARE(series.count(), qsizetype(40));
    QCOMPARE(series.peakMessages(), 1.0);
    const int steps = int(RateSeries::SmoothingMs / 1000);
    for (int i = steps; i < 40; ++i) {
        const RateSeries::Sample s = series.smoothed(i);
        QCOMPARE(s.timeMs, series.sample(i).timeMs);
        QCOMPARE(s.messagesPerSecond, 0.5);
        QCOMPARE(s.bytesPerSecond, 50.0);
    }
    QCOMPARE(series.peakSmoothedMessages(), 0.5); // the scale fits the line drawn, not the spikes
    QCOMPARE(series.smoothed(0).messagesPerSecond, series.sample(0).messagesPerSecond); // no history yet
    // A step is followed over the window, not at once.
    QList<MonitorTotals> burst;
    for (int i = 1; i <= steps; ++i) {
        MonitorTotals t = totals.last();
        t.timeMs += i * 1000;
        t.messagesRouted += quint64(i * 10);
        burst << t;
    }
    series.addTotals(burst);
    const int last = int(series.count() - 1);
    QCOMPARE(series.sample(last).messagesPerSecond, 10.0);
    QCOMPARE(series.smoothed(last).messagesPerSecond, 10.0); // a whole window at 10/s
    QVERIFY(series.smoothed(last - steps + 1).messagesPerSecond < 2.0);
}

void tst_MonitorModels::rateSeriesFromTotals()
{
    RateSeries series(std::chrono::seconds(60));
    QAbstractItemModelTester tester(&series, Fatal);
    auto totals = [](qint64 t, quint64 messages, quint64 bytes) {
        MonitorTotals m;
        m.timeMs = t;
        m.messagesRouted = messages;
        m.bytesRouted = bytes;
        return m;
    };
    series.addTotals({totals(1000, 0, 0)});
    QCOMPARE(series.count(), qsizetype(0)); // one Totals is a baseline, not a rate
    series.addTotals({totals(2000, 500, 50000), totals(2500, 1000, 60000)});
    QCOMPARE(series.count(), qsizetype(2));
    QCOMPARE(series.sample(0).messagesPerSecond, 500.0);
    QCOMPARE(series.sample(0).bytesPerSecond, 50000.0);
    QCOMPARE(series.sample(1).messagesPerSecond, 1000.0); // 500 in half a second
    QCOMPARE(series.peakMessages(), 1000.0);

    // A restarted broker (counters back to small numbers) starts a new baseline.
    series.addTotals({totals(3500, 10, 100)});
    QCOMPARE(series.count(), qsizetype(2));
    series.addTotals({totals(4500, 20, 200)});
    QCOMPARE(series.count(), qsizetype(3));
    QCOMPARE(series.sample(2).messagesPerSecond, 10.0);

    // Samples older than the window go.
    QList<MonitorTotals> later;
    for (int i = 1; i <= 70; ++i)
        later.append(totals(4500 + i * 1000, 20 + quint64(i) * 5, 200));
    series.addTotals(later);
    QVERIFY(series.count() <= 61);
    QVERIFY(series.sample(0).timeMs >= later.last().timeMs - 60000);
    QCOMPARE(series.sample(int(series.count() - 1)).messagesPerSecond, 5.0);
}

// --- MonitorLink -----------------------------------------------------------------------------------

void tst_MonitorModels::linkHandshakeSendsHelloThenSubscribe()
{
    FakeDevice device;
    MonitorLink link;
    MonitorLink::Settings s;
    s.token = "s3cret";
    s.name = "kennel-monitor-test";
    s.subscribe.previewBytes = 32;
    link.setSettings(s);
    QSignalSpy states(&link, &MonitorLink::stateChanged);
    link.setTransport(&device);
    link.open();
    QTRY_COMPARE(link.state(), MonitorLink::State::Authenticating);

    // Hello, role Monitor, the token, and nothing else before Welcome.
    QList<Frame> sent = decodeAll(device.written());
    QCOMPARE(sent.size(), 1);
    QCOMPARE(sent.at(0).type, FrameType::Hello);
    QCOMPARE(sent.at(0).source, QByteArray("kennel-monitor-test"));
    const std::optional<HelloPayload> hello = decodeHello(sent.at(0).payload);
    QVERIFY(hello);
    QCOMPARE(hello->role, Role::Monitor);
    QCOMPARE(hello->token, QByteArray("s3cret"));

    device.push(welcome());
    QCOMPARE(link.state(), MonitorLink::State::Live);
    QCOMPARE(link.brokerVersion(), QStringLiteral("9.9.9"));
    sent = decodeAll(device.written());
    QCOMPARE(sent.size(), 2);
    QCOMPARE(sent.at(1).type, MonitorFrame::Subscribe);
    const std::optional<MonitorSubscribe> subscribe = decodeMonitorSubscribe(sent.at(1).payload);
    QVERIFY(subscribe);
    QCOMPARE(subscribe->previewBytes, quint16(32));
    QVERIFY(link.statusText().startsWith(QStringLiteral("Live")));

    QList<MonitorLink::State> seen;
    for (const QList<QVariant> &args : std::as_const(states))
        seen << args.at(0).value<MonitorLink::State>();
    QCOMPARE(seen, (QList<MonitorLink::State>{MonitorLink::State::Connecting, MonitorLink::State::Authenticating,
                                              MonitorLink::State::Live}));

    // The broker pings; the link answers.
    device.written().clear();
    device.push(frame(FrameType::Ping, "abc", 77));
    sent = decodeAll(device.written());
    QCOMPARE(sent.size(), 1);
    QCOMPARE(sent.at(0).type, FrameType::Pong);
    QCOMPARE(sent.at(0).messageId, 77u);

    link.close();
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    QVERIFY(link.lastError().isEmpty());
}

void tst_MonitorModels::recordSignals(MonitorLink &link, QStringList *log) const
{
    connect(&link, &MonitorLink::snapshotBegan, this, [log](const MonitorSnapshotBegin &s) {
        *log << QStringLiteral("begin %1/%2 %3").arg(s.clientCount).arg(s.serviceCount).arg(s.monitorIdentity);
    });
    connect(&link, &MonitorLink::snapshotEnded, this, [log] { *log << QStringLiteral("end"); });
    connect(&link, &MonitorLink::clientUpdated, this, [log](const MonitorClient &c) {
        *log << QStringLiteral("client %1 %2 feeds %3").arg(c.sessionId).arg(QString::fromLatin1(c.name)).arg(c.feeds);
    });
    connect(&link, &MonitorLink::clientGone, this, [log](const MonitorClientGone &g) {
        *log << QStringLiteral("gone %1 %2").arg(g.sessionId).arg(g.reason);
    });
    connect(&link, &MonitorLink::serviceUpdated, this, [log](const MonitorService &s) {
        *log << QStringLiteral("service %1 %2").arg(s.name).arg(int(s.state));
    });
    connect(&link, &MonitorLink::watchdogEvent, this, [log](const MonitorWatchdogEvent &e) {
        *log << QStringLiteral("watchdog %1 %2 %3").arg(e.sessionId).arg(int(e.kind)).arg(e.detail);
    });
    connect(&link, &MonitorLink::trafficBatch, this, [log](const QList<MonitorTrafficRecord> &records) {
        QStringList previews;
        for (const MonitorTrafficRecord &r : records)
            previews << QString::fromLatin1(r.preview);
        *log << QStringLiteral("traffic %1").arg(previews.join(u','));
    });
    connect(&link, &MonitorLink::trafficDropped, this, [log](const MonitorTrafficDropped &d) {
        *log << QStringLiteral("dropped %1").arg(d.dropped);
    });
    connect(&link, &MonitorLink::totals, this, [log](const MonitorTotals &t) {
        *log << QStringLiteral("totals %1").arg(t.messagesRouted);
    });
    connect(&link, &MonitorLink::controlResult, this, [log](quint32 id, const MonitorControlResult &r) {
        *log << QStringLiteral("result %1 %2 %3").arg(id).arg(int(r.code)).arg(r.text);
    });
    connect(&link, &MonitorLink::errorReceived, this, [log](ErrorCode code, const QString &text) {
        *log << QStringLiteral("error %1 %2").arg(int(code)).arg(text);
    });
}

// A stream with one frame of every kind the broker sends, and the signals it must produce.
QByteArray tst_MonitorModels::sampleStream(QStringList *expected) const
{
    QByteArray s;
    MonitorSnapshotBegin begin;
    begin.brokerTimeMs = 1700000000000;
    begin.clientCount = 2;
    begin.serviceCount = 1;
    begin.brokerVersion = QStringLiteral("0.1.0");
    begin.monitorIdentity = QStringLiteral("token");
    s += frame(MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin));
    *expected << QStringLiteral("begin 2/1 token");
    s += frame(MonitorFrame::Client, encodeMonitorClient(client(1, "alpha", MonitorWatchState::Healthy, 900, 5)), 0, "alpha");
    *expected << QStringLiteral("client 1 alpha feeds 5");
    s += frame(MonitorFrame::Client, encodeMonitorClient(client(2, "beta")), 0, "beta");
    *expected << QStringLiteral("client 2 beta feeds 0");
    MonitorService service;
    service.name = QStringLiteral("sensor");
    service.state = MonitorServiceState::Running;
    s += frame(MonitorFrame::Service, encodeMonitorService(service));
    *expected << QStringLiteral("service sensor 2");
    s += frame(MonitorFrame::SnapshotEnd, {});
    *expected << QStringLiteral("end");
    MonitorWatchdogEvent late;
    late.sessionId = 1;
    late.name = "alpha";
    late.kind = MonitorWatchdogEventKind::Late;
    late.detail = QStringLiteral("no feed for 1000 ms");
    s += frame(MonitorFrame::WatchdogEvent, encodeMonitorWatchdogEvent(late));
    *expected << QStringLiteral("watchdog 1 1 no feed for 1000 ms");
    s += frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch({record(1), record(2), record(3)}));
    *expected << QStringLiteral("traffic msg 1,msg 2,msg 3");
    MonitorTrafficDropped dropped;
    dropped.dropped = 17;
    s += frame(MonitorFrame::TrafficDropped, encodeMonitorTrafficDropped(dropped));
    *expected << QStringLiteral("dropped 17");
    MonitorTotals totals;
    totals.messagesRouted = 1234;
    s += frame(MonitorFrame::Totals, encodeMonitorTotals(totals));
    *expected << QStringLiteral("totals 1234");
    MonitorClientGone gone;
    gone.sessionId = 2;
    gone.reason = QStringLiteral("peer closed the connection");
    s += frame(MonitorFrame::ClientGone, encodeMonitorClientGone(gone));
    *expected << QStringLiteral("gone 2 peer closed the connection");
    s += frame(MonitorFrame::ControlResult, encodeMonitorControlResult({ErrorCode::InvalidName, QStringLiteral("no such client")}), 9);
    *expected << QStringLiteral("result 9 6 no such client");
    // A frame type from a newer broker is ignored, and so is a client frame.
    s += frame(FrameType(0x7e), "future");
    s += frame(FrameType::Deliver, "stray", 0, "x", "y");
    s += error(ErrorCode::UnknownFrameType, QStringLiteral("not for monitors"));
    *expected << QStringLiteral("error 5 not for monitors");
    return s;
}

void tst_MonitorModels::linkDecodesStreamSplitAtEveryOffset()
{
    FakeDevice device;
    MonitorLink link;
    QVERIFY(goLive(link, device));
    QStringList expected;
    const QByteArray stream = sampleStream(&expected);
    QStringList log;
    recordSignals(link, &log);

    for (qsizetype cut = 0; cut <= stream.size(); ++cut) {
        log.clear();
        device.push(QByteArrayView(stream).first(cut));
        device.push(QByteArrayView(stream).sliced(cut));
        if (log != expected) {
            qWarning() << "split at" << cut << "of" << stream.size();
            QCOMPARE(log, expected);
        }
        QCOMPARE(link.state(), MonitorLink::State::Live);
    }
    QCOMPARE(link.malformedFrames(), quint64(0));
}

void tst_MonitorModels::linkDecodesStreamByteByByte()
{
    FakeDevice device;
    MonitorLink link;
    QVERIFY(goLive(link, device));
    QStringList expected;
    const QByteArray stream = sampleStream(&expected);
    QStringList log;
    recordSignals(link, &log);
    for (qsizetype i = 0; i < stream.size(); ++i)
        device.push(QByteArrayView(stream).sliced(i, 1));
    QCOMPARE(log, expected);
}

void tst_MonitorModels::linkSkipsMalformedPayloads()
{
    FakeDevice device;
    MonitorLink link;
    QVERIFY(goLive(link, device));
    QStringList log;
    recordSignals(link, &log);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("skipped a malformed")));
    device.push(frame(MonitorFrame::Client, "\x01\x02"));     // far too short
    device.push(frame(MonitorFrame::Totals, encodeMonitorTotals({})));
    QCOMPARE(log, QStringList{QStringLiteral("totals 0")});
    QCOMPARE(link.malformedFrames(), quint64(1));
    QCOMPARE(link.state(), MonitorLink::State::Live);

    // Framing that is lost ends the connection.
    device.push(QByteArray("XXXXXXXXXXXXXXXXXXXX"));
    QCOMPARE(link.state(), MonitorLink::State::Disconnected); // a given transport is not re-opened
    QVERIFY(link.lastError().contains(QStringLiteral("undecodable")));
}

void tst_MonitorModels::linkRefusedTokenIsFinal()
{
    FakeDevice device;
    MonitorLink link;
    MonitorLink::Settings s;
    s.address = BrokerAddress::tcp(QStringLiteral("127.0.0.1"), 9); // would allow a retry
    s.token = "wrong";
    link.setSettings(s);
    QStringList log;
    recordSignals(link, &log);
    link.setTransport(&device);
    link.open();
    QTRY_COMPARE(link.state(), MonitorLink::State::Authenticating);
    device.push(error(ErrorCode::NotPermitted, QStringLiteral("monitor token refused"), 1));
    // Not Reconnecting: the same token would be refused again, and each try costs a penalty.
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    QVERIFY2(link.lastError().contains(QStringLiteral("not_permitted")), qPrintable(link.lastError()));
    QVERIFY(link.lastError().contains(QStringLiteral("monitor token refused")));
    QVERIFY(link.statusText().startsWith(QStringLiteral("Disconnected: ")));
    QCOMPARE(log, QStringList{QStringLiteral("error 14 monitor token refused")});
    QCOMPARE(link.msUntilReconnect(), qint64(-1));
}

void tst_MonitorModels::linkControlRequests()
{
    FakeDevice device;
    MonitorLink link;
    QCOMPARE(link.disconnectClient("alpha"), 0u); // not live: nothing sent
    QVERIFY(goLive(link, device));
    device.written().clear();
    const quint32 a = link.disconnectClient("alpha");
    const quint32 b = link.sendTestMessage("beta", "hello beta");
    const quint32 c = link.restartService(QStringLiteral("sensor"));
    const quint32 d = link.stopService(QStringLiteral("sensor"));
    const quint32 e = link.startService(QStringLiteral("sensor"));
    QVERIFY(a && b && c && d && e);
    QCOMPARE(QSet<quint32>({a, b, c, d, e}).size(), 5);
    QCOMPARE(link.disconnectClient(QByteArray()), 0u); // no target, nothing sent
    const QList<Frame> sent = decodeAll(device.written());
    QCOMPARE(sent.size(), 5);
    const QList<MonitorControlAction> actions{MonitorControlAction::DisconnectClient, MonitorControlAction::SendTestMessage,
                                              MonitorControlAction::RestartService, MonitorControlAction::StopService,
                                              MonitorControlAction::StartService};
    for (int i = 0; i < 5; ++i) {
        QCOMPARE(sent.at(i).type, MonitorFrame::Control);
        const std::optional<MonitorControl> control = decodeMonitorControl(sent.at(i).payload);
        QVERIFY(control);
        QCOMPARE(control->action, actions.at(i));
    }
    QCOMPARE(sent.at(0).messageId, a);
    QCOMPARE(decodeMonitorControl(sent.at(1).payload)->target, QByteArray("beta"));
    QCOMPARE(decodeMonitorControl(sent.at(1).payload)->text, QByteArray("hello beta"));
    QCOMPARE(decodeMonitorControl(sent.at(2).payload)->target, QByteArray("sensor"));
}

void tst_MonitorModels::linkRefusesBadConfiguration()
{
    MonitorLink link;
    QSignalSpy states(&link, &MonitorLink::stateChanged);
    link.open(); // no address
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    QVERIFY(link.lastError().contains(QStringLiteral("no broker address")));
    QCOMPARE(states.count(), 1); // told, although the state did not move

    MonitorLink::Settings s;
    s.address = BrokerAddress::tcp(QStringLiteral("127.0.0.1"), 8000);
    s.tls = true;
    s.trust = MonitorLink::TlsTrust::Pinned;
    s.pinnedSha256 = "short";
    link.setSettings(s);
    link.open();
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    QVERIFY(link.lastError().contains(QStringLiteral("SHA-256")));

    s.trust = MonitorLink::TlsTrust::CaFile;
    s.caFile = QStringLiteral("/nonexistent/ca.pem");
    link.setSettings(s);
    link.open();
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    QVERIFY(link.lastError().contains(QStringLiteral("CA file")));
}

// --- MonitorFeed -----------------------------------------------------------------------------------

void tst_MonitorModels::feedBatchesIntoModels()
{
    FakeDevice device;
    MonitorLink link;
    ClientsModel clients;
    ServicesModel services;
    TrafficModel traffic(5000);
    EventsModel events;
    RateSeries rates;
    QAbstractItemModelTester t1(&clients, Fatal), t2(&services, Fatal), t3(&traffic, Fatal), t4(&events, Fatal),
        t5(&rates, Fatal);
    MonitorFeed feed(&link, {&clients, &services, &traffic, &events, &rates});
    feed.setInterval(std::chrono::hours(1)); // this test flushes by hand
    QVERIFY(goLive(link, device));

    QStringList expected;
    device.push(sampleStream(&expected));
    // Forty traffic frames of 50 records: nothing reaches the models before the flush...
    QByteArray burst;
    for (int i = 0; i < 40; ++i)
        burst += frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch(records(100 + i * 50, 50)));
    device.push(burst);
    QCOMPARE(traffic.rowCount(), 0);
    QCOMPARE(clients.rowCount(), 0);
    QVERIFY(feed.pendingRecords() > 2000);

    // ... and one flush applies them as one insertion.
    QSignalSpy inserted(&traffic, &QAbstractItemModel::rowsInserted);
    QSignalSpy flushed(&feed, &MonitorFeed::flushed);
    feed.flush();
    QCOMPARE(flushed.count(), 1);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(traffic.rowCount(), 3 + 1 + 2000); // 3 records, the drop marker, the burst
    QCOMPARE(traffic.droppedByBroker(), quint64(17));
    QCOMPARE(clients.rowCount(), 1); // beta left
    QCOMPARE(clients.client(0).name, QByteArray("alpha"));
    QCOMPARE(clients.client(0).watchState, MonitorWatchState::Late);
    QCOMPARE(services.rowCount(), 1);
    QVERIFY(feed.hasTotals());
    QCOMPARE(feed.lastTotals().messagesRouted, quint64(1234));

    // The log: the snapshot, the late client, beta leaving, the control result, the error.
    QStringList lines;
    for (int r = 0; r < events.rowCount(); ++r)
        lines << events.index(r, EventsModel::KindColumn).data().toString() + u' '
                + events.index(r, EventsModel::SubjectColumn).data().toString() + u' '
                + events.index(r, EventsModel::TextColumn).data().toString();
    const QString all = lines.join(u'\n');
    QVERIFY2(all.contains(QStringLiteral("snapshot: 2 client(s), 1 service(s); admitted by token")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("late alpha late: no feed for 1000 ms")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("leave beta left: peer closed the connection")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("request 9: refused, invalid_name: no such client")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("the broker says unknown_frame_type")), qPrintable(all));
    // Snapshot entries are not joins.
    QVERIFY2(!all.contains(QStringLiteral("join ")), qPrintable(all));

    // After the snapshot, a new client is a join; a kill, a service restart and refusals are logged.
    MonitorClient gamma = client(3, "gamma");
    QByteArray more = frame(MonitorFrame::Client, encodeMonitorClient(gamma), 0, "gamma");
    gamma.refused = 4;
    more += frame(MonitorFrame::Client, encodeMonitorClient(gamma), 0, "gamma");
    MonitorWatchdogEvent kill;
    kill.sessionId = 1;
    kill.name = "alpha";
    kill.kind = MonitorWatchdogEventKind::Signalled;
    kill.pid = 1001;
    kill.detail = QStringLiteral("SIGTERM");
    more += frame(MonitorFrame::WatchdogEvent, encodeMonitorWatchdogEvent(kill));
    MonitorService restarted;
    restarted.name = QStringLiteral("sensor");
    restarted.state = MonitorServiceState::Running;
    restarted.restarts = 1;
    restarted.pid = 555;
    more += frame(MonitorFrame::Service, encodeMonitorService(restarted));
    device.push(more);
    const int before = events.rowCount();
    feed.flush();
    lines.clear();
    for (int r = before; r < events.rowCount(); ++r)
        lines << events.index(r, EventsModel::KindColumn).data().toString() + u' '
                + events.index(r, EventsModel::SubjectColumn).data().toString() + u' '
                + events.index(r, EventsModel::TextColumn).data().toString();
    QCOMPARE(lines, (QStringList{
                        QStringLiteral("join gamma joined (native) from unix pid 1003 uid 0, pid 1003"),
                        QStringLiteral("undelivered gamma a message it sent was not delivered (no such client, queue full, ...) (4 times)"),
                        QStringLiteral("kill alpha signalled: SIGTERM (pid 1001)"),
                        QStringLiteral("restart sensor restarted (1 restart(s) so far)"),
                    }));
    QCOMPARE(clients.rowCount(), 2);
}

void tst_MonitorModels::feedSnapshotReplacesTables()
{
    FakeDevice device;
    MonitorLink link;
    ClientsModel clients;
    QAbstractItemModelTester tester(&clients, Fatal);
    MonitorFeed feed(&link, {&clients, nullptr, nullptr, nullptr, nullptr});
    feed.setInterval(std::chrono::milliseconds(20));
    QVERIFY(goLive(link, device));

    MonitorSnapshotBegin begin;
    begin.clientCount = 2;
    device.push(QByteArray(frame(MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin))
                           + frame(MonitorFrame::Client, encodeMonitorClient(client(1, "old1")))
                           + frame(MonitorFrame::Client, encodeMonitorClient(client(2, "old2")))
                           + frame(MonitorFrame::SnapshotEnd, {})));
    QTRY_COMPARE(clients.rowCount(), 2); // the feed's own timer

    // A second snapshot (after a reconnect): what was shown goes, what it lists comes.
    begin.clientCount = 1;
    device.push(QByteArray(frame(MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin))
                           + frame(MonitorFrame::Client, encodeMonitorClient(client(7, "new7")))
                           + frame(MonitorFrame::SnapshotEnd, {})));
    QTRY_COMPARE(clients.rowCount(), 1);
    QCOMPARE(clients.client(0).name, QByteArray("new7"));
}

// What the broker holds per name reaches the clients' and services' Held columns (a name with no
// client through its service's row), its age counts on locally, a record with count 0 clears it,
// a new snapshot replaces what was held, and held messages' outcomes read "delivered after …".
void tst_MonitorModels::feedHeldIntoClientsServicesAndTraffic()
{
    FakeDevice device;
    MonitorLink link;
    ClientsModel clients;
    ServicesModel services;
    TrafficModel traffic(100);
    HeldNames held;
    QAbstractItemModelTester clientsTester(&clients, Fatal);
    QAbstractItemModelTester servicesTester(&services, Fatal);
    qint64 now = 5000;
    held.setClock([&now] { return now; });
    clients.setHeldNames(&held);
    services.setHeldNames(&held);
    MonitorFeed::Models models{&clients, &services, &traffic, nullptr, nullptr};
    models.held = &held;
    MonitorFeed feed(&link, models);
    QVERIFY(goLive(link, device));

    MonitorSnapshotBegin begin;
    begin.clientCount = 1;
    begin.serviceCount = 1;
    MonitorService sensor;
    sensor.name = QStringLiteral("sensor");
    sensor.state = MonitorServiceState::Backoff;
    MonitorHeld forSensor{"sensor", 3, 1536, 400, 29600};
    device.push(QByteArray(frame(MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin))
                           + frame(MonitorFrame::Client, encodeMonitorClient(client(1, "alpha")))
                           + frame(MonitorFrame::Service, encodeMonitorService(sensor))
                           + frame(MonitorFrame::Held, encodeMonitorHeld(forSensor))
                           + frame(MonitorFrame::SnapshotEnd, {})));
    feed.flush();
    QCOMPARE(held.size(), 1);
    QCOMPARE(held.totalCount(), 3u);
    QCOMPARE(services.index(0, ServicesModel::HeldColumn).data().toString(), QStringLiteral("3 · 1.5 KiB · 400 ms"));
    QCOMPARE(services.index(0, ServicesModel::HeldColumn).data(ServicesModel::SortRole).toLongLong(), 3);
    QCOMPARE(services.headerData(ServicesModel::HeldColumn, Qt::Horizontal).toString(), QStringLiteral("Held"));
    QCOMPARE(clients.index(0, ClientsModel::HeldColumn).data().toString(), QStringLiteral("—"));
    QCOMPARE(clients.headerData(ClientsModel::HeldColumn, Qt::Horizontal).toString(), QStringLiteral("Held"));
    // The oldest's age counts on between records, as the deadlines do.
    now += 1700;
    QCOMPARE(held.oldestAgeMs("sensor"), 2100);
    QCOMPARE(services.index(0, ServicesModel::HeldColumn).data().toString(), QStringLiteral("3 · 1.5 KiB · 2.1 s"));

    // Held for a connected client (the moment between its registration and the flush); then the
    // name's queue empties: count 0 removes it, and the views are told.
    QSignalSpy clientsChanged(&clients, &QAbstractItemModel::dataChanged);
    device.push(frame(MonitorFrame::Held, encodeMonitorHeld({"alpha", 1, 5, 10, 100})));
    feed.flush();
    QCOMPARE(clients.index(0, ClientsModel::HeldColumn).data().toString(), QStringLiteral("1 · 5 B · 10 ms"));
    QVERIFY(!clientsChanged.isEmpty());
    device.push(QByteArray(frame(MonitorFrame::Held, encodeMonitorHeld({"alpha", 0, 0, 0, -1}))
                           + frame(MonitorFrame::Held, encodeMonitorHeld({"sensor", 0, 0, 0, -1}))));
    feed.flush();
    QVERIFY(held.isEmpty());
    QCOMPARE(clients.index(0, ClientsModel::HeldColumn).data().toString(), QStringLiteral("—"));
    QCOMPARE(services.index(0, ServicesModel::HeldColumn).data().toString(), QStringLiteral("—"));

    // A new snapshot (a reconnect) replaces what was held.
    device.push(frame(MonitorFrame::Held, encodeMonitorHeld({"ghost", 2, 10, 0, 100})));
    feed.flush();
    QCOMPARE(held.size(), 1);
    begin.clientCount = 0;
    begin.serviceCount = 0;
    device.push(QByteArray(frame(MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin))
                           + frame(MonitorFrame::SnapshotEnd, {})));
    feed.flush();
    QVERIFY(held.isEmpty());

    // Traffic: kept, then delivered 812 ms later, and one that expired; an ordinary record unmarked.
    MonitorTrafficRecord kept = record(1, "client2", "client1", DeliveryStatus::Held);
    MonitorTrafficRecord deliveredLater = record(2, "client2", "client1", DeliveryStatus::Delivered);
    deliveredLater.heldMs = 812;
    MonitorTrafficRecord expired = record(3, "client2", "client1", DeliveryStatus::Expired);
    expired.heldMs = 30000;
    MonitorTrafficRecord plain = record(4);
    device.push(frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch({kept, deliveredLater, expired, plain})));
    feed.flush();
    QCOMPARE(traffic.rowCount(), 4);
    QCOMPARE(traffic.index(0, TrafficModel::StatusColumn).data().toString(), QStringLiteral("held"));
    QCOMPARE(traffic.index(1, TrafficModel::StatusColumn).data().toString(), QStringLiteral("delivered after 812 ms"));
    QCOMPARE(traffic.index(2, TrafficModel::StatusColumn).data().toString(), QStringLiteral("expired after 30.0 s"));
    QCOMPARE(traffic.index(3, TrafficModel::StatusColumn).data().toString(), QStringLiteral("delivered"));
}

// --- CSV ---------------------------------------------------------------------------------------------

void tst_MonitorModels::csvEscaping_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("csv");
    QTest::newRow("plain") << QStringLiteral("alpha") << QStringLiteral("alpha");
    QTest::newRow("comma") << QStringLiteral("a,b") << QStringLiteral("\"a,b\"");
    QTest::newRow("quote") << QStringLiteral("say \"hi\"") << QStringLiteral("\"say \"\"hi\"\"\"");
    QTest::newRow("newline") << QStringLiteral("a\nb") << QStringLiteral("\"a\nb\"");
    QTest::newRow("formula") << QStringLiteral("=cmd|' /C calc'!A0") << QStringLiteral("'=cmd|' /C calc'!A0");
    QTest::newRow("formula with comma") << QStringLiteral("=SUM(1,2)") << QStringLiteral("\"'=SUM(1,2)\"");
    QTest::newRow("plus") << QStringLiteral("+1") << QStringLiteral("'+1");
    QTest::newRow("at") << QStringLiteral("@x") << QStringLiteral("'@x");
    QTest::newRow("empty") << QString() << QString();
}

void tst_MonitorModels::csvEscaping()
{
    QFETCH(QString, field);
    QFETCH(QString, csv);
    QCOMPARE(Csv::escapeField(field), csv);
}

void tst_MonitorModels::csvExportOfTraffic()
{
    TrafficModel model(100);
    TrafficFilterProxy proxy;
    proxy.setSourceModel(&model);
    MonitorTrafficRecord a = record(1, "alpha", "beta");
    a.timeUs = 1700000000123456; // 2023-11-14T22:13:20.123456Z
    a.size = 5;
    a.preview = "hello";
    MonitorTrafficRecord b = record(2, "gamma", "nobody", DeliveryStatus::NoSuchClient);
    b.timeUs = 1700000001000001;
    b.size = 12;
    b.preview = "a,\"b\"\n=1+1";
    model.append({a, b});
    model.appendDropMarker(1700000002000, 3);

    QBuffer out;
    out.open(QIODevice::WriteOnly);
    QVERIFY(Csv::writeModel(proxy, out, TrafficModel::ExportRole));
    const QByteArray expected =
        "Time,Source,Target,Size,Status,Preview\r\n"
        "2023-11-14T22:13:20.123456Z,alpha,beta,5,delivered,hello\r\n"
        "2023-11-14T22:13:21.000001Z,gamma,nobody,12,no_such_client,\"a,\"\"b\"\"\xc2\xb7=1+1\"\r\n"
        "2023-11-14T22:13:22.000000Z,,,3,dropped,3 record(s) not sent by the broker (monitor too slow or over its rate cap)\r\n";
    QCOMPARE(out.data(), expected);

    // What is exported is what the view shows: filtered, and hex when hex is on.
    proxy.setSourceFilter(QStringLiteral("alpha"));
    proxy.setHexPreview(true);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("traffic.csv"));
    QString error;
    QVERIFY2(Csv::exportToFile(proxy, path, TrafficModel::ExportRole, &error), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), QByteArray("Time,Source,Target,Size,Status,Preview\r\n"
                                        "2023-11-14T22:13:20.123456Z,alpha,beta,5,delivered,68 65 6c 6c 6f\r\n"));
    // A path that cannot be written is an error, not a crash or a half file.
    QVERIFY(!Csv::exportToFile(proxy, dir.filePath(QStringLiteral("no/such/dir/x.csv")), TrafficModel::ExportRole, &error));
    QVERIFY(!error.isEmpty());
}

QTEST_MAIN(tst_MonitorModels)
#include "tst_monitormodels.moc"
