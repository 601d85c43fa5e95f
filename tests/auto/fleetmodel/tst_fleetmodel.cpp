// FleetModel and BoardSummary over a table of summaries: good ones become rows with their
// figures; every malformed one is refused and counted, and the row keeps its last good state.
#include "fleetconnectdialog.h"
#include "fleetlink.h"
#include "fleetmodel.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPalette>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QTest>

using namespace Kennel;

namespace {

QByteArray summary(const QString &board, qint64 clients, const QJsonObject &extra = {})
{
    QJsonObject o{{QStringLiteral("schema"), 1},
                  {QStringLiteral("board"), board},
                  {QStringLiteral("time"), QStringLiteral("2026-12-04T20:15:02.123Z")},
                  {QStringLiteral("clients"), clients},
                  {QStringLiteral("watched"), 2},
                  {QStringLiteral("late"), 1},
                  {QStringLiteral("expiries"), 3},
                  {QStringLiteral("kills"), 4},
                  {QStringLiteral("restarts"), 5},
                  {QStringLiteral("services_failed"), 6}};
    for (auto it = extra.begin(); it != extra.end(); ++it) {
        if (it.value().isNull())
            o.remove(it.key()); // null in `extra`: leave the field out
        else
            o.insert(it.key(), it.value());
    }
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QString cell(const FleetModel &m, int row, int column)
{
    return m.index(row, column).data().toString();
}

} // namespace

class TestFleetModel : public QObject
{
    Q_OBJECT

private slots:
    void summaries_data()
    {
        QTest::addColumn<QByteArray>("payload");
        QTest::addColumn<bool>("accepted");
        const auto s = [](const QJsonObject &extra) { return summary(QStringLiteral("press-07"), 12, extra); };
        QTest::newRow("complete") << s({{QStringLiteral("services"), QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("sensor")},
                                                                                          {QStringLiteral("state"), QStringLiteral("running")},
                                                                                          {QStringLiteral("pid"), 4242},
                                                                                          {QStringLiteral("restarts"), 1}}}},
                                        {QStringLiteral("monitor"), QJsonObject{{QStringLiteral("address"), QStringLiteral("10.0.0.7:7501")},
                                                                                {QStringLiteral("tls"), true}}}})
                                  << true;
        QTest::newRow("minimal") << s({}) << true;
        QTest::newRow("later schema, unknown field") << s({{QStringLiteral("schema"), 2}, {QStringLiteral("novel"), QStringLiteral("x")}}) << true;
        QTest::newRow("no restarts (optional)") << s({{QStringLiteral("restarts"), QJsonValue::Null}}) << true;
        QTest::newRow("empty") << QByteArray() << false;
        QTest::newRow("not JSON") << QByteArray("{\"schema\": 1, \"board\": ") << false;
        QTest::newRow("binary") << QByteArray("\x00\xff\x10garbage", 10) << false;
        QTest::newRow("an array") << QByteArray("[1, 2, 3]") << false;
        QTest::newRow("a string") << QByteArray("\"press-07\"") << false;
        QTest::newRow("schema 0") << s({{QStringLiteral("schema"), 0}}) << false;
        QTest::newRow("no schema") << s({{QStringLiteral("schema"), QJsonValue::Null}}) << false;
        QTest::newRow("clients negative") << s({{QStringLiteral("clients"), -1}}) << false;
        QTest::newRow("clients fractional") << s({{QStringLiteral("clients"), 1.5}}) << false;
        QTest::newRow("clients as text") << s({{QStringLiteral("clients"), QStringLiteral("12")}}) << false;
        QTest::newRow("clients huge") << s({{QStringLiteral("clients"), 1e300}}) << false;
        QTest::newRow("watched missing") << s({{QStringLiteral("watched"), QJsonValue::Null}}) << false;
        QTest::newRow("kills missing") << s({{QStringLiteral("kills"), QJsonValue::Null}}) << false;
        QTest::newRow("board not text") << s({{QStringLiteral("board"), 7}}) << false;
        QTest::newRow("another board's summary") << s({{QStringLiteral("board"), QStringLiteral("press-08")}}) << false;
        QTest::newRow("services not a list") << s({{QStringLiteral("services"), QStringLiteral("all fine")}}) << false;
        QTest::newRow("service without a name") << s({{QStringLiteral("services"), QJsonArray{QJsonObject{{QStringLiteral("state"), QStringLiteral("running")}}}}})
                                               << false;
        QTest::newRow("service pid negative") << s({{QStringLiteral("services"), QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("a")},
                                                                                                        {QStringLiteral("pid"), -4}}}}})
                                             << false;
        QByteArray big = s({{QStringLiteral("pad"), QString(BoardSummary::DefaultMaxBytes, QLatin1Char('x'))}});
        QTest::newRow("over the size bound") << big << false;
    }
    void summaries()
    {
        QFETCH(QByteArray, payload);
        QFETCH(bool, accepted);
        FleetModel model;
        // A good summary first: a refused one must leave it as it was.
        QVERIFY(model.applySummary(QStringLiteral("press-07"), summary(QStringLiteral("press-07"), 3)));
        QCOMPARE(model.refusals(), quint64(0));
        QCOMPARE(model.applySummary(QStringLiteral("press-07"), payload), accepted);
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.refusals(), quint64(accepted ? 0 : 1));
        QCOMPARE(model.lastRefusal().isEmpty(), accepted);
        QCOMPARE(cell(model, 0, FleetModel::ClientsColumn), accepted ? QStringLiteral("12") : QStringLiteral("3"));
        if (!accepted)
            QVERIFY2(model.lastRefusal().contains(QLatin1String("press-07")), qPrintable(model.lastRefusal()));
    }

    void figuresInColumns()
    {
        FleetModel model;
        QVERIFY(model.applySummary(QStringLiteral("b1"),
                                   summary(QStringLiteral("b1"), 12, {{QStringLiteral("monitor"), QJsonObject{{QStringLiteral("address"), QStringLiteral("h:1")}}}})));
        QCOMPARE(cell(model, 0, FleetModel::BoardColumn), QStringLiteral("b1"));
        QCOMPARE(cell(model, 0, FleetModel::StateColumn), QStringLiteral("unknown"));
        QCOMPARE(cell(model, 0, FleetModel::ClientsColumn), QStringLiteral("12"));
        QCOMPARE(cell(model, 0, FleetModel::WatchedColumn), QStringLiteral("2"));
        QCOMPARE(cell(model, 0, FleetModel::LateColumn), QStringLiteral("1"));
        QCOMPARE(cell(model, 0, FleetModel::ExpiriesColumn), QStringLiteral("3"));
        QCOMPARE(cell(model, 0, FleetModel::KillsColumn), QStringLiteral("4"));
        QCOMPARE(cell(model, 0, FleetModel::ServicesFailedColumn), QStringLiteral("6"));
        QCOMPARE(model.index(0, FleetModel::LastSeenColumn).data(FleetModel::SortRole).toLongLong(),
                 QDateTime::fromString(QStringLiteral("2026-12-04T20:15:02.123Z"), Qt::ISODateWithMs).toMSecsSinceEpoch());
        QCOMPARE(model.board(0).summary->monitorAddress, QStringLiteral("h:1"));
        QVERIFY(!model.board(0).summary->monitorTls);
    }

    void onlineAndOffline()
    {
        FleetModel model;
        QVERIFY(model.applyOnline(QStringLiteral("b1"), "true"));
        QCOMPARE(cell(model, 0, FleetModel::StateColumn), QStringLiteral("online"));
        QCOMPARE(cell(model, 0, FleetModel::ClientsColumn), QStringLiteral("—")); // no summary yet
        QVERIFY(model.applySummary(QStringLiteral("b1"), summary(QStringLiteral("b1"), 2)));
        const QColor disabled = QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text);
        QVERIFY(model.index(0, FleetModel::ClientsColumn).data(Qt::ForegroundRole).value<QBrush>().color() != disabled);
        QCOMPARE(model.onlineCount(), 1);
        QVERIFY(model.applyOnline(QStringLiteral("b1"), "false")); // its last will
        QCOMPARE(cell(model, 0, FleetModel::StateColumn), QStringLiteral("offline"));
        QCOMPARE(model.onlineCount(), 0);
        // The last figures stay, greyed.
        QCOMPARE(cell(model, 0, FleetModel::ClientsColumn), QStringLiteral("2"));
        QCOMPARE(model.index(0, FleetModel::ClientsColumn).data(Qt::ForegroundRole).value<QBrush>().color(), disabled);
        // The fleet link down: an online board is greyed too (nothing is known to be current).
        QVERIFY(model.applyOnline(QStringLiteral("b2"), "true"));
        QVERIFY(model.index(1, FleetModel::StateColumn).data(Qt::ForegroundRole).value<QBrush>().color() != disabled);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setStale(true);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.index(1, FleetModel::StateColumn).data(Qt::ForegroundRole).value<QBrush>().color(), disabled);
        QCOMPARE(cell(model, 1, FleetModel::StateColumn), QStringLiteral("online")); // still readable
        model.setStale(false);
        QVERIFY(model.index(1, FleetModel::StateColumn).data(Qt::ForegroundRole).value<QBrush>().color() != disabled);
        for (const QByteArray &bad : {QByteArray("TRUE"), QByteArray("1"), QByteArray(), QByteArray("true\n")})
            QVERIFY(!model.applyOnline(QStringLiteral("b1"), bad));
        QCOMPARE(model.refusals(), quint64(4));
        QCOMPARE(cell(model, 0, FleetModel::StateColumn), QStringLiteral("offline"));
    }

    void events()
    {
        FleetModel model;
        QVERIFY(model.applyEvent(QStringLiteral("b1"), R"({"event":"kill","client":"sensor","action":"terminate","detail":"x","board":"b1"})"));
        QCOMPARE(cell(model, 0, FleetModel::LastEventColumn), QStringLiteral("kill sensor (terminate)"));
        QVERIFY(model.applyEvent(QStringLiteral("b1"), R"({"event":"service_failed","service":"pump","error":"start limit"})"));
        QCOMPARE(cell(model, 0, FleetModel::LastEventColumn), QStringLiteral("service_failed pump: start limit"));
        QCOMPARE(model.board(0).events, quint64(2));
        QVERIFY(!model.applyEvent(QStringLiteral("b1"), R"({"event":7})"));
        QVERIFY(!model.applyEvent(QStringLiteral("b1"), "not json"));
        QVERIFY(!model.applyEvent(QStringLiteral("b1"), QByteArray(20000, '{')));
        QCOMPARE(model.refusals(), quint64(3));
        QCOMPARE(model.board(0).events, quint64(2));
    }

    void boardIdsAndBound()
    {
        FleetModel model;
        for (const QString &bad : {QString(), QStringLiteral("has space"), QStringLiteral("a/b"), QString(33, QLatin1Char('x'))})
            QVERIFY(!model.applyOnline(bad, "true"));
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.refusals(), quint64(4));
        QVERIFY(model.applyOnline(QString(32, QLatin1Char('x')), "true")); // at the length bound: accepted

        model.clear();
        model.setMaxBoards(3);
        for (int i = 0; i < 3; ++i)
            QVERIFY(model.applyOnline(QStringLiteral("b%1").arg(i), "true"));
        QVERIFY(!model.applyOnline(QStringLiteral("b3"), "true")); // one over
        QCOMPARE(model.rowCount(), 3);
        QVERIFY(model.lastRefusal().contains(QLatin1String("bound of 3 boards")));
        QVERIFY(model.applyOnline(QStringLiteral("b1"), "false")); // a known board still updates
    }

    void sortAndFilter()
    {
        FleetModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(FleetModel::SortRole);
        proxy.setFilterKeyColumn(-1);
        proxy.setFilterCaseSensitivity(Qt::CaseInsensitive);
        proxy.setDynamicSortFilter(true);
        proxy.sort(FleetModel::ClientsColumn, Qt::DescendingOrder);
        for (auto [board, clients] : {std::pair{"alpha", 2}, {"beta", 10}, {"gamma", 9}})
            QVERIFY(model.applySummary(QString::fromLatin1(board), summary(QString::fromLatin1(board), clients)));
        auto order = [&] {
            QStringList out;
            for (int r = 0; r < proxy.rowCount(); ++r)
                out << proxy.index(r, 0).data().toString();
            return out;
        };
        // Numerically: 10 before 9 (as text "9" would sort first).
        QCOMPARE(order(), (QStringList{QStringLiteral("beta"), QStringLiteral("gamma"), QStringLiteral("alpha")}));
        QVERIFY(model.applySummary(QStringLiteral("alpha"), summary(QStringLiteral("alpha"), 50))); // live re-sort
        QCOMPARE(order().first(), QStringLiteral("alpha"));
        QVERIFY(model.applyOnline(QStringLiteral("gamma"), "false"));
        proxy.setFilterFixedString(QStringLiteral("offline"));
        QCOMPARE(order(), QStringList{QStringLiteral("gamma")});
        proxy.setFilterFixedString(QStringLiteral("BET"));
        QCOMPARE(order(), QStringList{QStringLiteral("beta")});
    }

    void prefixes()
    {
        QString error;
        QVERIFY(FleetLink::validPrefix(QStringLiteral("kennel/{board}/"), &error));
        QVERIFY(FleetLink::validPrefix(QStringLiteral("site/3/{board}/kennel/"), &error));
        QVERIFY(FleetLink::validPrefix(QStringLiteral("{board}/"), &error));
        for (const char *bad : {"kennel/", "kennel/{board}/{board}/", "kennel/+/{board}/", "kennel/{board}", "#/{board}/",
                                "kennel/x{board}/", "kennel/{board}x/"}) {
            error.clear();
            QVERIFY2(!FleetLink::validPrefix(QString::fromLatin1(bad), &error), bad);
            QVERIFY(!error.isEmpty());
        }
        FleetLink link;
        FleetLink::Settings settings;
        for (const char *url : {"http://h:1", "mqtt://user:pw@h:1", "mqtt://", "h:1883"}) {
            settings.url = QString::fromLatin1(url);
            error.clear();
            QVERIFY2(!link.open(settings, &error), url);
            QVERIFY(!error.isEmpty());
        }
        settings.url = QStringLiteral("mqtt://127.0.0.1:1");
        settings.caFile = QStringLiteral("/etc/ssl/certs/ca-certificates.crt");
        QVERIFY(!link.open(settings, &error)); // a CA file without mqtts://
        settings.caFile.clear();
        settings.passwordFile = QStringLiteral("/nonexistent/password");
        QVERIFY(!link.open(settings, &error));
        QVERIFY(error.contains(QLatin1String("/nonexistent/password")));
        QCOMPARE(link.state(), FleetLink::State::Disconnected);
    }

    // The Fleet menu's dialog: a refused URL keeps it open and says why; an accepted one opens
    // the link and is remembered (never a password, only the file's path).
    void connectDialog()
    {
        QTemporaryDir dir;
        QSettings settings(dir.filePath(QStringLiteral("monitor.ini")), QSettings::IniFormat);
        FleetLink link;
        FleetConnectDialog dialog(&link, &settings);
        FleetLink::Settings wanted;
        wanted.url = QStringLiteral("mqtt://user:pw@127.0.0.1:1");
        dialog.setFleetSettings(wanted);
        dialog.show();
        dialog.accept();
        QVERIFY(dialog.isVisible());
        QVERIFY(dialog.findChild<QLabel *>(QStringLiteral("fleetProblem"))->text().contains(QLatin1String("credentials go in")));
        QCOMPARE(link.state(), FleetLink::State::Disconnected);

        dialog.findChild<QLineEdit *>(QStringLiteral("fleetUrl"))->setText(QStringLiteral("mqtt://127.0.0.1:1"));
        dialog.findChild<QLineEdit *>(QStringLiteral("fleetPrefix"))->setText(QStringLiteral("site/{board}/"));
        dialog.findChild<QLineEdit *>(QStringLiteral("fleetUsername"))->setText(QStringLiteral("ops"));
        dialog.accept();
        QVERIFY(!dialog.isVisible());
        QCOMPARE(link.state(), FleetLink::State::Connecting); // nothing listens on port 1: it keeps trying
        QCOMPARE(link.settings().prefix, QStringLiteral("site/{board}/"));
        const FleetLink::Settings kept = FleetConnectDialog::remembered(settings);
        QCOMPARE(kept.url, QStringLiteral("mqtt://127.0.0.1:1"));
        QCOMPARE(kept.prefix, QStringLiteral("site/{board}/"));
        QCOMPARE(kept.username, QStringLiteral("ops"));
        link.close();
    }
};

QTEST_MAIN(TestFleetModel)
#include "tst_fleetmodel.moc"
