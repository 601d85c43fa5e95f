// The fleet view fed by real board summaries (docs/FLEET.md, "Board state"): a mosquitto of the
// test's own and two kennel-broker processes with --bridge as boards A and B. The fleet model sees
// both with their client counts and their monitor addresses; B killed with SIGKILL goes offline
// through its last will and keeps its last figures. The window, offscreen at 1024x768, shows them
// in its fleet panel, and "Open board monitor" on A connects the window's monitor link to A. Over
// mqtts:// with a CA made here, and refused with a CA that did not sign the server.
#include "brokerprocess.h"
#include "clientsmodel.h"
#include "connectdialog.h"
#include "fleetlink.h"
#include "fleetmodel.h"
#include "fleetpanel.h"
#include "kennelclient.h"
#include "mainwindow.h"
#include "monitorlink.h"
#include "mqttlink.h"
#include "mosquittoprocess.h"

#include <QAction>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <vector>

using namespace Kennel;
using namespace KennelTest;

namespace {

const QByteArray Token = "fleet-test-token-0123456789abcdef";

std::unique_ptr<KennelClient> connectClient(const BrokerProcess &broker, const QByteArray &name)
{
    auto client = std::make_unique<KennelClient>();
    client->setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    client->setName(name);
    client->connectToBroker();
    if (!QTest::qWaitFor([&] { return client->state() == KennelClient::Registered; }, 5000))
        return nullptr;
    return client;
}

} // namespace

class TestFleet : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    MosquittoProcess m_mqtt;
    BrokerProcess m_a, m_b;
    std::vector<std::unique_ptr<KennelClient>> m_clients;

    bool startBoard(BrokerProcess &broker, const QByteArray &board)
    {
        BrokerProcess::Options options;
        options.arguments = {QStringLiteral("--bridge"), m_mqtt.url(), QStringLiteral("--board"), QString::fromLatin1(board)};
        options.configText = "[bridge]\nspool_path = " + m_dir.filePath(QString::fromLatin1(board) + QStringLiteral(".spool")).toUtf8()
                             + "\nsummary_interval_ms = 300\nreconnect_min_ms = 100\nreconnect_max_ms = 500\n"
                               "[monitor]\ntoken = " + Token + "\n";
        QString error;
        if (!broker.start(options, &error)) {
            qWarning().noquote() << error;
            return false;
        }
        return QTest::qWaitFor([&] { return broker.countInLog("MQTT link up") >= 1; }, 10000);
    }

    static QString cell(const FleetModel &model, const QString &board, int column)
    {
        const int row = model.rowOf(board);
        return row < 0 ? QString() : model.index(row, column).data().toString();
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_mqtt.start());
        QVERIFY(startBoard(m_a, "A"));
        QVERIFY(startBoard(m_b, "B"));
        // One client on A, two on B.
        for (auto [broker, name] : {std::pair{&m_a, "a1"}, {&m_b, "b1"}, {&m_b, "b2"}}) {
            m_clients.push_back(connectClient(*broker, name));
            QVERIFY(m_clients.back());
        }
    }

    void modelSeesBothBoards()
    {
        FleetLink link;
        FleetModel model;
        QObject::connect(&link, &FleetLink::summaryReceived, &model, &FleetModel::applySummary);
        QObject::connect(&link, &FleetLink::onlineReceived, &model, &FleetModel::applyOnline);
        QObject::connect(&link, &FleetLink::eventReceived, &model, &FleetModel::applyEvent);
        FleetLink::Settings settings;
        settings.url = m_mqtt.url();
        QString error;
        QVERIFY2(link.open(settings, &error), qPrintable(error));
        QTRY_COMPARE_WITH_TIMEOUT(link.state(), FleetLink::State::Connected, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(cell(model, QStringLiteral("A"), FleetModel::ClientsColumn), QStringLiteral("1"), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(cell(model, QStringLiteral("B"), FleetModel::ClientsColumn), QStringLiteral("2"), 10000);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(cell(model, QStringLiteral("A"), FleetModel::StateColumn), QStringLiteral("online"));
        QCOMPARE(cell(model, QStringLiteral("B"), FleetModel::StateColumn), QStringLiteral("online"));
        QCOMPARE(cell(model, QStringLiteral("A"), FleetModel::WatchedColumn), QStringLiteral("0"));
        QCOMPARE(model.refusals(), quint64(0));
        QCOMPARE(link.unmatchedTopics(), quint64(0));
        // Each board says where its own monitor connection is opened: its TCP listener here.
        QCOMPARE(model.board(model.rowOf(QStringLiteral("A"))).summary->monitorAddress, m_a.tcpAddress());
        QCOMPARE(model.board(model.rowOf(QStringLiteral("B"))).summary->monitorAddress, m_b.tcpAddress());
        // Junk under the prefix from something that is not a board: refused and counted, no row.
        MqttLink junk;
        MqttLink::Options options;
        options.host = QStringLiteral("127.0.0.1");
        options.port = m_mqtt.port();
        options.clientId = "fleet-junk";
        options.cleanSession = true;
        junk.start(options);
        QTRY_VERIFY_WITH_TIMEOUT(junk.isConnected(), 10000);
        QVERIFY(junk.publish("kennel/J/summary", "{\"schema\": 1, \"board\": \"J\", \"clients\": \"many\"}") > 0);
        QVERIFY(junk.publish("kennel/J/online", "yes") > 0);
        QVERIFY(junk.publish("kennel/A/summary", QByteArray(300 * 1024, '{')) > 0);
        QTRY_COMPARE_WITH_TIMEOUT(model.refusals(), quint64(3), 10000);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.rowOf(QStringLiteral("J")), -1);
        QCOMPARE(cell(model, QStringLiteral("A"), FleetModel::ClientsColumn), QStringLiteral("1")); // A's row as it was
        junk.stop();

        // Live: a client leaving B is seen within the summary interval.
        m_clients.back().reset();
        m_clients.pop_back();
        QTRY_COMPARE_WITH_TIMEOUT(cell(model, QStringLiteral("B"), FleetModel::ClientsColumn), QStringLiteral("1"), 5000);
        link.close();
        QCOMPARE(link.state(), FleetLink::State::Disconnected);
    }

    void windowShowsTheFleetAndOpensABoard()
    {
        QTemporaryDir home;
        QSettings settings(home.filePath(QStringLiteral("monitor.ini")), QSettings::IniFormat);
        // A was connected to before, with its token remembered: opening it connects at once.
        ConnectDialog::Recent recent;
        recent.address = m_a.tcpAddress();
        recent.token = Token;
        ConnectDialog::storeRecentBrokers(settings, {recent});

        MonitorLink monitor;
        MainWindow window(&monitor, &settings);
        window.setConfirmActions(false);
        window.resize(1024, 768);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        FleetLink::Settings fleet;
        fleet.url = m_mqtt.url();
        QString error;
        QVERIFY2(window.fleetLink()->open(fleet, &error), qPrintable(error));
        window.showFleet();
        FleetPanel *panel = window.fleetPanel();
        QVERIFY(panel->isVisible());
        QTableView *view = panel->view();
        QTRY_COMPARE_WITH_TIMEOUT(view->model()->rowCount(), 2, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(cell(*window.fleetModel(), QStringLiteral("B"), FleetModel::ClientsColumn), QStringLiteral("1"), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(panel->statusLabel()->text().contains(QLatin1String("2 boards, 2 online")), 5000);

        // Readable at 1024x768: the columns up to the failed services are on screen without
        // scrolling, none narrower than its title.
        const QHeaderView *header = view->horizontalHeader();
        for (int c = FleetModel::BoardColumn; c <= FleetModel::ServicesFailedColumn; ++c) {
            const QString title = view->model()->headerData(c, Qt::Horizontal).toString();
            QVERIFY2(header->sectionSize(c) >= header->fontMetrics().horizontalAdvance(title), qPrintable(title));
            QVERIFY2(header->sectionViewportPosition(c) + header->sectionSize(c) <= view->viewport()->width(), qPrintable(title));
        }
        QVERIFY(view->rowHeight(0) >= view->fontMetrics().height());

        // The filter: the board id, its state, its last event.
        panel->filterEdit()->setText(QStringLiteral("b"));
        QCOMPARE(view->model()->rowCount(), 1);
        QCOMPARE(view->model()->index(0, FleetModel::BoardColumn).data().toString(), QStringLiteral("B"));
        panel->filterEdit()->clear();
        QCOMPARE(view->model()->rowCount(), 2);

        // B dies without a word: its last will turns it offline; its last figures stay.
        QVERIFY(panel->selectBoard(QStringLiteral("B")));
        QVERIFY(panel->openMonitorAction()->isEnabled());
        m_b.kill9();
        QTRY_COMPARE_WITH_TIMEOUT(cell(*window.fleetModel(), QStringLiteral("B"), FleetModel::StateColumn), QStringLiteral("offline"), 10000);
        QCOMPARE(cell(*window.fleetModel(), QStringLiteral("B"), FleetModel::ClientsColumn), QStringLiteral("1"));
        QVERIFY(!panel->openMonitorAction()->isEnabled()); // not reachable: its last summary instead
        QVERIFY(panel->detail()->toPlainText().contains(QLatin1String("offline (its last summary)")));
        QVERIFY(panel->detail()->toPlainText().contains(QLatin1String("\"clients\": 1")));
        const QModelIndex bRow = view->model()->index(window.fleetModel()->rowOf(QStringLiteral("B")), FleetModel::ClientsColumn);
        QCOMPARE(window.fleetModel()->data(window.fleetModel()->index(bRow.row(), FleetModel::ClientsColumn), Qt::ForegroundRole)
                     .value<QBrush>().color(),
                 QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text));
        QTRY_VERIFY_WITH_TIMEOUT(panel->statusLabel()->text().contains(QLatin1String("2 boards, 1 online")), 5000);
        if (!qEnvironmentVariableIsEmpty("KENNEL_FLEET_SCREENSHOT"))
            window.grab().save(qEnvironmentVariable("KENNEL_FLEET_SCREENSHOT"));

        // A is online: "Open board monitor" points the window's link at A and connects.
        QVERIFY(panel->selectBoard(QStringLiteral("A")));
        QVERIFY(panel->openMonitorAction()->isEnabled());
        panel->openMonitorAction()->trigger();
        QCOMPARE(monitor.settings().address.toString(), m_a.tcpAddress());
        QTRY_COMPARE_WITH_TIMEOUT(monitor.state(), MonitorLink::State::Live, 10000);
        auto showsA1 = [&] {
            for (int r = 0; r < window.clientsModel()->rowCount(); ++r)
                if (window.clientsModel()->client(r).name == "a1")
                    return true;
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(showsA1(), 10000);
        monitor.close();
    }

    // mqtts:// with a CA made here: the fleet link passes the TLS options through as the bridge
    // does; a CA that did not sign the server's certificate gets no connection.
    void overTls()
    {
        QTemporaryDir certs;
        auto openssl = [&](const char *line) {
            QProcess p;
            p.setWorkingDirectory(certs.path());
            p.start(QStringLiteral("openssl"), QString::fromLatin1(line).split(QLatin1Char(' ')));
            return p.waitForFinished(20000) && p.exitCode() == 0;
        };
        QVERIFY(openssl("req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=KennelFleetCA -keyout ca.key -out ca.crt"));
        QVERIFY(openssl("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr"));
        QFile ext(certs.filePath(QStringLiteral("ext.cnf")));
        QVERIFY(ext.open(QIODevice::WriteOnly));
        ext.write("subjectAltName=IP:127.0.0.1\n");
        ext.close();
        QVERIFY(openssl("x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out server.crt"));
        MosquittoProcess tlsMqtt;
        const MosquittoProcess::Tls tls{certs.filePath(QStringLiteral("ca.crt")), certs.filePath(QStringLiteral("server.crt")),
                                        certs.filePath(QStringLiteral("server.key")), MosquittoProcess::freePort()};
        QVERIFY(tlsMqtt.start(tls));
        BrokerProcess c;
        BrokerProcess::Options options;
        options.arguments = {QStringLiteral("--bridge"), tlsMqtt.url(), QStringLiteral("--board"), QStringLiteral("C")};
        options.configText = "[bridge]\nspool_path = " + m_dir.filePath(QStringLiteral("C.spool")).toUtf8() + "\nsummary_interval_ms = 300\n";
        QVERIFY(c.start(options));
        QTRY_VERIFY_WITH_TIMEOUT(c.countInLog("MQTT link up") >= 1, 10000);

        FleetLink::Settings settings;
        settings.url = QStringLiteral("mqtts://127.0.0.1:%1").arg(tls.port);
        settings.caFile = tls.caFile;
        FleetLink link;
        FleetModel model;
        QObject::connect(&link, &FleetLink::summaryReceived, &model, &FleetModel::applySummary);
        QObject::connect(&link, &FleetLink::onlineReceived, &model, &FleetModel::applyOnline);
        QString error;
        QVERIFY2(link.open(settings, &error), qPrintable(error));
        QTRY_COMPARE_WITH_TIMEOUT(cell(model, QStringLiteral("C"), FleetModel::StateColumn), QStringLiteral("online"), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(cell(model, QStringLiteral("C"), FleetModel::ClientsColumn), QStringLiteral("0"), 10000);
        link.close();

        FleetLink wrong;
        settings.caFile = QStringLiteral("/etc/ssl/certs/ca-certificates.crt");
        settings.reconnectMin = std::chrono::milliseconds(100);
        QVERIFY(wrong.open(settings, &error));
        QTRY_VERIFY_WITH_TIMEOUT(!wrong.lastError().isEmpty(), 10000);
        QCOMPARE(wrong.state(), FleetLink::State::Connecting);
        QVERIFY(wrong.statusText().contains(wrong.lastError()));
        wrong.close();
        QCOMPARE(c.stopVerdict(), QString());
    }

    void cleanupTestCase()
    {
        m_clients.clear();
        QCOMPARE(m_a.stopVerdict(), QString());
    }
};

QTEST_MAIN(TestFleet)
#include "tst_fleet.moc"
