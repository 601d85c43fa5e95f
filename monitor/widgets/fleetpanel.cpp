#include "fleetpanel.h"

#include "fleetlink.h"
#include "fleetmodel.h"
#include "format.h"
#include "panelkit.h"

#include <QAction>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace Kennel {

FleetPanel::FleetPanel(FleetModel *model, FleetLink *link, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_link(link)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);

    m_connect = new QAction(PanelKit::icon(QStringLiteral("connect"), QStyle::SP_DriveNetIcon), QStringLiteral("Connect to the &fleet…"), this);
    m_connect->setObjectName(QStringLiteral("fleetConnect"));
    m_openMonitor = new QAction(PanelKit::icon(QStringLiteral("kennel-monitor"), QStyle::SP_ComputerIcon),
                                QStringLiteral("&Open board monitor"), this);
    m_openMonitor->setObjectName(QStringLiteral("openBoardMonitor"));
    m_openMonitor->setToolTip(QStringLiteral("Connect this window to the selected board's own monitor (it must be online)"));

    auto *top = new QHBoxLayout;
    auto *connectButton = new QPushButton(m_connect->icon(), QStringLiteral("Fleet broker…"), this);
    connectButton->setToolTip(m_connect->text().remove(QLatin1Char('&')));
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("fleetStatus"));
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_filter = new QLineEdit(this);
    m_filter->setObjectName(QStringLiteral("fleetFilter"));
    m_filter->setPlaceholderText(QStringLiteral("Filter boards"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setMaximumWidth(220);
    m_openButton = new QPushButton(m_openMonitor->icon(), m_openMonitor->text(), this);
    m_openButton->setObjectName(QStringLiteral("openBoardMonitorButton"));
    top->addWidget(connectButton);
    top->addWidget(m_status, 1);
    top->addWidget(m_filter);
    top->addWidget(m_openButton);
    layout->addLayout(top);

    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(FleetModel::SortRole);
    m_proxy->setFilterKeyColumn(-1); // the board id, its state and its last event alike
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setDynamicSortFilter(true);
    m_view = PanelKit::makeTable(this, QStringLiteral("fleetView"));
    m_view->setModel(m_proxy);
    {
        const QFontMetrics fm = m_view->fontMetrics();
        const int em = fm.horizontalAdvance(u'M');
        PanelKit::fitColumns(m_view, {{FleetModel::BoardColumn, 8 * em}, {FleetModel::StateColumn, fm.horizontalAdvance(QStringLiteral("unknown")) + 16},
                                      {FleetModel::LastSeenColumn, fm.horizontalAdvance(QStringLiteral("00:00:00")) + 16}});
    }
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(FleetModel::BoardColumn, Qt::AscendingOrder);
    PanelKit::addColumnMenu(m_view);

    m_detail = new QPlainTextEdit(this);
    m_detail->setObjectName(QStringLiteral("fleetDetail"));
    m_detail->setReadOnly(true);
    m_detail->setPlaceholderText(QStringLiteral("The selected board's last summary"));
    m_detail->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(m_view);
    splitter->addWidget(m_detail);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 1);
    layout->addWidget(splitter, 1);

    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &FleetPanel::updateDetail);
    connect(m_model, &FleetModel::boardChanged, this, [this](const QString &board) {
        if (board == selectedBoard())
            updateDetail();
        updateStatus();
    });
    connect(m_model, &QAbstractItemModel::modelReset, this, &FleetPanel::updateDetail);
    connect(m_view, &QTableView::activated, this, &FleetPanel::openSelected);
    connect(m_openButton, &QPushButton::clicked, m_openMonitor, &QAction::trigger);
    connect(m_openMonitor, &QAction::triggered, this, &FleetPanel::openSelected);
    connect(connectButton, &QPushButton::clicked, m_connect, &QAction::trigger);
    connect(m_connect, &QAction::triggered, this, &FleetPanel::connectRequested);
    connect(m_link, &FleetLink::stateChanged, this, [this](FleetLink::State state) {
        m_model->setStale(state != FleetLink::State::Connected);
        updateStatus();
    });
    m_model->setStale(m_link->state() != FleetLink::State::Connected);
    updateDetail();
    updateStatus();
}

QString FleetPanel::selectedBoard() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.first().data(FleetModel::BoardRole).toString();
}

bool FleetPanel::selectBoard(const QString &board)
{
    const int row = m_model->rowOf(board);
    const QModelIndex index = row < 0 ? QModelIndex() : m_proxy->mapFromSource(m_model->index(row, 0));
    if (!index.isValid())
        return false;
    m_view->selectRow(index.row());
    return true;
}

void FleetPanel::updateStatus()
{
    QString text = m_link->statusText();
    if (m_model->rowCount() > 0)
        text += QStringLiteral(" — %1, %2 online").arg(Format::count(m_model->rowCount(), "board", "boards")).arg(m_model->onlineCount());
    if (m_model->refusals() > 0)
        text += QStringLiteral(" — %1 refused").arg(m_model->refusals());
    m_status->setText(text);
    m_status->setToolTip(m_model->refusals() > 0 ? QStringLiteral("Last refused: %1").arg(m_model->lastRefusal()) : QString());
}

void FleetPanel::updateDetail()
{
    const int row = m_model->rowOf(selectedBoard());
    const FleetModel::Board *board = row >= 0 ? &m_model->board(row) : nullptr;
    const bool reachable = board && board->online == FleetModel::Online::Yes && board->summary
        && !board->summary->monitorAddress.isEmpty();
    m_openMonitor->setEnabled(reachable);
    m_openButton->setEnabled(reachable);
    if (!board) {
        m_detail->clear();
        return;
    }
    QString text = QStringLiteral("%1 — %2\n").arg(board->id, board->online == FleetModel::Online::Yes ? QStringLiteral("online")
                                                             : board->online == FleetModel::Online::No ? QStringLiteral("offline (its last summary)")
                                                                                                       : QStringLiteral("state unknown"));
    if (board->summary && !board->summary->monitorAddress.isEmpty())
        text += QStringLiteral("monitor: %1%2\n").arg(board->summary->monitorAddress, board->summary->monitorTls ? QStringLiteral(" (TLS)") : QString());
    if (!board->lastEvent.isEmpty())
        text += QStringLiteral("last event: %1 (%2 seen)\n").arg(board->lastEvent).arg(board->events);
    if (board->summary) {
        text += board->summary->services.isEmpty() ? QStringLiteral("services: none\n") : QStringLiteral("services:\n");
        for (const BoardSummary::Service &s : board->summary->services)
            text += QStringLiteral("  %1  %2  pid %3  restarts %4\n").arg(s.name, s.state).arg(s.pid).arg(s.restarts);
        text += QLatin1Char('\n') + QString::fromUtf8(QJsonDocument(board->summary->raw).toJson(QJsonDocument::Indented));
    } else {
        text += QStringLiteral("no summary received\n");
    }
    m_detail->setPlainText(text);
}

void FleetPanel::openSelected()
{
    const int row = m_model->rowOf(selectedBoard());
    if (row < 0)
        return;
    const FleetModel::Board &board = m_model->board(row);
    // Not reachable: the last summary is what there is, and it is already beside the table.
    if (board.online != FleetModel::Online::Yes || !board.summary || board.summary->monitorAddress.isEmpty()) {
        m_detail->setFocus();
        return;
    }
    Q_EMIT openMonitorRequested(board.summary->monitorAddress, board.summary->monitorTls);
}

} // namespace Kennel
