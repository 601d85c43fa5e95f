// kennel-monitor's window, offscreen, driven as an operator would: select a client and act on it,
// filter traffic, pause and resume, switch to hex, export CSV, use the services panel. First over a
// fake transport (the test plays the broker), then end to end: a real broker in this process,
// real clients, the link admitted over the Unix socket by its peer credentials, a wrong token over
// TCP refused; and the link's TLS trust (pin, CA file, system CAs) against a local TLS server.
#include "monitorfixture.h"

#include "clientsmodel.h"
#include "connectdialog.h"
#include "eventsmodel.h"
#include "format.h"
#include "kennelclient.h"
#include "mainwindow.h"
#include "monitorfeed.h"
#include "ratechart.h"
#include "rateseries.h"
#include "servicesmodel.h"
#include "testbroker.h"
#include "trafficdetailview.h"
#include "trafficfilterproxy.h"
#include "trafficmodel.h"
#include "serviceoutputpanel.h"
#include "topicsmodel.h"
#include "topicspanel.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QListWidget>
#include <QDialogButtonBox>
#include <QGroupBox>
#include <QRadioButton>
#include <QSpinBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>
#include <QStandardPaths>
#include <QHeaderView>
#include <QStatusBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace Kennel;
using namespace MonitorTest;

namespace {

QStringList eventLines(const EventsModel &events)
{
    QStringList lines;
    for (int r = 0; r < events.rowCount(); ++r)
        lines << events.index(r, EventsModel::KindColumn).data().toString() + u' '
                + events.index(r, EventsModel::SubjectColumn).data().toString() + u' '
                + events.index(r, EventsModel::TextColumn).data().toString();
    return lines;
}

QList<MonitorControl> controlsSent(FakeDevice &device, QList<quint32> *ids = nullptr)
{
    QList<MonitorControl> controls;
    for (const Frame &f : decodeAll(device.written())) {
        if (f.type != MonitorFrame::Control)
            continue;
        if (auto c = decodeMonitorControl(f.payload))
            controls << *c;
        if (ids)
            *ids << f.messageId;
    }
    return controls;
}

void clickRow(QTableView *view, int row)
{
    const QRect rect = view->visualRect(view->model()->index(row, 0));
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, rect.center());
}

int rowOfName(const QAbstractItemModel *model, const QByteArray &name)
{
    for (int r = 0; r < model->rowCount(); ++r)
        if (model->index(r, 0).data(ClientsModel::NameRole).toByteArray() == name)
            return r;
    return -1;
}

} // namespace

class tst_MonitorApp : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanup();

    // The window over a fake broker.
    void selectClientAndDisconnectIt();
    void clientFilterAndTestMessage();
    void trafficFilterPauseHexAndExport();
    void servicesPanelActions();
    void readOnlyLinkGreysControls();
    void statusBarShowsRefusal();
    void connectDialogRemembersBrokersButNotTokens();
    void clientCountAfterClientLeaves();
    void staleDataLooksStale();
    void summaryUsesPluralForms();
    void connectDialogHostLabelHasMnemonic();
    void recentBrokersOnlyThoseThatWentLive();
    void layoutFitsAt1024x768();
    void topicsAndOutputTabsFitAt1024x768();
    void rateChartAxes();
    void trafficDetailShowsHexAndAscii();

    // A real broker in this process.
    void endToEndOverUnixSocket();
    void summaryGreyedWhileReconnecting();
    void wrongTokenOverTcpIsRefused();
    void operatorOnAnotherAddressWatchesBrokerUnderLoad();

    // TLS trust, against a local TLS server playing the broker.
    void tlsPinnedCertificate();
    void tlsPinMismatchSendsNoToken();
    void tlsCaFileAndSystemCas();

private:
    struct Fixture
    {
        FakeDevice device;
        MonitorLink link;
        std::unique_ptr<MainWindow> window;
    };
    std::unique_ptr<Fixture> liveWindow(MonitorRole role = MonitorRole::Operator);
    bool makeCertificate();

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QSettings> m_settings;
    QString m_certFile;
    QString m_keyFile;
    QString m_opensslError;
};

void tst_MonitorApp::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_settings = std::make_unique<QSettings>(m_dir->filePath(QStringLiteral("monitor.ini")), QSettings::IniFormat);
    KennelTest::raiseDescriptorLimit();
}

void tst_MonitorApp::cleanup()
{
    m_settings->clear();
}

std::unique_ptr<tst_MonitorApp::Fixture> tst_MonitorApp::liveWindow(MonitorRole role)
{
    auto f = std::make_unique<Fixture>();
    f->window = std::make_unique<MainWindow>(&f->link, m_settings.get());
    f->window->setConfirmActions(false);
    f->window->feed()->setInterval(std::chrono::hours(1)); // the tests flush by hand
    f->window->resize(1200, 800);
    f->window->show();
    if (!QTest::qWaitForWindowExposed(f->window.get()) || !goLive(f->link, f->device))
        return nullptr;
    MonitorSnapshotBegin begin;
    begin.clientCount = 3;
    begin.serviceCount = 2;
    begin.monitorIdentity = QStringLiteral("token");
    begin.role = role;
    QByteArray s = frame(MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin));
    s += frame(MonitorFrame::Client, encodeMonitorClient(client(1, "alpha", MonitorWatchState::Healthy, 2500, 12)));
    s += frame(MonitorFrame::Client, encodeMonitorClient(client(2, "beta", MonitorWatchState::Late, 800, 3)));
    s += frame(MonitorFrame::Client, encodeMonitorClient(client(3, "gamma")));
    MonitorService logger;
    logger.name = QStringLiteral("logger");
    logger.state = MonitorServiceState::Running;
    logger.pid = 4242;
    MonitorService sensor;
    sensor.name = QStringLiteral("sensor");
    sensor.state = MonitorServiceState::Stopped;
    s += frame(MonitorFrame::Service, encodeMonitorService(logger));
    s += frame(MonitorFrame::Service, encodeMonitorService(sensor));
    s += frame(MonitorFrame::SnapshotEnd, {});
    f->device.push(s);
    f->window->feed()->flush();
    f->device.written().clear();
    return f;
}

// --- the window over a fake broker --------------------------------------------------------------

void tst_MonitorApp::selectClientAndDisconnectIt()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    QTableView *view = w.clientsView();
    QCOMPARE(view->model()->rowCount(), 3);
    QVERIFY(w.linkStateLabel()->text().startsWith(QStringLiteral("Live")));
    QVERIFY(!w.disconnectClientAction()->isEnabled()); // nothing selected yet

    const int beta = rowOfName(view->model(), "beta");
    QVERIFY(beta >= 0);
    clickRow(view, beta);
    QCOMPARE(w.selectedClientName(), QByteArray("beta"));
    QVERIFY(w.disconnectClientAction()->isEnabled());
    QVERIFY(w.sendTestMessageAction()->isEnabled());
    // Its watchdog state is shown, coloured.
    const QModelIndex state = view->model()->index(beta, ClientsModel::WatchStateColumn);
    QCOMPARE(state.data().toString(), QStringLiteral("late"));
    QVERIFY(state.data(Qt::BackgroundRole).isValid());

    w.disconnectClientAction()->trigger();
    QList<quint32> ids;
    const QList<MonitorControl> sent = controlsSent(f->device, &ids);
    QCOMPARE(sent.size(), 1);
    QCOMPARE(sent.at(0).action, MonitorControlAction::DisconnectClient);
    QCOMPARE(sent.at(0).target, QByteArray("beta"));

    // The broker answers and then reports beta gone: the log says so, the row goes.
    MonitorClientGone gone;
    gone.sessionId = 2;
    gone.reason = QStringLiteral("disconnected by monitor");
    f->device.push(QByteArray(frame(MonitorFrame::ControlResult, encodeMonitorControlResult({}), ids.at(0))
                              + frame(MonitorFrame::ClientGone, encodeMonitorClientGone(gone))));
    w.feed()->flush();
    QCOMPARE(view->model()->rowCount(), 2);
    QCOMPARE(rowOfName(view->model(), "beta"), -1);
    const QString log = eventLines(*w.eventsModel()).join(u'\n');
    QVERIFY2(log.contains(QStringLiteral("asked the broker to disconnect 'beta'")), qPrintable(log));
    QVERIFY2(log.contains(QStringLiteral("disconnect 'beta': done")), qPrintable(log));
    QVERIFY2(log.contains(QStringLiteral("leave beta left: disconnected by monitor")), qPrintable(log));
    QVERIFY2(w.selectedClientName().isEmpty(), w.selectedClientName().constData());
    QVERIFY(!w.disconnectClientAction()->isEnabled());
}

void tst_MonitorApp::clientFilterAndTestMessage()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    QTest::keyClicks(w.clientFilterEdit(), QStringLiteral("gam"));
    QCOMPARE(w.clientsView()->model()->rowCount(), 1);
    clickRow(w.clientsView(), 0);
    QCOMPARE(w.selectedClientName(), QByteArray("gamma"));
    w.sendTestMessageToSelected(QStringLiteral("hello gamma"));
    const QList<MonitorControl> sent = controlsSent(f->device);
    QCOMPARE(sent.size(), 1);
    QCOMPARE(sent.at(0).action, MonitorControlAction::SendTestMessage);
    QCOMPARE(sent.at(0).target, QByteArray("gamma"));
    QCOMPARE(sent.at(0).text, QByteArray("hello gamma"));
    w.clientFilterEdit()->clear();
    QCOMPARE(w.clientsView()->model()->rowCount(), 3);

    // Sorting by a column sorts numerically: the deadline, soonest first, unwatched last.
    w.clientsView()->sortByColumn(ClientsModel::DeadlineColumn, Qt::AscendingOrder);
    QCOMPARE(w.clientsView()->model()->index(0, 0).data().toString(), QStringLiteral("beta"));
    QCOMPARE(w.clientsView()->model()->index(2, 0).data().toString(), QStringLiteral("gamma"));
}

void tst_MonitorApp::trafficFilterPauseHexAndExport()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    QAbstractItemModel *shown = w.trafficView()->model();
    QList<MonitorTrafficRecord> batch;
    for (int i = 0; i < 30; ++i)
        batch << record(i, i % 3 == 0 ? "alpha" : "beta", i % 3 == 0 ? "beta" : "gamma");
    batch[3].preview = "needle in the payload";
    f->device.push(frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch(batch)));
    QCOMPARE(shown->rowCount(), 0); // not before the feed's tick
    w.feed()->flush();
    QCOMPARE(shown->rowCount(), 30);

    // Filters: by source, by target, by text.
    QTest::keyClicks(w.trafficSourceEdit(), QStringLiteral("alpha"));
    QCOMPARE(shown->rowCount(), 10);
    QTest::keyClicks(w.trafficTextEdit(), QStringLiteral("NEEDLE"));
    QCOMPARE(shown->rowCount(), 1);
    QCOMPARE(shown->index(0, TrafficModel::PreviewColumn).data().toString(), QStringLiteral("needle in the payload"));
    w.trafficTextEdit()->clear();
    w.trafficSourceEdit()->clear();
    QTest::keyClicks(w.trafficTargetEdit(), QStringLiteral("gamma"));
    QCOMPARE(shown->rowCount(), 20);
    w.trafficTargetEdit()->clear();
    QCOMPARE(shown->rowCount(), 30);

    // Pause: nothing new is shown, however many ticks pass; resume shows it all.
    w.pauseAction()->trigger();
    QVERIFY(w.trafficModel()->isPaused());
    f->device.push(frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch({record(100), record(101)})));
    w.feed()->flush();
    f->device.push(frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch({record(102)})));
    w.feed()->flush();
    QCOMPARE(shown->rowCount(), 30);
    QCOMPARE(w.trafficModel()->heldBack(), qsizetype(3));
    QVERIFY(w.findChild<QLabel *>(QStringLiteral("trafficStatus"))->text().contains(QStringLiteral("paused, 3 held back")));
    w.pauseAction()->trigger();
    QVERIFY(!w.trafficModel()->isPaused());
    QCOMPARE(shown->rowCount(), 33);
    QCOMPARE(shown->index(32, TrafficModel::PreviewColumn).data().toString(), QStringLiteral("msg 102"));

    // Hex.
    w.hexAction()->trigger();
    QCOMPARE(shown->index(32, TrafficModel::PreviewColumn).data().toString(), QStringLiteral("6d 73 67 20 31 30 32"));
    w.hexAction()->trigger();

    // Export what the view shows (filtered to alpha's messages) to a file.
    QTest::keyClicks(w.trafficSourceEdit(), QStringLiteral("alpha"));
    const QString path = m_dir->filePath(QStringLiteral("traffic.csv"));
    QString error;
    QVERIFY2(w.exportTrafficCsv(path, &error), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = file.readAll().split('\n');
    QCOMPARE(lines.first(), QByteArray("Time,Source,Target,Size,Status,Preview\r"));
    // The header, alpha's 10 records of the first batch and the 3 sent while paused (record()
    // makes alpha's by default), and the empty piece after the last line end.
    QCOMPARE(lines.size(), 1 + 13 + 1);
    QCOMPARE(lines.at(1), QByteArray("2023-11-14T22:13:20.000000Z,alpha,beta,0,delivered,msg 0\r"));
    QVERIFY(lines.at(2).endsWith(",alpha,beta,3,delivered,needle in the payload\r"));
    QVERIFY(lines.last().isEmpty());
    for (int i = 1; i < lines.size() - 1; ++i)
        QVERIFY2(lines.at(i).contains(",alpha,"), lines.at(i).constData());

    // Clear.
    w.trafficSourceEdit()->clear();
    w.findChild<QAction *>(QStringLiteral("clearTraffic"))->trigger();
    QCOMPARE(shown->rowCount(), 0);
}

// PROTOCOL §6.6: the snapshot says the link is read-only; every control is greyed with a
// tooltip saying why, nothing can be sent, the title says so; a later snapshot as an operator
// (e.g. after a reconnect with another token) enables them again.
void tst_MonitorApp::readOnlyLinkGreysControls()
{
    std::unique_ptr<Fixture> f = liveWindow(MonitorRole::ReadOnly);
    QVERIFY(f);
    MainWindow &w = *f->window;
    QVERIFY(w.linkStateLabel()->text().startsWith(QStringLiteral("Live")));
    QVERIFY2(w.windowTitle().endsWith(QStringLiteral("(read-only)")), qPrintable(w.windowTitle()));
    auto *restart = w.findChild<QPushButton *>(QStringLiteral("restartService"));
    auto *stop = w.findChild<QPushButton *>(QStringLiteral("stopService"));
    auto *start = w.findChild<QPushButton *>(QStringLiteral("startService"));
    QVERIFY(restart && stop && start);

    // Everything is still seen.
    QCOMPARE(w.clientsView()->model()->rowCount(), 3);
    QCOMPARE(w.servicesView()->model()->rowCount(), 2);
    const QString log = eventLines(*w.eventsModel()).join(u'\n');
    QVERIFY2(log.contains(QStringLiteral("as a read-only monitor")), qPrintable(log));

    clickRow(w.clientsView(), rowOfName(w.clientsView()->model(), "beta"));
    QCOMPARE(w.selectedClientName(), QByteArray("beta"));
    clickRow(w.servicesView(), 0); // logger, running: an operator could restart and stop it
    QCOMPARE(w.selectedServiceName(), QStringLiteral("logger"));
    for (QAction *action : {w.disconnectClientAction(), w.sendTestMessageAction()}) {
        QVERIFY2(!action->isEnabled(), qPrintable(action->text()));
        QVERIFY2(action->toolTip().startsWith(QStringLiteral("Read-only monitor")), qPrintable(action->toolTip()));
    }
    for (QPushButton *button : {restart, stop, start}) {
        QVERIFY2(!button->isEnabled(), qPrintable(button->text()));
        QVERIFY2(button->toolTip().startsWith(QStringLiteral("Read-only monitor")), qPrintable(button->toolTip()));
    }
    w.disconnectClientAction()->trigger();
    QTest::mouseClick(restart, Qt::LeftButton);
    QTest::mouseClick(stop, Qt::LeftButton);
    QVERIFY(controlsSent(f->device).isEmpty());

    // A snapshot as an operator: the same selection may act again.
    MonitorSnapshotBegin begin;
    begin.clientCount = 0;
    begin.serviceCount = 0;
    begin.role = MonitorRole::Operator;
    f->device.push(frame(MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin)));
    QTRY_VERIFY(restart->toolTip().isEmpty());
    QVERIFY(!w.windowTitle().contains(QStringLiteral("read-only")));
    QVERIFY(!w.disconnectClientAction()->toolTip().startsWith(QStringLiteral("Read-only")));
}

void tst_MonitorApp::servicesPanelActions()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    QTableView *services = w.servicesView();
    QCOMPARE(services->model()->rowCount(), 2);
    auto *restart = w.findChild<QPushButton *>(QStringLiteral("restartService"));
    auto *stop = w.findChild<QPushButton *>(QStringLiteral("stopService"));
    auto *start = w.findChild<QPushButton *>(QStringLiteral("startService"));
    QVERIFY(restart && stop && start);
    QVERIFY(!restart->isEnabled());

    clickRow(services, 0); // sorted by name: logger, running
    QCOMPARE(w.selectedServiceName(), QStringLiteral("logger"));
    QVERIFY(restart->isEnabled());
    QVERIFY(stop->isEnabled());
    QVERIFY(!start->isEnabled());
    QTest::mouseClick(restart, Qt::LeftButton);
    QTest::mouseClick(stop, Qt::LeftButton);
    clickRow(services, 1); // sensor, stopped
    QVERIFY(start->isEnabled());
    QVERIFY(!stop->isEnabled());
    QTest::mouseClick(start, Qt::LeftButton);

    const QList<MonitorControl> sent = controlsSent(f->device);
    QCOMPARE(sent.size(), 3);
    QCOMPARE(sent.at(0).action, MonitorControlAction::RestartService);
    QCOMPARE(sent.at(0).target, QByteArray("logger"));
    QCOMPARE(sent.at(1).action, MonitorControlAction::StopService);
    QCOMPARE(sent.at(2).action, MonitorControlAction::StartService);
    QCOMPARE(sent.at(2).target, QByteArray("sensor"));

    // A restart shows in the restart count and the log.
    MonitorService logger;
    logger.name = QStringLiteral("logger");
    logger.state = MonitorServiceState::Running;
    logger.pid = 4343;
    logger.restarts = 1;
    f->device.push(frame(MonitorFrame::Service, encodeMonitorService(logger)));
    w.feed()->flush();
    QCOMPARE(services->model()->index(0, ServicesModel::RestartsColumn).data().toString(), QStringLiteral("1"));
    QVERIFY(eventLines(*w.eventsModel()).contains(QStringLiteral("restart logger restarted (1 restart(s) so far)")));
}

void tst_MonitorApp::statusBarShowsRefusal()
{
    FakeDevice device;
    MonitorLink link;
    MainWindow window(&link, m_settings.get());
    window.show();
    link.setTransport(&device);
    link.open();
    QTRY_COMPARE(link.state(), MonitorLink::State::Authenticating);
    QVERIFY(window.linkStateLabel()->text().startsWith(QStringLiteral("Authenticating")));
    device.push(error(ErrorCode::NotPermitted, QStringLiteral("monitor token refused"), 1));
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    const QString text = window.linkStateLabel()->text();
    QVERIFY2(text.startsWith(QStringLiteral("Disconnected")) && text.contains(QStringLiteral("not_permitted")), qPrintable(text));
    window.feed()->flush();
    QVERIFY(eventLines(*window.eventsModel()).join(u'\n').contains(QStringLiteral("refusal")));
}

void tst_MonitorApp::connectDialogRemembersBrokersButNotTokens()
{
    const QString file = m_dir->filePath(QStringLiteral("dialog.ini"));
    QFile::remove(file);
    QSettings settings(file, QSettings::IniFormat);
    {
        ConnectDialog dialog(&settings);
        auto *host = dialog.findChild<QLineEdit *>(QStringLiteral("host"));
        auto *port = dialog.findChild<QSpinBox *>(QStringLiteral("port"));
        auto *token = dialog.findChild<QLineEdit *>(QStringLiteral("token"));
        auto *tls = dialog.findChild<QGroupBox *>(QStringLiteral("tls"));
        auto *pin = dialog.findChild<QLineEdit *>(QStringLiteral("pin"));
        auto *ok = dialog.findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok);
        QVERIFY(host && port && token && tls && pin && ok);
        QVERIFY(!ok->isEnabled()); // no host yet
        QTest::keyClicks(host, QStringLiteral("board.lan"));
        port->setValue(9000);
        QTest::keyClicks(token, QStringLiteral("top-secret"));
        QVERIFY(ok->isEnabled());
        // Pinning needs a real SHA-256.
        tls->setChecked(true);
        for (QRadioButton *r : dialog.findChildren<QRadioButton *>())
            if (r->text().startsWith(QStringLiteral("Pin")))
                r->setChecked(true);
        QTest::keyClicks(pin, QStringLiteral("AB:CD"));
        QVERIFY(!ok->isEnabled());
        pin->setText(QString(64, u'a'));
        QVERIFY(ok->isEnabled());
        const MonitorLink::Settings s = dialog.linkSettings();
        QCOMPARE(s.address.toString(), QStringLiteral("board.lan:9000"));
        QCOMPARE(s.token, QByteArray("top-secret"));
        QVERIFY(s.tls);
        QCOMPARE(s.trust, MonitorLink::TlsTrust::Pinned);
        QCOMPARE(s.pinnedSha256, QByteArray(32, char(0xaa)));
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        // Accepting is not connecting: nothing is remembered until the link goes live, when the
        // window calls rememberBroker() with the dialog's choice.
        QVERIFY(ConnectDialog::recentBrokers(settings).isEmpty());
        ConnectDialog::rememberBroker(settings, dialog.linkSettings(), dialog.rememberToken());
    }
    // Remembered: the broker and how to trust it, never the token that was not asked to be kept.
    settings.sync();
    QFile raw(file);
    QVERIFY(raw.open(QIODevice::ReadOnly));
    const QByteArray stored = raw.readAll();
    QVERIFY(stored.contains("board.lan:9000"));
    QVERIFY2(!stored.contains("top-secret"), stored.constData());
    raw.close();
    QList<ConnectDialog::Recent> recent = ConnectDialog::recentBrokers(settings);
    QCOMPARE(recent.size(), 1);
    QVERIFY(recent.first().token.isEmpty());
    QCOMPARE(recent.first().trust, MonitorLink::TlsTrust::Pinned);

    // A second dialog offers it again; with "remember the token" ticked the token is kept.
    {
        ConnectDialog dialog(&settings);
        QCOMPARE(dialog.linkSettings().address.toString(), QStringLiteral("board.lan:9000"));
        QVERIFY(dialog.linkSettings().tls);
        auto *token = dialog.findChild<QLineEdit *>(QStringLiteral("token"));
        QVERIFY(token->text().isEmpty());
        QTest::keyClicks(token, QStringLiteral("kept-secret"));
        dialog.findChild<QCheckBox *>(QStringLiteral("rememberToken"))->setChecked(true);
        dialog.accept();
        ConnectDialog::rememberBroker(settings, dialog.linkSettings(), dialog.rememberToken());
    }
    recent = ConnectDialog::recentBrokers(settings);
    QCOMPARE(recent.size(), 1); // the same broker, not a second entry
    QCOMPARE(recent.first().token, QByteArray("kept-secret"));
    {
        ConnectDialog dialog(&settings);
        QCOMPARE(dialog.linkSettings().token, QByteArray("kept-secret"));
        QVERIFY(dialog.rememberToken());
    }
}

// The count was taken on the proxy's rowsRemoved, while the source still had the row: "2 of 3
// shown" with an empty filter.
void tst_MonitorApp::clientCountAfterClientLeaves()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    auto *count = w.findChild<QLabel *>(QStringLiteral("clientsCount"));
    QVERIFY(count);
    QCOMPARE(count->text(), QStringLiteral("3 connected"));
    MonitorClientGone gone;
    gone.sessionId = 3;
    gone.reason = QStringLiteral("closed");
    f->device.push(frame(MonitorFrame::ClientGone, encodeMonitorClientGone(gone)));
    w.feed()->flush();
    QCOMPARE(w.clientsModel()->rowCount(), 2);
    QCOMPARE(count->text(), QStringLiteral("2 connected"));
    // With a filter the count says so, and follows a leave too.
    QTest::keyClicks(w.clientFilterEdit(), QStringLiteral("alpha"));
    QCOMPARE(count->text(), QStringLiteral("1 of 2 shown"));
    gone.sessionId = 2;
    f->device.push(frame(MonitorFrame::ClientGone, encodeMonitorClientGone(gone)));
    w.feed()->flush();
    QCOMPARE(count->text(), QStringLiteral("1 connected"));
}

// When the broker goes, the last figures stay readable but nothing in them looks live: no state
// colours, the summary greyed and marked, and cleared once the link is closed for good.
void tst_MonitorApp::staleDataLooksStale()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    MonitorTotals totals;
    totals.clients = 3;
    totals.watched = 2;
    totals.messagesRouted = 42;
    f->device.push(frame(MonitorFrame::Totals, encodeMonitorTotals(totals)));
    w.feed()->flush();
    auto *summary = w.findChild<QLabel *>(QStringLiteral("summary"));
    QVERIFY(summary);
    QVERIFY2(summary->text().startsWith(QStringLiteral("3 clients · 2 watched · 42 routed")), qPrintable(summary->text()));
    QVERIFY(summary->isEnabled());
    const int alpha = rowOfName(w.clientsView()->model(), "alpha");
    const QModelIndex state = w.clientsView()->model()->index(alpha, ClientsModel::WatchStateColumn);
    QVERIFY(state.data(Qt::BackgroundRole).isValid());
    const QModelIndex service = w.servicesView()->model()->index(0, ServicesModel::StateColumn);
    QVERIFY(service.data(Qt::BackgroundRole).isValid());

    // The broker dies (over a given transport the link does not retry).
    f->device.close();
    QTRY_COMPARE(f->link.state(), MonitorLink::State::Disconnected);
    QCOMPARE(w.clientsModel()->rowCount(), 3); // kept, to be read
    QVERIFY(!state.data(Qt::BackgroundRole).isValid());
    QVERIFY(!state.data(Qt::ForegroundRole).isValid());
    QVERIFY(state.data(ClientsModel::StaleRole).toBool());
    QVERIFY(!service.data(Qt::BackgroundRole).isValid());
    QVERIFY2(summary->text().isEmpty(), qPrintable(summary->text()));
}

void tst_MonitorApp::summaryUsesPluralForms()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    MonitorTotals totals;
    totals.clients = 1;
    totals.watched = 1;
    totals.messagesRouted = 1;
    totals.expiries = 1;
    totals.kills = 1;
    f->device.push(frame(MonitorFrame::Totals, encodeMonitorTotals(totals)));
    w.feed()->flush();
    const QString text = w.findChild<QLabel *>(QStringLiteral("summary"))->text();
    QVERIFY2(text.startsWith(QStringLiteral("1 client · ")), qPrintable(text));
    QVERIFY2(text.endsWith(QStringLiteral("1 expiry, 1 kill")), qPrintable(text));
    // Admission refusals: summed in the line, broken down in the tooltip.
    totals.guessesRefused = 2;
    totals.admissionRefusedPerPrefix = 1;
    f->device.push(frame(MonitorFrame::Totals, encodeMonitorTotals(totals)));
    w.feed()->flush();
    auto *summary = w.findChild<QLabel *>(QStringLiteral("summary"));
    QVERIFY2(summary->text().endsWith(QStringLiteral("1 expiry, 1 kill · 3 admissions refused")), qPrintable(summary->text()));
    QVERIFY2(summary->toolTip().contains(QStringLiteral("per network prefix 1")), qPrintable(summary->toolTip()));
    QVERIFY2(summary->toolTip().contains(QStringLiteral("token guesses over the budget 2")), qPrintable(summary->toolTip()));
    f->device.push(frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch({record(1)})));
    w.feed()->flush();
    const QString traffic = w.findChild<QLabel *>(QStringLiteral("trafficStatus"))->text();
    QVERIFY2(traffic.startsWith(QStringLiteral("1 of 1 record")) && !traffic.contains(QStringLiteral("records")), qPrintable(traffic));
}

void tst_MonitorApp::connectDialogHostLabelHasMnemonic()
{
    ConnectDialog dialog(nullptr);
    auto *label = dialog.findChild<QLabel *>(QStringLiteral("hostLabel"));
    QVERIFY(label);
    // A label without a buddy paints its '&'; with one, Alt+H goes to the host field.
    QCOMPARE(label->buddy(), dialog.findChild<QLineEdit *>(QStringLiteral("host")));
    for (QLabel *l : dialog.findChildren<QLabel *>())
        if (l->text().contains(u'&'))
            QVERIFY2(l->buddy(), qPrintable(l->text()));
}

// Only a broker that admitted us is offered again, the one given on the command line included
// (the window remembers it when the link goes live, however it was opened).
void tst_MonitorApp::recentBrokersOnlyThoseThatWentLive()
{
    const QString file = m_dir->filePath(QStringLiteral("recent.ini"));
    QFile::remove(file);
    QSettings settings(file, QSettings::IniFormat);
    {
        // Refused.
        FakeDevice device;
        MonitorLink link;
        MonitorLink::Settings s;
        s.address = *BrokerAddress::parse(QStringLiteral("refusing.lan:9000"));
        link.setSettings(s);
        MainWindow window(&link, &settings);
        link.setTransport(&device);
        link.open();
        QTRY_COMPARE(link.state(), MonitorLink::State::Authenticating);
        device.push(error(ErrorCode::NotPermitted, QStringLiteral("monitor token refused"), 1));
        QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    }
    QVERIFY(ConnectDialog::recentBrokers(settings).isEmpty());
    {
        // Opened the way `--broker … --connect` does: no dialog, then live.
        FakeDevice device;
        MonitorLink link;
        MonitorLink::Settings s;
        s.address = *BrokerAddress::parse(QStringLiteral("board.lan:9001"));
        link.setSettings(s);
        MainWindow window(&link, &settings);
        QVERIFY(goLive(link, device, "cli-secret"));
    }
    QList<ConnectDialog::Recent> recent = ConnectDialog::recentBrokers(settings);
    QCOMPARE(recent.size(), 1);
    QCOMPARE(recent.first().address, QStringLiteral("board.lan:9001"));
    QVERIFY(recent.first().token.isEmpty()); // never asked to be kept
}

// The window at 1024×768, fed: every shown column header of the tables in view lies wholly
// inside its table and is as wide as its title needs; the status bar's texts are not cut.
void tst_MonitorApp::layoutFitsAt1024x768()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    w.resize(1024, 768);
    MonitorTotals totals;
    totals.clients = 3;
    totals.watched = 2;
    totals.messagesRouted = 123456;
    totals.undelivered = 12;
    totals.expiries = 3;
    totals.kills = 2;
    totals.heldMessages = 12; // held delivery's figures (PROTOCOL §6.7) at their longest
    totals.heldExpired = 3;
    totals.heldDroppedNameCount = 1;
    totals.timeMs = 1700000000000;
    f->device.push(frame(MonitorFrame::Totals, encodeMonitorTotals(totals)));
    // A second one for the rates: the summary at its longest.
    totals.timeMs += 1000;
    totals.messagesRouted += 1234;
    totals.bytesRouted += 123456;
    f->device.push(frame(MonitorFrame::Totals, encodeMonitorTotals(totals)));
    MonitorService failing;
    failing.name = QStringLiteral("sensor");
    failing.state = MonitorServiceState::Backoff;
    failing.restarts = 4;
    failing.lastExitSignal = 9;
    failing.lastExitMs = 1700000000000;
    failing.msUntilRestart = 4000;
    failing.lastError = QStringLiteral("exited on signal 9");
    f->device.push(frame(MonitorFrame::Service, encodeMonitorService(failing)));
    // Messages held for the restarting service (PROTOCOL §6.7): its Held cell has text.
    f->device.push(frame(MonitorFrame::Held, encodeMonitorHeld({"sensor", 12, 1536, 4200, 25800})));
    QList<MonitorTrafficRecord> batch;
    for (int i = 0; i < 20; ++i)
        batch << record(i);
    f->device.push(frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch(batch)));
    w.feed()->flush();
    QTRY_COMPARE(w.size(), QSize(1024, 768));
    QCoreApplication::processEvents();
    const QImage shot = w.grab().toImage(); // lays everything out as it is painted
    QCOMPARE(shot.size(), QSize(1024, 768) * w.devicePixelRatio());

    for (QTableView *view : {w.clientsView(), w.servicesView(), w.trafficView()}) {
        QVERIFY2(view->isVisible(), qPrintable(view->objectName()));
        QHeaderView *header = view->horizontalHeader();
        int shown = 0;
        for (int c = 0; c < header->count(); ++c) {
            if (header->isSectionHidden(c))
                continue;
            ++shown;
            const QString title = view->model()->headerData(c, Qt::Horizontal).toString();
            const int left = header->sectionViewportPosition(c);
            const int width = header->sectionSize(c);
            QVERIFY2(left >= 0 && left + width <= header->viewport()->width(),
                     qPrintable(QStringLiteral("%1: '%2' at %3+%4, table %5 wide")
                                    .arg(view->objectName(), title).arg(left).arg(width).arg(header->viewport()->width())));
            QVERIFY2(width >= header->fontMetrics().horizontalAdvance(title),
                     qPrintable(QStringLiteral("%1: '%2' cut to %3 px").arg(view->objectName(), title).arg(width)));
        }
        QVERIFY(shown >= 5);
    }
    // The Deadline column and the services' restarts and errors are among those shown.
    QVERIFY(!w.clientsView()->isColumnHidden(ClientsModel::DeadlineColumn));
    for (int c : {ServicesModel::RestartsColumn, ServicesModel::LastExitColumn, ServicesModel::RestartInColumn,
                  ServicesModel::HeldColumn, ServicesModel::LastErrorColumn})
        QVERIFY(!w.servicesView()->isColumnHidden(c));
    QVERIFY(!w.clientsView()->isColumnHidden(ClientsModel::HeldColumn));

    // The services' short cells are not cut either ("run…" for running).
    // The oldest's age counts on from 4.2 s while the test runs.
    QString heldCell;
    for (int r = 0; r < w.servicesView()->model()->rowCount(); ++r) {
        if (w.servicesView()->model()->index(r, ServicesModel::NameColumn).data().toString() == QLatin1String("sensor"))
            heldCell = w.servicesView()->model()->index(r, ServicesModel::HeldColumn).data().toString();
    }
    QVERIFY2(heldCell.startsWith(QStringLiteral("12 · 1.5 KiB · 4.")), qPrintable(heldCell));
    for (int c : {ServicesModel::NameColumn, ServicesModel::StateColumn, ServicesModel::PidColumn, ServicesModel::LastExitColumn,
                  ServicesModel::HeldColumn}) {
        for (int r = 0; r < w.servicesView()->model()->rowCount(); ++r) {
            const QString cell = w.servicesView()->model()->index(r, c).data().toString();
            QVERIFY2(w.servicesView()->columnWidth(c) >= w.servicesView()->fontMetrics().horizontalAdvance(cell) + 8,
                     qPrintable(QStringLiteral("'%1' cut to %2 px").arg(cell).arg(w.servicesView()->columnWidth(c))));
        }
    }

    QStatusBar *bar = w.statusBar();
    QVERIFY(bar->isVisible());
    QVERIFY(w.rect().contains(bar->geometry()));
    const QString summary = w.findChild<QLabel *>(QStringLiteral("summary"))->text();
    QVERIFY2(summary.contains(QStringLiteral("/s")) && summary.contains(QStringLiteral("kills"))
                 && summary.contains(QStringLiteral("12 held (4 not delivered)")),
             qPrintable(summary));
    for (QLabel *label : {w.linkStateLabel(), w.findChild<QLabel *>(QStringLiteral("summary"))}) {
        QVERIFY(!label->text().isEmpty());
        const QRect inWindow(label->mapTo(&w, QPoint(0, 0)), label->size());
        QVERIFY2(w.rect().contains(inWindow), qPrintable(label->text()));
        QVERIFY2(label->width() >= label->fontMetrics().horizontalAdvance(label->text()),
                 qPrintable(QStringLiteral("'%1' cut to %2 px").arg(label->text()).arg(label->width())));
    }
}

// The Topics and Output tabs at 1024×768, fed: the topics table's headers are whole and inside the
// table, the summary line above it is not cut, and the Output tab's controls are in the window.
void tst_MonitorApp::topicsAndOutputTabsFitAt1024x768()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    w.resize(1024, 768);
    MonitorTopics topics;
    topics.timeMs = 1700000000000;
    topics.intervalMs = 1000;
    topics.trackedTopics = 4096;
    topics.untrackedPublications = 12345;
    topics.retainedTopics = 1000;
    topics.retainedBytes = 3 * 1024 * 1024;
    topics.subscriptions = 2500;
    topics.copiesNotTaken = 77;
    for (int i = 0; i < 30; ++i) {
        MonitorTopicEntry e;
        e.topic = "plant/line-" + QByteArray::number(i) + "/boiler/temperature";
        e.publications = 12345678 + quint64(i);
        e.rateMilli = 123456;
        e.subscribers = 16;
        e.retained = i % 2 == 0;
        e.retainedBytes = 500;
        e.lastPublishedMs = 1700000000000;
        topics.entries.append(e);
    }
    f->device.push(frame(MonitorFrame::Topics, encodeMonitorTopics(topics)));
    QTRY_COMPARE(w.topicsModel()->rowCount(), 30);
    w.tabs()->setCurrentWidget(w.topicsPanel());
    QTRY_COMPARE(w.size(), QSize(1024, 768));
    QCoreApplication::processEvents();
    (void)w.grab(); // lays everything out as it is painted

    QTableView *view = w.topicsPanel()->view();
    QVERIFY(view->isVisible());
    QHeaderView *header = view->horizontalHeader();
    for (int c = 0; c < header->count(); ++c) {
        const QString title = view->model()->headerData(c, Qt::Horizontal).toString();
        const int left = header->sectionViewportPosition(c);
        const int width = header->sectionSize(c);
        QVERIFY2(left >= 0 && left + width <= header->viewport()->width(),
                 qPrintable(QStringLiteral("'%1' at %2+%3, table %4 wide").arg(title).arg(left).arg(width).arg(header->viewport()->width())));
        QVERIFY2(width >= header->fontMetrics().horizontalAdvance(title),
                 qPrintable(QStringLiteral("'%1' cut to %2 px").arg(title).arg(width)));
    }
    // The rate and the retained size are not cut either.
    for (int c : {TopicsModel::RateColumn, TopicsModel::RetainedColumn, TopicsModel::PublicationsColumn}) {
        const QString cell = view->model()->index(0, c).data().toString();
        QVERIFY2(view->columnWidth(c) >= view->fontMetrics().horizontalAdvance(cell) + 6,
                 qPrintable(QStringLiteral("'%1' cut to %2 px").arg(cell).arg(view->columnWidth(c))));
    }
    QLabel *summary = w.topicsPanel()->summaryLabel();
    QVERIFY2(summary->text().contains(QStringLiteral("4096 topics (the 30 busiest shown)")), qPrintable(summary->text()));
    QVERIFY(w.rect().contains(QRect(summary->mapTo(&w, QPoint(0, 0)), summary->size())));
    QVERIFY(summary->height() >= summary->heightForWidth(summary->width()));
    QWidget *filters = w.topicsPanel()->filterList();
    QVERIFY(filters->isVisible());
    QVERIFY(w.rect().contains(QRect(filters->mapTo(&w, QPoint(0, 0)), filters->size())));

    w.tabs()->setCurrentWidget(w.outputPanel());
    QCoreApplication::processEvents();
    (void)w.grab();
    for (QWidget *widget : std::initializer_list<QWidget *>{w.outputPanel()->serviceCombo(), w.outputPanel()->text()}) {
        QVERIFY(widget->isVisible());
        QVERIFY(w.rect().contains(QRect(widget->mapTo(&w, QPoint(0, 0)), widget->size())));
    }
    QVERIFY(w.statusBar()->isVisible());
}

void tst_MonitorApp::trafficDetailShowsHexAndAscii()
{
    std::unique_ptr<Fixture> f = liveWindow();
    QVERIFY(f);
    MainWindow &w = *f->window;
    MonitorTrafficRecord binary = record(1, "alpha", "ghost", DeliveryStatus::NoSuchClient);
    binary.preview = QByteArray("KN\x01" "A            Z", 17);
    binary.size = 300;
    f->device.push(frame(MonitorFrame::Traffic, encodeMonitorTrafficBatch({record(0), binary})));
    w.feed()->flush();
    QPlainTextEdit *detail = w.trafficDetail();
    QVERIFY(detail && detail->isVisible());
    QVERIFY(detail->toPlainText().isEmpty());
    clickRow(w.trafficView(), 1);
    const QString text = detail->toPlainText();
    // hexdump -C's layout, byte for byte, at 8 bytes a line.
    QVERIFY2(text.contains(QStringLiteral("00000000  4b 4e 01 41  20 20 20 20  |KN.A    |\n"
                                          "00000008  20 20 20 20  20 20 20 20  |        |\n"
                                          "00000010  5a                        |Z|")),
             qPrintable(text));
    QCOMPARE(Format::hexDump(QByteArray("KN\x01" "A            Z", 17)),
             QStringLiteral("00000000  4b 4e 01 41 20 20 20 20  20 20 20 20 20 20 20 20  |KN.A            |\n"
                            "00000010  5a                                                |Z|\n"));
    QVERIFY2(text.contains(QStringLiteral("alpha → ghost")) && text.contains(QStringLiteral("300 bytes"))
                 && text.contains(QStringLiteral("no_such_client")) && text.contains(QStringLiteral("the first 17 bytes")),
             qPrintable(text));
    // Another row, another preview; the table in hex mode does not change what the pane shows.
    w.hexAction()->setChecked(true);
    clickRow(w.trafficView(), 0);
    QVERIFY2(detail->toPlainText().contains(QStringLiteral("|msg 0|")), qPrintable(detail->toPlainText()));
    w.clearTraffic();
    QVERIFY(detail->toPlainText().isEmpty());
}

// Axes start at 0 and fit what is drawn: 40 B/s is not drawn against 1 KiB.
void tst_MonitorApp::rateChartAxes()
{
    RateChart::Axis bytes = RateChart::axisFor(40, RateChart::MinimumBytesScale);
    QCOMPARE(bytes.top, 50.0);
    QCOMPARE(bytes.steps, 5);
    bytes = RateChart::axisFor(0, RateChart::MinimumBytesScale);
    QVERIFY(bytes.top > 0 && bytes.top < 1024);
    QCOMPARE(RateChart::axisFor(0.4, RateChart::MinimumMessagesScale).top, 1.0);
    QCOMPARE(RateChart::axisFor(130, RateChart::MinimumMessagesScale).top, 200.0);
    QCOMPARE(RateChart::axisFor(3000, RateChart::MinimumBytesScale).top, 5000.0);

    const QList<QPair<qint64, QString>> ticks = RateChart::timeTicks(5 * 60 * 1000);
    QCOMPARE(ticks.size(), 6);
    QCOMPARE(ticks.first().first, 5 * 60 * 1000);
    QCOMPARE(ticks.first().second, QStringLiteral("−5 min 00 s"));
    QCOMPARE(ticks.last(), qMakePair(qint64(0), QStringLiteral("now")));
    QCOMPARE(RateChart::timeTicks(60 * 1000).size(), 7); // every 10 s

    // It paints, empty and fed, at a dock's size.
    RateSeries series(std::chrono::minutes(5));
    RateChart chart(&series);
    chart.resize(600, 180);
    QVERIFY(!chart.grab().isNull());
    QList<MonitorTotals> totals;
    for (int i = 0; i < 30; ++i) {
        MonitorTotals t;
        t.timeMs = 1000000 + i * 1000;
        t.messagesRouted = quint64(i / 2);
        t.bytesRouted = quint64(i) * 20;
        totals << t;
    }
    series.addTotals(totals);
    QVERIFY(!chart.grab().isNull());
}

// --- end to end ---------------------------------------------------------------------------------

// The broker goes away: while the link retries it, the summary stays, greyed and marked; the
// tables keep their rows without state colours; closing the link clears the summary.
void tst_MonitorApp::summaryGreyedWhileReconnecting()
{
    BrokerConfig config;
    config.monitor.allowLocalPeers = true;
    config.monitor.totalsInterval = std::chrono::milliseconds(100);
    auto broker = std::make_unique<KennelTest::TestBroker>(config);
    QVERIFY(broker->start());
    KennelClient alpha;
    alpha.setName("alpha");
    alpha.setBrokerAddress(*BrokerAddress::parse(broker->tcpAddress()));
    alpha.connectToBroker();
    QTRY_COMPARE(alpha.state(), KennelClient::Registered);

    MonitorLink link;
    MonitorLink::Settings s;
    s.address = *BrokerAddress::parse(broker->unixAddress());
    link.setSettings(s);
    MainWindow window(&link, m_settings.get());
    window.feed()->setInterval(std::chrono::milliseconds(50));
    window.show();
    link.open();
    QTRY_COMPARE_WITH_TIMEOUT(link.state(), MonitorLink::State::Live, 10000);
    auto *summary = window.findChild<QLabel *>(QStringLiteral("summary"));
    QTRY_VERIFY_WITH_TIMEOUT(summary->text().startsWith(QStringLiteral("1 client · ")), 10000);
    QVERIFY(summary->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(rowOfName(window.clientsView()->model(), "alpha") >= 0, 10000);

    broker.reset(); // the broker exits
    QTRY_COMPARE_WITH_TIMEOUT(link.state(), MonitorLink::State::Reconnecting, 10000);
    QVERIFY2(summary->text().startsWith(QStringLiteral("last seen: 1 client · ")), qPrintable(summary->text()));
    QVERIFY(!summary->isEnabled());
    QVERIFY(!summary->text().contains(QStringLiteral("/s"))); // no rates that are not happening
    QVERIFY(window.clientsModel()->isStale());
    QVERIFY(window.servicesModel()->isStale());
    QVERIFY(window.clientsModel()->rowCount() >= 1);

    link.close();
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    QVERIFY2(summary->text().isEmpty(), qPrintable(summary->text()));
}

void tst_MonitorApp::endToEndOverUnixSocket()
{
    BrokerConfig config;
    config.monitor.token = "e2e-token";
    config.monitor.allowLocalPeers = true;
    config.monitor.totalsInterval = std::chrono::milliseconds(200);
    KennelTest::TestBroker broker(config);
    QVERIFY(broker.start());

    // Two real clients over TCP, and a monitor over the Unix socket with no token: this process
    // runs as root or as the broker's own user, which the peer credentials prove.
    KennelClient alpha, beta;
    alpha.setName("alpha");
    beta.setName("beta");
    const BrokerAddress tcp = *BrokerAddress::parse(broker.tcpAddress());
    alpha.setBrokerAddress(tcp);
    beta.setBrokerAddress(tcp);
    QSignalSpy betaGot(&beta, &KennelClient::messageReceived);
    alpha.connectToBroker();
    beta.connectToBroker();
    QTRY_COMPARE(alpha.state(), KennelClient::Registered);
    QTRY_COMPARE(beta.state(), KennelClient::Registered);

    MonitorLink link;
    MonitorLink::Settings s;
    s.address = *BrokerAddress::parse(broker.unixAddress());
    link.setSettings(s);
    MainWindow window(&link, m_settings.get());
    window.setConfirmActions(false);
    window.feed()->setInterval(std::chrono::milliseconds(50));
    window.show();
    link.open();
    QTRY_COMPARE_WITH_TIMEOUT(link.state(), MonitorLink::State::Live, 10000);
    QVERIFY2(window.linkStateLabel()->text().startsWith(QStringLiteral("Live")), qPrintable(window.linkStateLabel()->text()));

    // The registered clients are in the table.
    QAbstractItemModel *clients = window.clientsView()->model();
    QTRY_VERIFY_WITH_TIMEOUT(rowOfName(clients, "alpha") >= 0 && rowOfName(clients, "beta") >= 0, 10000);
    QVERIFY(link.monitorIdentity().contains(QStringLiteral("peer uid")));
    QVERIFY(window.selectClient("alpha"));
    QCOMPARE(window.selectedClientName(), QByteArray("alpha"));

    // A client that joins later appears too.
    KennelClient gamma;
    gamma.setName("gamma");
    gamma.setBrokerAddress(tcp);
    gamma.connectToBroker();
    QTRY_VERIFY_WITH_TIMEOUT(rowOfName(clients, "gamma") >= 0, 10000);

    // Traffic appears once alpha sends.
    for (int i = 0; i < 5; ++i)
        QVERIFY(alpha.send("beta", "reading " + QByteArray::number(i)));
    alpha.send("nobody", "lost"); // undelivered, and shown as such
    QTRY_COMPARE(betaGot.count(), 5);
    QAbstractItemModel *traffic = window.trafficView()->model();
    QTRY_VERIFY_WITH_TIMEOUT(traffic->rowCount() >= 6, 10000);
    QTest::keyClicks(window.trafficTargetEdit(), QStringLiteral("beta"));
    QTRY_COMPARE(traffic->rowCount(), 5);
    QCOMPARE(traffic->index(0, TrafficModel::SourceColumn).data().toString(), QStringLiteral("alpha"));
    QCOMPARE(traffic->index(4, TrafficModel::PreviewColumn).data().toString(), QStringLiteral("reading 4"));
    QCOMPARE(traffic->index(4, TrafficModel::StatusColumn).data().toString(), QStringLiteral("delivered"));
    window.trafficTargetEdit()->clear();
    QTest::keyClicks(window.trafficTargetEdit(), QStringLiteral("nobody"));
    QTRY_COMPARE(traffic->rowCount(), 1);
    QCOMPARE(traffic->index(0, TrafficModel::StatusColumn).data().toString(), QStringLiteral("no_such_client"));
    window.trafficTargetEdit()->clear();

    // The message counters of the clients follow (refreshed with the totals).
    QTRY_VERIFY_WITH_TIMEOUT(clients->index(rowOfName(clients, "alpha"), ClientsModel::MessagesInColumn).data().toString().toInt() >= 5, 10000);

    // The operator disconnects alpha from the window; the broker does it and the table follows.
    QVERIFY(window.selectClient("alpha"));
    window.disconnectClientAction()->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(alpha.state(), KennelClient::Disconnected, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(rowOfName(clients, "alpha") < 0, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(eventLines(*window.eventsModel()).join(u'\n').contains(QStringLiteral("disconnect 'alpha': done")), 10000);
    QVERIFY(eventLines(*window.eventsModel()).join(u'\n').contains(QStringLiteral("leave alpha")));

    link.close();
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
}

void tst_MonitorApp::wrongTokenOverTcpIsRefused()
{
    BrokerConfig config;
    config.monitor.token = "right-token";
    config.monitor.failureDelay = std::chrono::milliseconds(100);
    KennelTest::TestBroker broker(config);
    QVERIFY(broker.start());
    const BrokerAddress tcp = *BrokerAddress::parse(broker.tcpAddress());

    MonitorLink wrong;
    MonitorLink::Settings s;
    s.address = tcp;
    s.token = "wrong-token";
    wrong.setSettings(s);
    MainWindow window(&wrong, m_settings.get());
    window.show();
    wrong.open();
    QTRY_VERIFY_WITH_TIMEOUT(wrong.state() == MonitorLink::State::Disconnected && !wrong.lastError().isEmpty(), 15000);
    QVERIFY2(wrong.lastError().contains(QStringLiteral("not_permitted")), qPrintable(wrong.lastError()));
    const QString shown = window.linkStateLabel()->text();
    QVERIFY2(shown.startsWith(QStringLiteral("Disconnected")) && shown.contains(QStringLiteral("not_permitted")), qPrintable(shown));
    QCOMPARE(window.clientsView()->model()->rowCount(), 0); // nothing was shown
    QCOMPARE(window.trafficView()->model()->rowCount(), 0);

    // The right token over the same listener is admitted.
    MonitorLink right;
    s.token = "right-token";
    right.setSettings(s);
    right.open();
    QTRY_COMPARE_WITH_TIMEOUT(right.state(), MonitorLink::State::Live, 15000);
    QTRY_COMPARE_WITH_TIMEOUT(right.monitorIdentity(), QStringLiteral("token"), 10000);
}

// The "done when", as a second machine sees it: the broker's clients listen on 127.0.0.1
// only, its monitor listener on 127.0.0.2 (another address of this host); an operator there with
// the token sees the live clients, their feed counters and deadlines and the traffic of a broker
// under load, and disconnects a client; without the token nothing is shown.
void tst_MonitorApp::operatorOnAnotherAddressWatchesBrokerUnderLoad()
{
    BrokerConfig config;
    config.monitor.token = "operator-token-0123456789";
    config.monitor.allowLocalPeers = false;
    config.monitor.failureDelay = std::chrono::milliseconds(100);
    config.monitor.totalsInterval = std::chrono::milliseconds(200);
    ListenAddress monitorAddress;
    monitorAddress.kind = ListenAddress::Kind::Tcp;
    monitorAddress.host = QStringLiteral("127.0.0.2");
    monitorAddress.port = 0;
    config.monitor.listen = {monitorAddress};
    KennelTest::TestBroker broker(config);
    QVERIFY(broker.start());
    QList<ListenAddress> monitorListeners = broker.broker().monitorAddresses();
    QCOMPARE(monitorListeners.size(), 1);
    const BrokerAddress operatorAddress = BrokerAddress::tcp(QStringLiteral("127.0.0.2"), monitorListeners.at(0).port);

    // Load: a sender streaming to a receiver, and a watched client feeding.
    const BrokerAddress tcp = *BrokerAddress::parse(broker.tcpAddress());
    KennelClient sender, receiver, watched;
    sender.setName("sender");
    receiver.setName("receiver");
    watched.setName("watched");
    for (KennelClient *c : {&sender, &receiver, &watched}) {
        c->setBrokerAddress(tcp);
        c->connectToBroker();
    }
    QTRY_VERIFY(sender.state() == KennelClient::Registered && receiver.state() == KennelClient::Registered
                && watched.state() == KennelClient::Registered);
    watched.registerWatchdog({1000, 3, ExpiryAction::Notify});
    QTimer feeder;
    connect(&feeder, &QTimer::timeout, &watched, [&watched] { watched.feedWatchdog(); });
    feeder.start(100);
    QSignalSpy received(&receiver, &KennelClient::messageReceived);
    QTimer load;
    int sent = 0;
    connect(&load, &QTimer::timeout, &sender, [&] {
        for (int i = 0; i < 200; ++i, ++sent)
            sender.send("receiver", "load " + QByteArray::number(sent));
    });
    load.start(10);

    // Without the token: refused, and nothing shown.
    {
        MonitorLink stranger;
        MonitorLink::Settings s;
        s.address = operatorAddress;
        s.token = "not-the-operator-token";
        stranger.setSettings(s);
        MainWindow window(&stranger, m_settings.get());
        window.show();
        stranger.open();
        QTRY_VERIFY_WITH_TIMEOUT(stranger.state() == MonitorLink::State::Disconnected && !stranger.lastError().isEmpty(), 15000);
        QVERIFY2(stranger.lastError().contains(QStringLiteral("not_permitted")), qPrintable(stranger.lastError()));
        window.feed()->flush();
        QCOMPARE(window.clientsView()->model()->rowCount(), 0);
        QCOMPARE(window.trafficView()->model()->rowCount(), 0);
    }

    // With the token.
    MonitorLink link;
    MonitorLink::Settings s;
    s.address = operatorAddress;
    s.token = "operator-token-0123456789";
    link.setSettings(s);
    MainWindow window(&link, m_settings.get());
    window.setConfirmActions(false);
    window.feed()->setInterval(std::chrono::milliseconds(50));
    window.show();
    link.open();
    QTRY_COMPARE_WITH_TIMEOUT(link.state(), MonitorLink::State::Live, 15000);
    QAbstractItemModel *clients = window.clientsView()->model();
    QTRY_VERIFY_WITH_TIMEOUT(rowOfName(clients, "sender") >= 0 && rowOfName(clients, "receiver") >= 0
                                 && rowOfName(clients, "watched") >= 0, 10000);
    // The feed counter climbs and the deadline is shown while the client feeds.
    const auto feeds = [&] {
        return clients->index(rowOfName(clients, "watched"), ClientsModel::FeedsColumn).data().toString().toInt();
    };
    const int firstFeeds = feeds();
    QTRY_VERIFY_WITH_TIMEOUT(feeds() > firstFeeds + 3, 10000);
    QCOMPARE(clients->index(rowOfName(clients, "watched"), ClientsModel::WatchStateColumn).data().toString(), QStringLiteral("healthy"));
    QVERIFY(!clients->index(rowOfName(clients, "watched"), ClientsModel::DeadlineColumn).data().toString().isEmpty());
    // Traffic flows into the view while the broker routes.
    QTRY_VERIFY_WITH_TIMEOUT(window.trafficView()->model()->rowCount() > 100, 10000);
    QVERIFY(received.count() > 100);

    // The operator disconnects the sender; the broker does it, the table follows.
    QVERIFY(window.selectClient("sender"));
    window.disconnectClientAction()->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(sender.state(), KennelClient::Disconnected, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(rowOfName(clients, "sender") < 0, 10000);
    load.stop();
    feeder.stop();
    link.close();
}

// --- TLS ------------------------------------------------------------------------------------------

bool tst_MonitorApp::makeCertificate()
{
    if (!m_certFile.isEmpty())
        return true;
    if (!m_opensslError.isEmpty())
        return false;
    const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
    if (openssl.isEmpty()) {
        m_opensslError = QStringLiteral("the openssl program is needed to generate a test certificate");
        return false;
    }
    const QString cert = m_dir->filePath(QStringLiteral("broker.pem"));
    const QString key = m_dir->filePath(QStringLiteral("broker.key"));
    QProcess process;
    process.start(openssl, {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("ec"),
                            QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:prime256v1"), QStringLiteral("-nodes"),
                            QStringLiteral("-keyout"), key, QStringLiteral("-out"), cert, QStringLiteral("-days"), QStringLiteral("2"),
                            QStringLiteral("-subj"), QStringLiteral("/CN=localhost"), QStringLiteral("-addext"),
                            QStringLiteral("subjectAltName=DNS:localhost,IP:127.0.0.1")});
    if (!process.waitForFinished(30000) || process.exitCode() != 0) {
        m_opensslError = QStringLiteral("openssl failed: %1").arg(QString::fromLocal8Bit(process.readAllStandardError()));
        process.kill();
        process.waitForFinished(1000);
        return false;
    }
    m_certFile = cert;
    m_keyFile = key;
    return true;
}

namespace {

// A TLS server that plays a broker's handshake: it records what the monitor sends and answers a
// Hello with Welcome.
class TlsBroker : public QObject
{
public:
    bool start(const QString &certFile, const QString &keyFile)
    {
        QFile certIn(certFile), keyIn(keyFile);
        if (!certIn.open(QIODevice::ReadOnly) || !keyIn.open(QIODevice::ReadOnly))
            return false;
        QSslConfiguration config = QSslConfiguration::defaultConfiguration();
        config.setLocalCertificate(QSslCertificate(certIn.readAll(), QSsl::Pem));
        config.setPrivateKey(QSslKey(keyIn.readAll(), QSsl::Ec, QSsl::Pem));
        config.setPeerVerifyMode(QSslSocket::VerifyNone);
        server.setSslConfiguration(config);
        connect(&server, &QTcpServer::pendingConnectionAvailable, this, [this] {
            while (QTcpSocket *socket = server.nextPendingConnection()) {
                socket->setParent(this);
                connect(socket, &QIODevice::readyRead, this, [this, socket] {
                    received += socket->readAll();
                    const QList<Frame> frames = decodeAll(received);
                    if (!frames.isEmpty() && frames.first().type == FrameType::Hello && !welcomed) {
                        welcomed = true;
                        socket->write(welcome());
                    }
                });
            }
        });
        return server.listen(QHostAddress::LocalHost, 0);
    }
    quint16 port() const { return server.serverPort(); }

    QSslServer server;
    QByteArray received;
    bool welcomed = false;
};

} // namespace

void tst_MonitorApp::tlsPinnedCertificate()
{
    if (!makeCertificate())
        QSKIP(qPrintable(m_opensslError));
    TlsBroker server;
    QVERIFY(server.start(m_certFile, m_keyFile));
    const QSslCertificate certificate = QSslCertificate::fromPath(m_certFile).value(0);
    QVERIFY(!certificate.isNull());

    MonitorLink link;
    MonitorLink::Settings s;
    s.address = BrokerAddress::tcp(QStringLiteral("127.0.0.1"), server.port());
    s.tls = true;
    s.trust = MonitorLink::TlsTrust::Pinned; // self-signed, and the pin is all the trust there is
    s.pinnedSha256 = MonitorLink::certificateSha256(certificate);
    s.token = "tls-token";
    link.setSettings(s);
    QSignalSpy states(&link, &MonitorLink::stateChanged);
    link.open();
    QTRY_COMPARE_WITH_TIMEOUT(link.state(), MonitorLink::State::Live, 10000);
    QList<MonitorLink::State> seen;
    for (const QList<QVariant> &args : std::as_const(states))
        seen << args.at(0).value<MonitorLink::State>();
    QVERIFY(seen.contains(MonitorLink::State::Encrypting));
    // The token went over the encrypted channel, in the Hello.
    const QList<Frame> frames = decodeAll(server.received);
    QVERIFY(!frames.isEmpty());
    QCOMPARE(decodeHello(frames.first().payload)->token, QByteArray("tls-token"));
    QVERIFY(link.statusText().contains(QStringLiteral("TLS")));
}

void tst_MonitorApp::tlsPinMismatchSendsNoToken()
{
    if (!makeCertificate())
        QSKIP(qPrintable(m_opensslError));
    TlsBroker server;
    QVERIFY(server.start(m_certFile, m_keyFile));
    const QByteArray actual = MonitorLink::certificateSha256(QSslCertificate::fromPath(m_certFile).value(0));
    QByteArray pin = actual;
    pin[0] = char(pin[0] ^ 0x55);

    MonitorLink link;
    MonitorLink::Settings s;
    s.address = BrokerAddress::tcp(QStringLiteral("127.0.0.1"), server.port());
    s.tls = true;
    s.trust = MonitorLink::TlsTrust::Pinned;
    s.pinnedSha256 = pin;
    s.token = "must-not-leak";
    link.setSettings(s);
    link.open();
    QTRY_VERIFY_WITH_TIMEOUT(link.state() == MonitorLink::State::Disconnected && !link.lastError().isEmpty(), 10000);
    // Both fingerprints are named, so the operator can tell a changed certificate from a typo.
    QVERIFY2(link.lastError().contains(MonitorLink::formatFingerprint(pin)), qPrintable(link.lastError()));
    QVERIFY2(link.lastError().contains(MonitorLink::formatFingerprint(actual)), qPrintable(link.lastError()));
    // Refused for good (no retry), and the server never saw a byte of application data.
    QTest::qWait(300);
    QCOMPARE(link.state(), MonitorLink::State::Disconnected);
    QVERIFY(server.received.isEmpty());
}

void tst_MonitorApp::tlsCaFileAndSystemCas()
{
    if (!makeCertificate())
        QSKIP(qPrintable(m_opensslError));
    TlsBroker server;
    QVERIFY(server.start(m_certFile, m_keyFile));

    // The self-signed certificate as the CA file: verified, name included (localhost).
    MonitorLink link;
    MonitorLink::Settings s;
    s.address = BrokerAddress::tcp(QStringLiteral("localhost"), server.port());
    s.tls = true;
    s.trust = MonitorLink::TlsTrust::CaFile;
    s.caFile = m_certFile;
    link.setSettings(s);
    link.open();
    QTRY_COMPARE_WITH_TIMEOUT(link.state(), MonitorLink::State::Live, 10000);
    link.close();

    // The system CAs do not know it: refused, with the fingerprint offered for pinning.
    TlsBroker second;
    QVERIFY(second.start(m_certFile, m_keyFile));
    MonitorLink untrusted;
    s.address = BrokerAddress::tcp(QStringLiteral("localhost"), second.port());
    s.trust = MonitorLink::TlsTrust::SystemCas;
    s.token = "must-not-leak";
    untrusted.setSettings(s);
    untrusted.open();
    QTRY_VERIFY_WITH_TIMEOUT(untrusted.state() == MonitorLink::State::Disconnected && !untrusted.lastError().isEmpty(), 10000);
    QVERIFY2(untrusted.lastError().contains(QStringLiteral("not trusted")), qPrintable(untrusted.lastError()));
    QVERIFY2(untrusted.lastError().contains(MonitorLink::formatFingerprint(
                 MonitorLink::certificateSha256(QSslCertificate::fromPath(m_certFile).value(0)))),
             qPrintable(untrusted.lastError()));
    QVERIFY(second.received.isEmpty());
}

QTEST_MAIN(tst_MonitorApp)
#include "tst_monitorapp.moc"
