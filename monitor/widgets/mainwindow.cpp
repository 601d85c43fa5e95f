#include "mainwindow.h"

#include "clientsmodel.h"
#include "connectdialog.h"
#include "csvexport.h"
#include "deadlinedelegate.h"
#include "eventsmodel.h"
#include "format.h"
#include "monitorfeed.h"
#include "ratechart.h"
#include "rateseries.h"
#include "servicesmodel.h"
#include "trafficdetailview.h"
#include "trafficfilterproxy.h"
#include "trafficmodel.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImageReader>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QLoggingCategory>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPainter>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

// The resources live in a static library: their initialiser must be called by name, from the
// global namespace.
static void initMonitorResources()
{
    Q_INIT_RESOURCE(monitor);
}

Q_LOGGING_CATEGORY(lcMonitorUi, "kennel.monitorapp.ui", QtInfoMsg)


namespace Kennel {

namespace {

// The SVG icons need Qt's SVG image plugin; without it the style's own icons stand in, so the
// window never shows blank buttons.
QIcon icon(const QString &name, QStyle::StandardPixmap fallback)
{
    static const bool svg = QImageReader::supportedImageFormats().contains("svg");
    if (svg)
        return QIcon(QStringLiteral(":/kennel-monitor/icons/%1.svg").arg(name));
    return QApplication::style()->standardIcon(fallback);
}

QColor stateColour(MonitorLink::State state)
{
    switch (state) {
    case MonitorLink::State::Live:
        return QColor(0x2e, 0xa0, 0x43);
    case MonitorLink::State::Connecting:
    case MonitorLink::State::Encrypting:
    case MonitorLink::State::Authenticating:
    case MonitorLink::State::Reconnecting:
        return QColor(0xe0, 0x9a, 0x10);
    case MonitorLink::State::Disconnected:
        break;
    }
    return QColor(0xc0, 0x1c, 0x28);
}

// Drawn rather than loaded: the one indicator that must show whatever plugins are installed.
QPixmap stateDot(MonitorLink::State state, int size)
{
    QPixmap pixmap(size, size);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(stateColour(state).darker(140), 1));
    p.setBrush(stateColour(state));
    p.drawEllipse(QRectF(1.5, 1.5, size - 3, size - 3));
    return pixmap;
}

// Every column at least as wide as its header asks (title and sort arrow) and as `atLeast` says.
void fitColumns(QTableView *view, const QHash<int, int> &atLeast)
{
    QHeaderView *header = view->horizontalHeader();
    for (int c = 0; c < header->count(); ++c)
        view->setColumnWidth(c, std::max(header->sectionSizeHint(c), atLeast.value(c, 0)));
}

// A right click on the header shows and hides columns (kept with the header's saved state).
void addColumnMenu(QTableView *view)
{
    QHeaderView *header = view->horizontalHeader();
    header->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(header, &QWidget::customContextMenuRequested, view, [view, header](const QPoint &pos) {
        QMenu menu(view);
        for (int c = 0; c < header->count(); ++c) {
            QAction *action = menu.addAction(view->model()->headerData(c, Qt::Horizontal).toString());
            action->setCheckable(true);
            action->setChecked(!header->isSectionHidden(c));
            QObject::connect(action, &QAction::toggled, view, [view, c](bool shown) { view->setColumnHidden(c, !shown); });
        }
        menu.exec(header->mapToGlobal(pos));
    });
}

QTableView *makeTable(QWidget *parent, const QString &objectName)
{
    auto *view = new QTableView(parent);
    view->setObjectName(objectName);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->verticalHeader()->setVisible(false);
    // Fixed row heights: a view over 100,000 rows must not measure each one.
    view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
    view->horizontalHeader()->setHighlightSections(false);
    view->horizontalHeader()->setStretchLastSection(true);
    return view;
}

} // namespace

MainWindow::MainWindow(MonitorLink *link, QSettings *settings, QWidget *parent)
    : QMainWindow(parent)
    , m_link(link)
    , m_settings(settings)
{
    initMonitorResources();
    setObjectName(QStringLiteral("kennelMonitorWindow"));
    setWindowTitle(QStringLiteral("Kennel monitor"));
    setWindowIcon(icon(QStringLiteral("kennel-monitor"), QStyle::SP_ComputerIcon));

    m_clients = new ClientsModel(this);
    m_services = new ServicesModel(this);
    m_traffic = new TrafficModel(TrafficModel::DefaultCapacity, this);
    m_events = new EventsModel(EventsModel::DefaultCapacity, this);
    m_rates = new RateSeries(std::chrono::minutes(5), this);
    m_feed = new MonitorFeed(link, {m_clients, m_services, m_traffic, m_events, m_rates}, this);

    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("tabs"));
    m_tabs->addTab(buildTrafficPanel(), QStringLiteral("&Traffic"));
    m_tabs->addTab(buildEventsPanel(), QStringLiteral("&Events"));

    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->setObjectName(QStringLiteral("mainSplitter"));
    splitter->addWidget(buildClientsPanel());
    splitter->addWidget(m_tabs);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    setCentralWidget(splitter);

    // The docks sit below, as tabs: beside the tables they took the width the clients table
    // needs at 1024 px, and a narrow services table hid its restarts and errors.
    auto *servicesDock = new QDockWidget(QStringLiteral("Services"), this);
    servicesDock->setObjectName(QStringLiteral("servicesDock"));
    servicesDock->setWidget(buildServicesPanel());
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
    m_stateIcon = new QLabel(this);
    m_stateLabel = new QLabel(this);
    m_stateLabel->setObjectName(QStringLiteral("linkState"));
    m_stateLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *stateBox = new QWidget(this);
    auto *stateLayout = new QHBoxLayout(stateBox);
    stateLayout->setContentsMargins(4, 0, 4, 0);
    stateLayout->addWidget(m_stateIcon);
    stateLayout->addWidget(m_stateLabel, 1);
    statusBar()->addWidget(stateBox, 1);

    if (link) {
        connect(link, &MonitorLink::stateChanged, this, &MainWindow::updateLinkStatus);
        connect(link, &MonitorLink::stateChanged, this, &MainWindow::rememberLiveBroker);
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
    updateClientActions();
    updateServiceActions();
    updateTrafficStatus();
}

MainWindow::~MainWindow() = default;

// --- panels ------------------------------------------------------------------------------------

QWidget *MainWindow::buildClientsPanel()
{
    auto *panel = new QWidget(this);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(4, 4, 4, 0);
    auto *bar = new QHBoxLayout;
    auto *title = new QLabel(QStringLiteral("<b>Clients</b>"), panel);
    m_clientFilter = new QLineEdit(panel);
    m_clientFilter->setObjectName(QStringLiteral("clientFilter"));
    m_clientFilter->setPlaceholderText(QStringLiteral("Filter clients (name, peer, state…)"));
    m_clientFilter->setClearButtonEnabled(true);
    m_clientsCount = new QLabel(panel);
    m_clientsCount->setObjectName(QStringLiteral("clientsCount"));
    bar->addWidget(title);
    bar->addWidget(m_clientFilter, 1);
    bar->addWidget(m_clientsCount);
    // The broker's totals sit here, not in the status bar: at 1024 px the two did not fit on
    // one line beside the link's state, and the state is what must never be cut.
    m_summaryLabel = new QLabel(panel);
    m_summaryLabel->setObjectName(QStringLiteral("summary"));
    bar->addSpacing(8);
    bar->addWidget(m_summaryLabel);
    layout->addLayout(bar);

    m_clientsProxy = new QSortFilterProxyModel(this);
    m_clientsProxy->setObjectName(QStringLiteral("clientsProxy"));
    m_clientsProxy->setSourceModel(m_clients);
    m_clientsProxy->setSortRole(ClientsModel::SortRole);
    m_clientsProxy->setFilterKeyColumn(-1);
    m_clientsProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_clientsProxy->setDynamicSortFilter(true);

    m_clientsView = makeTable(panel, QStringLiteral("clientsView"));
    // When the selected client goes, the view would move the selection to its neighbour, and a
    // second click on "Disconnect" would hit a client the operator never chose. Nothing stays
    // selected instead. Connected before the view gets the model, so that this runs before the
    // view's own handler moves the selection.
    connect(m_clientsProxy, &QAbstractItemModel::rowsAboutToBeRemoved, this, [this](const QModelIndex &, int first, int last) {
        const QModelIndexList rows = m_clientsView->selectionModel()->selectedRows();
        if (!rows.isEmpty() && rows.first().row() >= first && rows.first().row() <= last)
            m_selectedClientGone = true;
    });
    connect(m_clientsProxy, &QAbstractItemModel::rowsRemoved, this, [this] {
        if (std::exchange(m_selectedClientGone, false))
            m_clientsView->selectionModel()->clear();
    });
    m_clientsView->setModel(m_clientsProxy);
    m_clientsView->setSortingEnabled(true);
    m_clientsView->sortByColumn(ClientsModel::NameColumn, Qt::AscendingOrder);
    m_clientsView->setItemDelegateForColumn(ClientsModel::DeadlineColumn, new DeadlineDelegate(m_clientsView));
    m_clientsView->setContextMenuPolicy(Qt::CustomContextMenu);
    // Widths from the header texts (so that no title is cut, whatever the font), at least what
    // typical contents need. At 1024 px the columns an operator scans first fit; the byte
    // counters and the connection time are one right click on the header away.
    const int em = m_clientsView->fontMetrics().horizontalAdvance(u'M');
    fitColumns(m_clientsView, {{ClientsModel::NameColumn, 9 * em}, {ClientsModel::DeadlineColumn, 110},
                               {ClientsModel::TermsColumn, 7 * em}, {ClientsModel::PeerColumn, 10 * em}});
    // Refusals and drops are in the events log as they happen.
    for (int c : {ClientsModel::KindColumn, ClientsModel::SinceFeedColumn, ClientsModel::BytesInColumn,
                  ClientsModel::BytesOutColumn, ClientsModel::RefusedColumn, ClientsModel::DroppedColumn,
                  ClientsModel::ConnectedColumn})
        m_clientsView->setColumnHidden(c, true);
    addColumnMenu(m_clientsView);
    layout->addWidget(m_clientsView, 1);

    connect(m_clientFilter, &QLineEdit::textChanged, m_clientsProxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(m_clientsView, &QWidget::customContextMenuRequested, this, &MainWindow::clientsContextMenu);
    connect(m_clientsView->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::updateClientActions);
    connect(m_clientsView, &QAbstractItemView::doubleClicked, this, [this](const QModelIndex &index) {
        showTrafficOf(index.data(ClientsModel::NameRole).toByteArray());
    });
    auto recount = [this] {
        m_clientsCount->setText(m_clientsProxy->rowCount() == m_clients->rowCount()
                                    ? QStringLiteral("%1 connected").arg(m_clients->rowCount())
                                    : QStringLiteral("%1 of %2 shown").arg(m_clientsProxy->rowCount()).arg(m_clients->rowCount()));
    };
    // The proxy drops its rows on the source's rowsAboutToBeRemoved, while the source still has
    // them: counting then reads "3 of 4 shown". Removals are counted on the source's rowsRemoved,
    // when both sides agree; the proxy's own signals cover filtering.
    connect(m_clients, &QAbstractItemModel::rowsRemoved, this, recount);
    connect(m_clients, &QAbstractItemModel::modelReset, this, recount);
    connect(m_clientsProxy, &QAbstractItemModel::rowsInserted, this, recount);
    connect(m_clientsProxy, &QAbstractItemModel::rowsRemoved, this, recount);
    connect(m_clientsProxy, &QAbstractItemModel::modelReset, this, recount);
    connect(m_clientsProxy, &QAbstractItemModel::layoutChanged, this, recount);
    recount();

    m_disconnectClientAction = new QAction(icon(QStringLiteral("disconnect-client"), QStyle::SP_DialogCancelButton),
                                           QStringLiteral("&Disconnect client"), this);
    m_disconnectClientAction->setObjectName(QStringLiteral("disconnectClient"));
    m_disconnectClientAction->setToolTip(QStringLiteral("Ask the broker to close this client's connection(s)"));
    connect(m_disconnectClientAction, &QAction::triggered, this, &MainWindow::disconnectSelectedClient);
    m_sendTestAction = new QAction(icon(QStringLiteral("send"), QStyle::SP_ArrowRight), QStringLiteral("Send &test message…"), this);
    m_sendTestAction->setObjectName(QStringLiteral("sendTestMessage"));
    connect(m_sendTestAction, &QAction::triggered, this, [this] { sendTestMessageToSelected(QString()); });
    m_showTrafficAction = new QAction(QStringLiteral("Show its &traffic"), this);
    connect(m_showTrafficAction, &QAction::triggered, this, [this] { showTrafficOf(selectedClientName()); });
    return panel;
}

QWidget *MainWindow::buildTrafficPanel()
{
    auto *panel = new QWidget(this);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(4, 4, 4, 4);

    m_trafficProxy = new TrafficFilterProxy(this);
    m_trafficProxy->setObjectName(QStringLiteral("trafficProxy"));
    m_trafficProxy->setSourceModel(m_traffic);

    auto *bar = new QHBoxLayout;
    auto makeFilter = [&](const QString &name, const QString &placeholder) {
        auto *edit = new QLineEdit(panel);
        edit->setObjectName(name);
        edit->setPlaceholderText(placeholder);
        edit->setClearButtonEnabled(true);
        return edit;
    };
    m_trafficSource = makeFilter(QStringLiteral("trafficSource"), QStringLiteral("Source"));
    m_trafficTarget = makeFilter(QStringLiteral("trafficTarget"), QStringLiteral("Target"));
    m_trafficText = makeFilter(QStringLiteral("trafficText"), QStringLiteral("Text in payload"));
    bar->addWidget(m_trafficSource, 1);
    bar->addWidget(m_trafficTarget, 1);
    bar->addWidget(m_trafficText, 2);
    m_follow = new QCheckBox(QStringLiteral("&Follow"), panel);
    m_follow->setObjectName(QStringLiteral("followTraffic"));
    m_follow->setToolTip(QStringLiteral("Keep the newest records in view"));
    m_follow->setChecked(true);
    bar->addWidget(m_follow);
    layout->addLayout(bar);

    auto *tools = new QToolBar(panel);
    tools->setObjectName(QStringLiteral("trafficTools"));
    tools->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    tools->setIconSize(QSize(16, 16));
    m_pauseAction = tools->addAction(icon(QStringLiteral("pause"), QStyle::SP_MediaPause), QStringLiteral("&Pause"));
    m_pauseAction->setObjectName(QStringLiteral("pauseTraffic"));
    m_pauseAction->setCheckable(true);
    m_pauseAction->setShortcut(QKeySequence(Qt::Key_F6));
    m_pauseAction->setToolTip(QStringLiteral("Hold new records back until resumed (F6)"));
    m_clearAction = tools->addAction(icon(QStringLiteral("clear"), QStyle::SP_DialogResetButton), QStringLiteral("C&lear"));
    m_clearAction->setObjectName(QStringLiteral("clearTraffic"));
    m_hexAction = tools->addAction(QStringLiteral("&Hex"));
    m_hexAction->setObjectName(QStringLiteral("hexPreview"));
    m_hexAction->setCheckable(true);
    m_hexAction->setToolTip(QStringLiteral("Show the payload preview as hex bytes"));
    m_exportTrafficAction = tools->addAction(icon(QStringLiteral("export"), QStyle::SP_DialogSaveButton), QStringLiteral("E&xport CSV…"));
    m_exportTrafficAction->setObjectName(QStringLiteral("exportTraffic"));
    m_exportTrafficAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    m_trafficStatus = new QLabel(panel);
    m_trafficStatus->setObjectName(QStringLiteral("trafficStatus"));
    auto *toolsRow = new QHBoxLayout;
    toolsRow->addWidget(tools);
    toolsRow->addStretch(1);
    toolsRow->addWidget(m_trafficStatus);
    layout->addLayout(toolsRow);

    m_trafficView = makeTable(panel, QStringLiteral("trafficView"));
    m_trafficView->setModel(m_trafficProxy);
    m_trafficView->setColumnWidth(TrafficModel::TimeColumn, 100);
    m_trafficView->setColumnWidth(TrafficModel::SourceColumn, 120);
    m_trafficView->setColumnWidth(TrafficModel::TargetColumn, 120);
    m_trafficView->setColumnWidth(TrafficModel::SizeColumn, 60);
    m_trafficView->setColumnWidth(TrafficModel::StatusColumn, 110);

    // The selected record's whole preview, hex and ASCII side by side: the table's one-line
    // preview cannot show where text ends and binary begins.
    m_trafficDetail = new TrafficDetailView(panel);
    auto *trafficSplit = new QSplitter(Qt::Horizontal, panel);
    trafficSplit->setObjectName(QStringLiteral("trafficSplitter"));
    trafficSplit->addWidget(m_trafficView);
    trafficSplit->addWidget(m_trafficDetail);
    trafficSplit->setStretchFactor(0, 1);
    trafficSplit->setStretchFactor(1, 0);
    layout->addWidget(trafficSplit, 1);
    // The selected row, not the current one: a view makes its first row current by itself.
    connect(m_trafficView->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::updateTrafficDetail);
    connect(m_trafficProxy, &QAbstractItemModel::modelReset, this, &MainWindow::updateTrafficDetail);
    connect(m_trafficProxy, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateTrafficDetail);

    connect(m_trafficSource, &QLineEdit::textChanged, m_trafficProxy, &TrafficFilterProxy::setSourceFilter);
    connect(m_trafficTarget, &QLineEdit::textChanged, m_trafficProxy, &TrafficFilterProxy::setTargetFilter);
    connect(m_trafficText, &QLineEdit::textChanged, m_trafficProxy, &TrafficFilterProxy::setTextFilter);
    connect(m_pauseAction, &QAction::toggled, this, &MainWindow::setTrafficPaused);
    connect(m_clearAction, &QAction::triggered, this, &MainWindow::clearTraffic);
    connect(m_hexAction, &QAction::toggled, m_trafficProxy, &TrafficFilterProxy::setHexPreview);
    connect(m_exportTrafficAction, &QAction::triggered, this, [this] { exportWithDialog(true); });
    connect(m_traffic, &TrafficModel::countersChanged, this, &MainWindow::updateTrafficStatus);
    connect(m_trafficProxy, &TrafficFilterProxy::filterChanged, this, &MainWindow::updateTrafficStatus);
    connect(m_traffic, &TrafficModel::pausedChanged, this, [this](bool paused) {
        const QSignalBlocker block(m_pauseAction);
        m_pauseAction->setChecked(paused);
        m_pauseAction->setText(paused ? QStringLiteral("Resume") : QStringLiteral("&Pause"));
        m_pauseAction->setIcon(paused ? icon(QStringLiteral("resume"), QStyle::SP_MediaPlay)
                                      : icon(QStringLiteral("pause"), QStyle::SP_MediaPause));
        updateTrafficStatus();
    });
    connect(m_trafficProxy, &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_follow->isChecked())
            m_trafficView->scrollToBottom();
    });
    return panel;
}

QWidget *MainWindow::buildEventsPanel()
{
    auto *panel = new QWidget(this);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *bar = new QHBoxLayout;
    m_eventsFilter = new QLineEdit(panel);
    m_eventsFilter->setObjectName(QStringLiteral("eventsFilter"));
    m_eventsFilter->setPlaceholderText(QStringLiteral("Filter events"));
    m_eventsFilter->setClearButtonEnabled(true);
    bar->addWidget(m_eventsFilter, 1);
    auto *exportEvents = new QPushButton(icon(QStringLiteral("export"), QStyle::SP_DialogSaveButton), QStringLiteral("Export CSV…"), panel);
    bar->addWidget(exportEvents);
    layout->addLayout(bar);

    m_eventsProxy = new QSortFilterProxyModel(this);
    m_eventsProxy->setSourceModel(m_events);
    m_eventsProxy->setFilterKeyColumn(-1);
    m_eventsProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_eventsView = makeTable(panel, QStringLiteral("eventsView"));
    m_eventsView->setModel(m_eventsProxy);
    m_eventsView->setColumnWidth(EventsModel::TimeColumn, 100);
    m_eventsView->setColumnWidth(EventsModel::KindColumn, 80);
    m_eventsView->setColumnWidth(EventsModel::SubjectColumn, 130);
    layout->addWidget(m_eventsView, 1);

    connect(m_eventsFilter, &QLineEdit::textChanged, m_eventsProxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(exportEvents, &QPushButton::clicked, this, [this] { exportWithDialog(false); });
    connect(m_eventsProxy, &QAbstractItemModel::rowsInserted, this, [this] {
        QScrollBar *bar = m_eventsView->verticalScrollBar();
        if (bar->value() >= bar->maximum() - 2 * m_eventsView->verticalHeader()->defaultSectionSize())
            m_eventsView->scrollToBottom();
    });
    return panel;
}

QWidget *MainWindow::buildServicesPanel()
{
    auto *panel = new QWidget(this);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_services);
    proxy->setSortRole(ServicesModel::SortRole);
    m_servicesView = makeTable(panel, QStringLiteral("servicesView"));
    m_servicesView->setModel(proxy);
    {
        const int em = m_servicesView->fontMetrics().horizontalAdvance(u'M');
        const QFontMetrics fm = m_servicesView->fontMetrics();
        const int digits = fm.horizontalAdvance(QStringLiteral("0000000"));
        int states = 0; // the longest state name, "waiting to restart"
        for (int st = int(MonitorServiceState::Stopped); st <= int(MonitorServiceState::Failed); ++st)
            states = std::max(states, fm.horizontalAdvance(Format::serviceState(MonitorServiceState(st))) + 12);
        fitColumns(m_servicesView, {{ServicesModel::NameColumn, 8 * em}, {ServicesModel::StateColumn, states},
                                    {ServicesModel::PidColumn, digits},
                                    {ServicesModel::LastExitColumn, fm.horizontalAdvance(QStringLiteral("signal 15 (TERM)")) + 12}});
    }
    m_servicesView->setSortingEnabled(true);
    m_servicesView->sortByColumn(ServicesModel::NameColumn, Qt::AscendingOrder);
    layout->addWidget(m_servicesView, 1);

    auto *buttons = new QHBoxLayout;
    m_restartButton = new QPushButton(icon(QStringLiteral("restart"), QStyle::SP_BrowserReload), QStringLiteral("&Restart"), panel);
    m_stopButton = new QPushButton(icon(QStringLiteral("stop"), QStyle::SP_MediaStop), QStringLiteral("St&op"), panel);
    m_startButton = new QPushButton(icon(QStringLiteral("resume"), QStyle::SP_MediaPlay), QStringLiteral("St&art"), panel);
    m_restartButton->setObjectName(QStringLiteral("restartService"));
    m_stopButton->setObjectName(QStringLiteral("stopService"));
    m_startButton->setObjectName(QStringLiteral("startService"));
    buttons->addWidget(m_restartButton);
    buttons->addWidget(m_stopButton);
    buttons->addWidget(m_startButton);
    buttons->addStretch(1);
    layout->addLayout(buttons);

    connect(m_restartButton, &QPushButton::clicked, this, &MainWindow::restartSelectedService);
    connect(m_stopButton, &QPushButton::clicked, this, &MainWindow::stopSelectedService);
    connect(m_startButton, &QPushButton::clicked, this, &MainWindow::startSelectedService);
    connect(m_servicesView->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::updateServiceActions);
    connect(m_services, &QAbstractItemModel::dataChanged, this, &MainWindow::updateServiceActions);
    return panel;
}

void MainWindow::buildMenus()
{
    QMenu *broker = menuBar()->addMenu(QStringLiteral("&Broker"));
    m_connectAction = broker->addAction(icon(QStringLiteral("connect"), QStyle::SP_DriveNetIcon), QStringLiteral("&Connect…"));
    m_connectAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_O));
    connect(m_connectAction, &QAction::triggered, this, &MainWindow::showConnectDialog);
    m_closeLinkAction = broker->addAction(QStringLiteral("&Disconnect"));
    connect(m_closeLinkAction, &QAction::triggered, this, [this] {
        if (m_link)
            m_link->close();
    });
    broker->addSeparator();
    QAction *quit = broker->addAction(QStringLiteral("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu *clients = menuBar()->addMenu(QStringLiteral("&Clients"));
    clients->addAction(m_disconnectClientAction);
    clients->addAction(m_sendTestAction);
    clients->addAction(m_showTrafficAction);

    QMenu *traffic = menuBar()->addMenu(QStringLiteral("&Traffic"));
    traffic->addAction(m_pauseAction);
    traffic->addAction(m_clearAction);
    traffic->addAction(m_hexAction);
    traffic->addSeparator();
    traffic->addAction(m_exportTrafficAction);
    m_exportEventsAction = traffic->addAction(QStringLiteral("Export &events CSV…"));
    connect(m_exportEventsAction, &QAction::triggered, this, [this] { exportWithDialog(false); });

    QMenu *help = menuBar()->addMenu(QStringLiteral("&Help"));
    help->addAction(QStringLiteral("&About"), this, [this] {
        QMessageBox::about(this, QStringLiteral("About kennel-monitor"),
                           QStringLiteral("<b>kennel-monitor</b> %1<br>A live view of a Kennel broker: its clients, "
                                          "their watchdog deadlines, its services and the messages it routes.")
                               .arg(QCoreApplication::applicationVersion()));
    });

    auto *main = addToolBar(QStringLiteral("Main"));
    main->setObjectName(QStringLiteral("mainToolBar"));
    main->addAction(m_connectAction);
    main->addSeparator();
    main->addAction(m_disconnectClientAction);
    main->addAction(m_sendTestAction);
}

// --- status --------------------------------------------------------------------------------------

void MainWindow::updateLinkStatus()
{
    if (!m_link) {
        m_stateLabel->setText(QStringLiteral("No link"));
        return;
    }
    const MonitorLink::State state = m_link->state();
    m_stateIcon->setPixmap(stateDot(state, m_stateLabel->fontMetrics().height()));
    m_stateLabel->setText(m_link->statusText());
    m_stateLabel->setToolTip(m_link->lastError());
    m_closeLinkAction->setEnabled(state != MonitorLink::State::Disconnected);
    // A stale table is still worth reading, but it must look stale.
    const bool live = state == MonitorLink::State::Live;
    if (live != m_shownLive) {
        m_shownLive = live;
        // Greyed text alone is not enough: bright state colours still say "healthy" and "running".
        m_clients->setStale(!live);
        m_services->setStale(!live);
        for (QTableView *view : {m_clientsView, m_servicesView}) {
            QPalette palette = view->palette();
            palette.setColor(QPalette::Text, live ? QApplication::palette().color(QPalette::Text)
                                                  : QApplication::palette().color(QPalette::Disabled, QPalette::Text));
            view->setPalette(palette);
        }
    }
    updateSummary();
    updateClientActions();
    updateServiceActions();
    setWindowTitle(live ? QStringLiteral("Kennel monitor — %1").arg(m_link->settings().address.toString())
                        : QStringLiteral("Kennel monitor"));
}

void MainWindow::updateSummary()
{
    // The figures are the last broker's; while the link is not live they are kept (the operator
    // may want them) but greyed and marked, and they go when the link is closed for good.
    const MonitorLink::State state = m_link ? m_link->state() : MonitorLink::State::Disconnected;
    if (!m_feed->hasTotals() || state == MonitorLink::State::Disconnected
        || (state != MonitorLink::State::Live && m_link->settings().address != m_summaryAddress)) {
        m_summaryLabel->setText(QString());
        m_summaryLabel->setToolTip(QString());
        return;
    }
    const bool live = state == MonitorLink::State::Live;
    if (live)
        m_summaryAddress = m_link->settings().address;
    m_summaryLabel->setEnabled(live);
    const MonitorTotals &t = m_feed->lastTotals();
    QString text = live ? QString() : QStringLiteral("last seen: ");
    text += QStringLiteral("%1 · %2 watched · %3 routed")
                .arg(Format::count(t.clients, "client", "clients"))
                .arg(t.watched)
                .arg(t.messagesRouted);
    if (live && m_rates->count() > 0) {
        const RateSeries::Sample s = m_rates->smoothed(int(m_rates->count() - 1)); // as the chart shows it
        text += QStringLiteral(" · %1 · %2").arg(Format::rate(s.messagesPerSecond, false), Format::rate(s.bytesPerSecond, true));
    }
    if (t.undelivered > 0)
        text += QStringLiteral(" · %1 undelivered").arg(t.undelivered);
    if (t.kills > 0 || t.expiries > 0)
        text += QStringLiteral(" · %1, %2").arg(Format::count(t.expiries, "expiry", "expiries"), Format::count(t.kills, "kill", "kills"));
    // Monitor admission refused at the door, timed out or over the guess budget (issue 18): an
    // attack on the operators' way in shows here; the breakdown is in the tooltip.
    const quint64 refused = t.admissionRefusedPerAddress + t.admissionRefusedPerPrefix + t.admissionRefusedRoomFull
                            + t.admissionTimeouts + t.guessesRefused + t.servicesRefused + t.admissionFailures
                            + t.handshakesRefusedPerAddress + t.handshakesRefusedPerPrefix + t.handshakesRefusedFull;
    if (refused > 0)
        text += QStringLiteral(" · %1").arg(Format::count(qint64(refused), "admission refused", "admissions refused"));
    m_summaryLabel->setText(text);
    m_summaryLabel->setToolTip(
        QStringLiteral("Monitor admission since the broker started:\n"
                       "refused per address %1, per network prefix %2, waiting room full %3\n"
                       "timed out %4, wrong credentials %5, token guesses over the budget %6, services refused %7\n"
                       "TLS handshakes refused per address %8, per prefix %9, all slots taken %10\n"
                       "Memory budgets: %11 shed, %12 monitor overflows, %13 snapshots refused")
            .arg(t.admissionRefusedPerAddress).arg(t.admissionRefusedPerPrefix).arg(t.admissionRefusedRoomFull)
            .arg(t.admissionTimeouts).arg(t.admissionFailures).arg(t.guessesRefused).arg(t.servicesRefused)
            .arg(t.handshakesRefusedPerAddress).arg(t.handshakesRefusedPerPrefix).arg(t.handshakesRefusedFull)
            .arg(t.budgetSheds).arg(t.monitorOverflows).arg(t.snapshotsRefused));
}

void MainWindow::updateTrafficStatus()
{
    QString text = QStringLiteral("%1 of %2").arg(m_trafficProxy->rowCount()).arg(Format::count(m_traffic->rowCount(), "record", "records"));
    if (m_traffic->isPaused())
        text += QStringLiteral(" · paused, %1 held back").arg(m_traffic->heldBack());
    if (m_traffic->droppedByBroker() > 0)
        text += QStringLiteral(" · %1 not sent by the broker").arg(m_traffic->droppedByBroker());
    m_trafficStatus->setText(text);
}

void MainWindow::updateTrafficDetail()
{
    const QModelIndexList rows = m_trafficView->selectionModel()->selectedRows();
    m_trafficDetail->showRecord(rows.isEmpty() ? QModelIndex() : rows.first());
}

void MainWindow::updateClientActions()
{
    const bool live = m_link && m_link->state() == MonitorLink::State::Live;
    const bool selected = !selectedClientName().isEmpty();
    m_disconnectClientAction->setEnabled(live && selected);
    m_sendTestAction->setEnabled(live && selected);
    m_showTrafficAction->setEnabled(selected);
}

void MainWindow::updateServiceActions()
{
    const bool live = m_link && m_link->state() == MonitorLink::State::Live;
    const int row = m_services->rowOf(selectedServiceName());
    const auto state = row >= 0 ? m_services->service(row).state : MonitorServiceState::Stopped;
    const bool running = state == MonitorServiceState::Running || state == MonitorServiceState::Starting;
    m_restartButton->setEnabled(live && row >= 0);
    m_stopButton->setEnabled(live && row >= 0 && state != MonitorServiceState::Stopped && state != MonitorServiceState::Stopping);
    m_startButton->setEnabled(live && row >= 0 && !running);
}

// --- selection and actions -------------------------------------------------------------------

QByteArray MainWindow::selectedClientName() const
{
    const QModelIndexList rows = m_clientsView->selectionModel()->selectedRows();
    return rows.isEmpty() ? QByteArray() : rows.first().data(ClientsModel::NameRole).toByteArray();
}

QString MainWindow::selectedServiceName() const
{
    const QModelIndexList rows = m_servicesView->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.first().data(ServicesModel::NameRole).toString();
}

bool MainWindow::selectClient(const QByteArray &name)
{
    for (int r = 0; r < m_clientsProxy->rowCount(); ++r) {
        const QModelIndex index = m_clientsProxy->index(r, 0);
        if (index.data(ClientsModel::NameRole).toByteArray() == name) {
            m_clientsView->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
            m_clientsView->setCurrentIndex(index);
            m_clientsView->scrollTo(index);
            return true;
        }
    }
    return false;
}

void MainWindow::clientsContextMenu(const QPoint &pos)
{
    const QModelIndex index = m_clientsView->indexAt(pos);
    if (!index.isValid())
        return;
    m_clientsView->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    QMenu menu(this);
    menu.addAction(m_disconnectClientAction);
    menu.addAction(m_sendTestAction);
    menu.addSeparator();
    menu.addAction(m_showTrafficAction);
    const QByteArray name = selectedClientName();
    menu.addAction(QStringLiteral("&Copy name"), this, [name] { QApplication::clipboard()->setText(QString::fromLatin1(name)); });
    menu.exec(m_clientsView->viewport()->mapToGlobal(pos));
}

bool MainWindow::confirm(const QString &title, const QString &text)
{
    if (!m_confirm)
        return true;
    return QMessageBox::question(this, title, text, QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) == QMessageBox::Yes;
}

void MainWindow::disconnectSelectedClient()
{
    const QByteArray name = selectedClientName();
    if (name.isEmpty() || !m_link)
        return;
    if (!confirm(QStringLiteral("Disconnect client"),
                 QStringLiteral("Ask the broker to close the connection(s) of '%1'?").arg(QString::fromLatin1(name))))
        return;
    const MonitorControl control{MonitorControlAction::DisconnectClient, name, {}};
    const quint32 id = m_link->sendControl(control);
    if (id == 0) {
        statusBar()->showMessage(QStringLiteral("Not sent: the link is not live"), 5000);
        return;
    }
    m_feed->noteControlRequest(id, control);
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
    const MonitorControl control{MonitorControlAction::SendTestMessage, name, message.toUtf8()};
    const quint32 id = m_link->sendControl(control);
    if (id == 0) {
        statusBar()->showMessage(QStringLiteral("Not sent: the link is not live"), 5000);
        return;
    }
    m_feed->noteControlRequest(id, control);
}

void MainWindow::restartSelectedService()
{
    const QString name = selectedServiceName();
    if (name.isEmpty() || !m_link)
        return;
    const MonitorControl control{MonitorControlAction::RestartService, name.toUtf8(), {}};
    if (const quint32 id = m_link->sendControl(control))
        m_feed->noteControlRequest(id, control);
}

void MainWindow::stopSelectedService()
{
    const QString name = selectedServiceName();
    if (name.isEmpty() || !m_link)
        return;
    if (!confirm(QStringLiteral("Stop service"),
                 QStringLiteral("Stop '%1'? The broker will not restart it until it is started again.").arg(name)))
        return;
    const MonitorControl control{MonitorControlAction::StopService, name.toUtf8(), {}};
    if (const quint32 id = m_link->sendControl(control))
        m_feed->noteControlRequest(id, control);
}

void MainWindow::startSelectedService()
{
    const QString name = selectedServiceName();
    if (name.isEmpty() || !m_link)
        return;
    const MonitorControl control{MonitorControlAction::StartService, name.toUtf8(), {}};
    if (const quint32 id = m_link->sendControl(control))
        m_feed->noteControlRequest(id, control);
}

void MainWindow::showTrafficOf(const QByteArray &clientName)
{
    if (clientName.isEmpty())
        return;
    // Messages from it; the target filter is cleared so that nothing else narrows the view.
    m_trafficTarget->clear();
    m_trafficSource->setText(QString::fromLatin1(clientName));
    m_tabs->setCurrentIndex(0);
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
    const bool ok = Csv::exportToFile(*m_trafficProxy, path, TrafficModel::ExportRole, error);
    if (ok)
        m_feed->logEvent(EventEntry::Kind::Control, QString(),
                         QStringLiteral("exported %1 traffic record(s) to %2").arg(m_trafficProxy->rowCount()).arg(path));
    return ok;
}

bool MainWindow::exportEventsCsv(const QString &path, QString *error)
{
    return Csv::exportToFile(*m_eventsProxy, path, EventsModel::ExportRole, error);
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
    if (!m_link)
        return;
    ConnectDialog dialog(m_settings, this);
    if (m_link->settings().address.isValid())
        dialog.setLinkSettings(m_link->settings());
    if (dialog.exec() != QDialog::Accepted)
        return;
    m_link->close();
    m_link->setSettings(dialog.linkSettings());
    m_keepToken = dialog.rememberToken();
    m_link->open();
}

void MainWindow::rememberLiveBroker()
{
    if (!m_settings || !m_link || m_link->state() != MonitorLink::State::Live)
        return;
    const MonitorLink::Settings &s = m_link->settings();
    bool keep = false;
    if (m_keepToken) {
        keep = *m_keepToken;
    } else {
        // Opened from the command line: a token stays remembered if it was before.
        const QString address = s.address.toString();
        for (const ConnectDialog::Recent &r : ConnectDialog::recentBrokers(*m_settings))
            if (r.address == address)
                keep = !r.token.isEmpty() && r.token == s.token;
    }
    ConnectDialog::rememberBroker(*m_settings, s, keep);
}

// --- layout --------------------------------------------------------------------------------------

void MainWindow::restoreLayout()
{
    if (!m_settings)
        return;
    m_settings->beginGroup(QStringLiteral("window"));
    restoreGeometry(m_settings->value(QStringLiteral("geometry")).toByteArray());
    restoreState(m_settings->value(QStringLiteral("state")).toByteArray());
    m_clientsView->horizontalHeader()->restoreState(m_settings->value(QStringLiteral("clientsHeader")).toByteArray());
    m_trafficView->horizontalHeader()->restoreState(m_settings->value(QStringLiteral("trafficHeader")).toByteArray());
    m_settings->endGroup();
}

void MainWindow::saveLayout()
{
    if (!m_settings)
        return;
    m_settings->beginGroup(QStringLiteral("window"));
    m_settings->setValue(QStringLiteral("geometry"), saveGeometry());
    m_settings->setValue(QStringLiteral("state"), saveState());
    m_settings->setValue(QStringLiteral("clientsHeader"), m_clientsView->horizontalHeader()->saveState());
    m_settings->setValue(QStringLiteral("trafficHeader"), m_trafficView->horizontalHeader()->saveState());
    m_settings->endGroup();
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    saveLayout();
    QMainWindow::closeEvent(event);
}

} // namespace Kennel
