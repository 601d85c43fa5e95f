#include "mainwindow.h"

#include "clientsmodel.h"
#include "clientspanel.h"
#include "connectdialog.h"
#include "connectionmenu.h"
#include "csvexport.h"
#include "eventsmodel.h"
#include "eventspanel.h"
#include "fleetconnectdialog.h"
#include "fleetfeed.h"
#include "fleetlink.h"
#include "fleetmodel.h"
#include "fleetpanel.h"
#include "format.h"
#include "linkstatus.h"
#include "monitorfeed.h"
#include "panelkit.h"
#include "ratechart.h"
#include "rateseries.h"
#include "servicesmodel.h"
#include "serviceoutputpanel.h"
#include "servicespanel.h"
#include "summarylabel.h"
#include "topicsmodel.h"
#include "topicspanel.h"
#include "heldnames.h"
#include "trafficdetailview.h"
#include "trafficfilterproxy.h"
#include "trafficmodel.h"
#include "trafficpanel.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QLoggingCategory>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>

// The resources live in a static library: their initialiser must be called by name, from the
// global namespace.
static void initMonitorResources()
{
    Q_INIT_RESOURCE(monitor);
}

Q_LOGGING_CATEGORY(lcMonitorUi, "kennel.monitorapp.ui", QtInfoMsg)


namespace Kennel {

MainWindow::MainWindow(MonitorLink *link, QSettings *settings, QWidget *parent)
    : QMainWindow(parent)
    , m_link(link)
    , m_settings(settings)
{
    initMonitorResources();
    setObjectName(QStringLiteral("kennelMonitorWindow"));
    setWindowTitle(QStringLiteral("Kennel monitor"));
    setWindowIcon(PanelKit::icon(QStringLiteral("kennel-monitor"), QStyle::SP_ComputerIcon));

    m_clients = new ClientsModel(this);
    m_services = new ServicesModel(this);
    m_traffic = new TrafficModel(TrafficModel::DefaultCapacity, this);
    m_events = new EventsModel(EventsModel::DefaultCapacity, this);
    m_rates = new RateSeries(std::chrono::minutes(5), this);
    // What the broker holds per name (PROTOCOL §6.7): the clients' and services' Held columns.
    auto *held = new HeldNames(this);
    m_clients->setHeldNames(held);
    m_services->setHeldNames(held);
    MonitorFeed::Models models{m_clients, m_services, m_traffic, m_events, m_rates};
    models.held = held;
    m_feed = new MonitorFeed(link, models, this);

    m_trafficPanel = new TrafficPanel(m_traffic, this);
    m_eventsPanel = new EventsPanel(m_events, this);
    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("tabs"));
    m_tabs->addTab(m_trafficPanel, QStringLiteral("&Traffic"));
    m_tabs->addTab(m_eventsPanel, QStringLiteral("&Events"));
    // Topics and a service's output (PROTOCOL §6.8, §6.5): fed by the link directly, a record a
    // second at most, so they need no batching in the feed.
    m_topicsModel = new TopicsModel(this);
    connect(link, &MonitorLink::topicsReceived, m_topicsModel, &TopicsModel::apply);
    connect(link, &MonitorLink::snapshotBegan, m_topicsModel, &TopicsModel::clear);
    m_topicsPanel = new TopicsPanel(m_topicsModel, m_clients, link, this);
    m_tabs->addTab(m_topicsPanel, QStringLiteral("To&pics"));
    m_outputPanel = new ServiceOutputPanel(m_services, link, this);
    m_tabs->addTab(m_outputPanel, QStringLiteral("O&utput"));
    // The fleet: every board's state from the fleet's MQTT broker, beside this broker's traffic.
    m_fleetLink = new FleetLink(this);
    m_fleet = new FleetModel(this);
    connectFleet(m_fleetLink, m_fleet);
    m_fleetPanel = new FleetPanel(m_fleet, m_fleetLink, this);
    m_tabs->addTab(m_fleetPanel, QStringLiteral("F&leet"));

    // The broker's totals sit beside the clients' count, not in the status bar: at 1024 px the
    // two did not fit on one line beside the link's state, and the state is what must never be cut.
    m_summary = new SummaryLabel(this);
    m_clientsPanel = new ClientsPanel(m_clients, m_summary, this);
    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->setObjectName(QStringLiteral("mainSplitter"));
    splitter->addWidget(m_clientsPanel);
    splitter->addWidget(m_tabs);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    setCentralWidget(splitter);

    // The docks sit below, as tabs: beside the tables they took the width the clients table
    // needs at 1024 px, and a narrow services table hid its restarts and errors.
    auto *servicesDock = new QDockWidget(QStringLiteral("Services"), this);
    servicesDock->setObjectName(QStringLiteral("servicesDock"));
    m_servicesPanel = new ServicesPanel(m_services, servicesDock);
    servicesDock->setWidget(m_servicesPanel);
    addDockWidget(Qt::BottomDockWidgetArea, servicesDock);

    auto *ratesDock = new QDockWidget(QStringLiteral("Rates"), this);
    ratesDock->setObjectName(QStringLiteral("ratesDock"));
    m_chart = new RateChart(m_rates, ratesDock);
    ratesDock->setWidget(m_chart);
    addDockWidget(Qt::BottomDockWidgetArea, ratesDock);
    tabifyDockWidget(servicesDock, ratesDock);
    servicesDock->raise();

    buildMenus();
    // A first start (no saved layout).
    resize(1360, 860);
    resizeDocks({servicesDock}, {190}, Qt::Vertical);

    // Status bar: the link state, always.
    m_linkStatus = new LinkStatus(this);
    statusBar()->addWidget(m_linkStatus, 1);

    connect(m_clientsPanel, &ClientsPanel::disconnectRequested, this, &MainWindow::disconnectSelectedClient);
    connect(m_clientsPanel, &ClientsPanel::sendTestRequested, this, [this] { sendTestMessageToSelected(QString()); });
    connect(m_clientsPanel, &ClientsPanel::showTrafficRequested, this, &MainWindow::showTrafficOf);
    connect(m_servicesPanel, &ServicesPanel::restartRequested, this, &MainWindow::restartSelectedService);
    connect(m_servicesPanel, &ServicesPanel::stopRequested, this, &MainWindow::stopSelectedService);
    connect(m_servicesPanel, &ServicesPanel::startRequested, this, &MainWindow::startSelectedService);
    connect(m_trafficPanel, &TrafficPanel::exportRequested, this, [this] { exportWithDialog(true); });
    connect(m_eventsPanel, &EventsPanel::exportRequested, this, [this] { exportWithDialog(false); });
    connect(m_fleetPanel, &FleetPanel::connectRequested, this, &MainWindow::showFleetConnectDialog);
    connect(m_fleetPanel, &FleetPanel::openMonitorRequested, this, &MainWindow::openBoardMonitor);

    if (link) {
        // Roles (PROTOCOL §6.6): each snapshot says what this link may do; a read-only one greys
        // the controls instead of offering what the broker will refuse.
        connect(link, &MonitorLink::snapshotBegan, this, [this](const MonitorSnapshotBegin &snapshot) {
            m_readOnly = snapshot.role != MonitorRole::Operator;
            m_clientsPanel->setReadOnly(m_readOnly);
            m_servicesPanel->setReadOnly(m_readOnly);
            updateLinkStatus();
        });
        connect(link, &MonitorLink::stateChanged, this, &MainWindow::updateLinkStatus);
        connect(link, &MonitorLink::stateChanged, m_connectionMenu, &ConnectionMenu::rememberLiveBroker);
    }
    connect(m_feed, &MonitorFeed::flushed, this, &MainWindow::updateSummary);
    connect(m_feed, &MonitorFeed::controlAnswered, this,
            [this](quint32, const QString &what, const MonitorControlResult &result) {
                statusBar()->showMessage(result.code == ErrorCode::None
                                             ? QStringLiteral("%1: done").arg(what)
                                             : QStringLiteral("%1: refused (%2) %3").arg(what, Format::errorCode(result.code), result.text),
                                         8000);
            });
    connect(&m_statusTimer, &QTimer::timeout, this, &MainWindow::updateLinkStatus);
    m_statusTimer.start(1000);

    restoreLayout();
    updateLinkStatus();
    updateSummary();
    updateActions();
}

MainWindow::~MainWindow() = default;

// --- the panels' parts, for the tests and the embedders -----------------------------------------

QSortFilterProxyModel *MainWindow::clientsProxy() const { return m_clientsPanel->proxy(); }
TrafficFilterProxy *MainWindow::trafficProxy() const { return m_trafficPanel->proxy(); }
QTableView *MainWindow::clientsView() const { return m_clientsPanel->view(); }
QTableView *MainWindow::trafficView() const { return m_trafficPanel->view(); }
QTableView *MainWindow::servicesView() const { return m_servicesPanel->view(); }
QTableView *MainWindow::eventsView() const { return m_eventsPanel->view(); }
TrafficDetailView *MainWindow::trafficDetail() const { return m_trafficPanel->detail(); }
QLineEdit *MainWindow::clientFilterEdit() const { return m_clientsPanel->filterEdit(); }
QLineEdit *MainWindow::trafficSourceEdit() const { return m_trafficPanel->sourceEdit(); }
QLineEdit *MainWindow::trafficTargetEdit() const { return m_trafficPanel->targetEdit(); }
QLineEdit *MainWindow::trafficTextEdit() const { return m_trafficPanel->textEdit(); }
QAction *MainWindow::pauseAction() const { return m_trafficPanel->pauseAction(); }
QAction *MainWindow::hexAction() const { return m_trafficPanel->hexAction(); }
QAction *MainWindow::disconnectClientAction() const { return m_clientsPanel->disconnectAction(); }
QAction *MainWindow::sendTestMessageAction() const { return m_clientsPanel->sendTestAction(); }
QLabel *MainWindow::linkStateLabel() const { return m_linkStatus->label(); }

// --- menus ---------------------------------------------------------------------------------------

void MainWindow::buildMenus()
{
    m_connectionMenu = new ConnectionMenu(m_link, m_settings, this);
    menuBar()->addMenu(m_connectionMenu);

    QMenu *clients = menuBar()->addMenu(QStringLiteral("&Clients"));
    clients->addAction(m_clientsPanel->disconnectAction());
    clients->addAction(m_clientsPanel->sendTestAction());
    clients->addAction(m_clientsPanel->showTrafficAction());

    QMenu *traffic = menuBar()->addMenu(QStringLiteral("&Traffic"));
    traffic->addAction(m_trafficPanel->pauseAction());
    traffic->addAction(m_trafficPanel->clearAction());
    traffic->addAction(m_trafficPanel->hexAction());
    traffic->addSeparator();
    traffic->addAction(m_trafficPanel->exportAction());
    QAction *exportEvents = traffic->addAction(QStringLiteral("Export &events CSV…"));
    connect(exportEvents, &QAction::triggered, this, [this] { exportWithDialog(false); });

    QMenu *fleet = menuBar()->addMenu(QStringLiteral("F&leet"));
    fleet->addAction(m_fleetPanel->connectAction());
    fleet->addAction(QStringLiteral("&Disconnect from the fleet"), this, [this] { m_fleetLink->close(); });
    fleet->addAction(m_fleetPanel->openMonitorAction());
    fleet->addAction(QStringLiteral("&Show the fleet"), this, &MainWindow::showFleet);

    QMenu *help = menuBar()->addMenu(QStringLiteral("&Help"));
    help->addAction(QStringLiteral("&About"), this, [this] {
        QMessageBox::about(this, QStringLiteral("About kennel-monitor"),
                           QStringLiteral("<b>kennel-monitor</b> %1<br>A live view of a Kennel broker: its clients, "
                                          "their watchdog deadlines, its services and the messages it routes.")
                               .arg(QCoreApplication::applicationVersion()));
    });

    auto *main = addToolBar(QStringLiteral("Main"));
    main->setObjectName(QStringLiteral("mainToolBar"));
    main->addAction(m_connectionMenu->connectAction());
    main->addSeparator();
    main->addAction(m_clientsPanel->disconnectAction());
    main->addAction(m_clientsPanel->sendTestAction());
}

// --- status --------------------------------------------------------------------------------------

bool MainWindow::isLive() const
{
    return m_link && m_link->state() == MonitorLink::State::Live;
}

void MainWindow::updateLinkStatus()
{
    m_linkStatus->showLink(m_link);
    if (!m_link)
        return;
    m_connectionMenu->updateState();
    // A stale table is still worth reading, but it must look stale.
    const bool live = isLive();
    if (live != m_shownLive) {
        m_shownLive = live;
        // Greyed text alone is not enough: bright state colours still say "healthy" and "running".
        m_clients->setStale(!live);
        m_services->setStale(!live);
        for (QTableView *view : {clientsView(), servicesView()}) {
            QPalette palette = view->palette();
            palette.setColor(QPalette::Text, live ? QApplication::palette().color(QPalette::Text)
                                                  : QApplication::palette().color(QPalette::Disabled, QPalette::Text));
            view->setPalette(palette);
        }
    }
    updateSummary();
    updateActions();
    setWindowTitle(live ? QStringLiteral("Kennel monitor — %1%2").arg(m_link->settings().address.toString(),
                                                                     m_readOnly ? QStringLiteral(" (read-only)") : QString())
                        : QStringLiteral("Kennel monitor"));
}

void MainWindow::updateSummary()
{
    m_summary->showTotals(m_link, *m_feed, *m_rates);
}

void MainWindow::updateActions()
{
    const bool live = isLive();
    m_clientsPanel->setLive(live);
    m_servicesPanel->setLive(live);
}

// --- selection and actions -------------------------------------------------------------------

QByteArray MainWindow::selectedClientName() const
{
    return m_clientsPanel->selectedClientName();
}

QString MainWindow::selectedServiceName() const
{
    return m_servicesPanel->selectedServiceName();
}

bool MainWindow::selectClient(const QByteArray &name)
{
    return m_clientsPanel->selectClient(name);
}

bool MainWindow::confirm(const QString &title, const QString &text)
{
    if (!m_confirm)
        return true;
    return QMessageBox::question(this, title, text, QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) == QMessageBox::Yes;
}

quint32 MainWindow::sendControl(const MonitorControl &control)
{
    const quint32 id = m_link->sendControl(control);
    if (id != 0)
        m_feed->noteControlRequest(id, control);
    return id;
}

void MainWindow::disconnectSelectedClient()
{
    const QByteArray name = selectedClientName();
    if (name.isEmpty() || !m_link)
        return;
    if (!confirm(QStringLiteral("Disconnect client"),
                 QStringLiteral("Ask the broker to close the connection(s) of '%1'?").arg(QString::fromLatin1(name))))
        return;
    if (sendControl({MonitorControlAction::DisconnectClient, name, {}}) == 0)
        statusBar()->showMessage(QStringLiteral("Not sent: the link is not live"), 5000);
}

void MainWindow::sendTestMessageToSelected(const QString &text)
{
    const QByteArray name = selectedClientName();
    if (name.isEmpty() || !m_link)
        return;
    QString message = text;
    if (message.isEmpty()) {
        bool ok = false;
        message = QInputDialog::getText(this, QStringLiteral("Send test message"),
                                        QStringLiteral("Message to '%1' (sent as from \"kennel-monitor\"):").arg(QString::fromLatin1(name)),
                                        QLineEdit::Normal,
                                        QStringLiteral("test from kennel-monitor at %1").arg(QDateTime::currentDateTime().toString(Qt::ISODate)),
                                        &ok);
        if (!ok || message.isEmpty())
            return;
    }
    if (sendControl({MonitorControlAction::SendTestMessage, name, message.toUtf8()}) == 0)
        statusBar()->showMessage(QStringLiteral("Not sent: the link is not live"), 5000);
}

void MainWindow::restartSelectedService()
{
    const QString name = selectedServiceName();
    if (name.isEmpty() || !m_link)
        return;
    sendControl({MonitorControlAction::RestartService, name.toUtf8(), {}});
}

void MainWindow::stopSelectedService()
{
    const QString name = selectedServiceName();
    if (name.isEmpty() || !m_link)
        return;
    if (!confirm(QStringLiteral("Stop service"),
                 QStringLiteral("Stop '%1'? The broker will not restart it until it is started again.").arg(name)))
        return;
    sendControl({MonitorControlAction::StopService, name.toUtf8(), {}});
}

void MainWindow::startSelectedService()
{
    const QString name = selectedServiceName();
    if (name.isEmpty() || !m_link)
        return;
    sendControl({MonitorControlAction::StartService, name.toUtf8(), {}});
}

void MainWindow::showTrafficOf(const QByteArray &clientName)
{
    if (clientName.isEmpty())
        return;
    m_trafficPanel->showMessagesFrom(clientName);
    m_tabs->setCurrentWidget(m_trafficPanel);
}

void MainWindow::setTrafficPaused(bool paused)
{
    m_traffic->setPaused(paused);
}

void MainWindow::clearTraffic()
{
    m_traffic->clear();
}

bool MainWindow::exportTrafficCsv(const QString &path, QString *error)
{
    const TrafficFilterProxy &proxy = *m_trafficPanel->proxy();
    const bool ok = Csv::exportToFile(proxy, path, TrafficModel::ExportRole, error);
    if (ok)
        m_feed->logEvent(EventEntry::Kind::Control, QString(),
                         QStringLiteral("exported %1 traffic record(s) to %2").arg(proxy.rowCount()).arg(path));
    return ok;
}

bool MainWindow::exportEventsCsv(const QString &path, QString *error)
{
    return Csv::exportToFile(*m_eventsPanel->proxy(), path, EventsModel::ExportRole, error);
}

void MainWindow::exportWithDialog(bool traffic)
{
    const QString suggested = QDir::home().filePath(
        QStringLiteral("kennel-%1-%2.csv").arg(traffic ? QStringLiteral("traffic") : QStringLiteral("events"),
                                              QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
    const QString path = QFileDialog::getSaveFileName(this, traffic ? QStringLiteral("Export traffic") : QStringLiteral("Export events"),
                                                      suggested, QStringLiteral("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    QString error;
    const bool ok = traffic ? exportTrafficCsv(path, &error) : exportEventsCsv(path, &error);
    if (!ok) {
        qCWarning(lcMonitorUi).noquote() << "export failed:" << error;
        QMessageBox::warning(this, QStringLiteral("Export failed"), error);
        return;
    }
    statusBar()->showMessage(QStringLiteral("Exported to %1").arg(path), 5000);
}

void MainWindow::showConnectDialog()
{
    m_connectionMenu->showConnectDialog();
}

// --- the fleet ------------------------------------------------------------------------------------

void MainWindow::showFleetConnectDialog()
{
    auto *dialog = new FleetConnectDialog(m_fleetLink, m_settings, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, &MainWindow::showFleet);
    dialog->open();
}

void MainWindow::showFleet()
{
    m_tabs->setCurrentWidget(m_fleetPanel);
}

void MainWindow::openBoardMonitor(const QString &addressText, bool tls)
{
    if (!m_link)
        return;
    QString error;
    const std::optional<BrokerAddress> address = BrokerAddress::parse(addressText, &error);
    if (!address) {
        statusBar()->showMessage(QStringLiteral("The board's monitor address '%1' is refused: %2").arg(addressText, error), 8000);
        return;
    }
    MonitorLink::Settings settings = m_link->settings();
    settings.address = *address;
    settings.tls = tls;
    bool known = false;
    if (m_settings) {
        for (const ConnectDialog::Recent &r : ConnectDialog::recentBrokers(*m_settings)) {
            if (BrokerAddress::parse(r.address) != address)
                continue;
            settings.tls = r.tls;
            settings.trust = r.trust;
            settings.caFile = r.caFile;
            settings.pinnedSha256 = MonitorLink::parseFingerprint(r.pin).value_or(QByteArray());
            settings.token = r.token;
            known = !r.token.isEmpty();
            break;
        }
    }
    m_link->close();
    m_link->setSettings(settings);
    if (known) {
        m_link->open();
        return;
    }
    showConnectDialog();
}

// --- layout --------------------------------------------------------------------------------------

void MainWindow::restoreLayout()
{
    if (!m_settings)
        return;
    m_settings->beginGroup(QStringLiteral("window"));
    restoreGeometry(m_settings->value(QStringLiteral("geometry")).toByteArray());
    restoreState(m_settings->value(QStringLiteral("state")).toByteArray());
    clientsView()->horizontalHeader()->restoreState(m_settings->value(QStringLiteral("clientsHeader")).toByteArray());
    trafficView()->horizontalHeader()->restoreState(m_settings->value(QStringLiteral("trafficHeader")).toByteArray());
    m_settings->endGroup();
}

void MainWindow::saveLayout()
{
    if (!m_settings)
        return;
    m_settings->beginGroup(QStringLiteral("window"));
    m_settings->setValue(QStringLiteral("geometry"), saveGeometry());
    m_settings->setValue(QStringLiteral("state"), saveState());
    m_settings->setValue(QStringLiteral("clientsHeader"), clientsView()->horizontalHeader()->saveState());
    m_settings->setValue(QStringLiteral("trafficHeader"), trafficView()->horizontalHeader()->saveState());
    m_settings->endGroup();
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    saveLayout();
    QMainWindow::closeEvent(event);
}

} // namespace Kennel
