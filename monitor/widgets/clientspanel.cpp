#include "clientspanel.h"

#include "clientsmodel.h"
#include "deadlinedelegate.h"
#include "format.h"
#include "panelkit.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include <utility>

namespace Kennel {

using PanelKit::icon;

ClientsPanel::ClientsPanel(ClientsModel *clients, QWidget *barWidget, QWidget *parent)
    : QWidget(parent)
    , m_clients(clients)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 0);
    auto *bar = new QHBoxLayout;
    auto *title = new QLabel(QStringLiteral("<b>Clients</b>"), this);
    m_filter = new QLineEdit(this);
    m_filter->setObjectName(QStringLiteral("clientFilter"));
    m_filter->setPlaceholderText(QStringLiteral("Filter clients (name, peer, state…)"));
    m_filter->setClearButtonEnabled(true);
    m_count = new QLabel(this);
    m_count->setObjectName(QStringLiteral("clientsCount"));
    bar->addWidget(title);
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_count);
    if (barWidget) {
        bar->addSpacing(8);
        bar->addWidget(barWidget);
    }
    layout->addLayout(bar);

    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setObjectName(QStringLiteral("clientsProxy"));
    m_proxy->setSourceModel(m_clients);
    m_proxy->setSortRole(ClientsModel::SortRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setDynamicSortFilter(true);

    m_view = PanelKit::makeTable(this, QStringLiteral("clientsView"));
    // When the selected client goes, the view would move the selection to its neighbour, and a
    // second click on "Disconnect" would hit a client the operator never chose. Nothing stays
    // selected instead. Connected before the view gets the model, so that this runs before the
    // view's own handler moves the selection.
    connect(m_proxy, &QAbstractItemModel::rowsAboutToBeRemoved, this, [this](const QModelIndex &, int first, int last) {
        const QModelIndexList rows = m_view->selectionModel()->selectedRows();
        if (!rows.isEmpty() && rows.first().row() >= first && rows.first().row() <= last)
            m_selectedClientGone = true;
    });
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, [this] {
        if (std::exchange(m_selectedClientGone, false))
            m_view->selectionModel()->clear();
    });
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ClientsModel::NameColumn, Qt::AscendingOrder);
    m_view->setItemDelegateForColumn(ClientsModel::DeadlineColumn, new DeadlineDelegate(m_view));
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    // Widths from the header texts (so that no title is cut, whatever the font), at least what
    // typical contents need. At 1024 px the columns an operator scans first fit; the byte
    // counters and the connection time are one right click on the header away.
    const int em = m_view->fontMetrics().horizontalAdvance(u'M');
    PanelKit::fitColumns(m_view, {{ClientsModel::NameColumn, 9 * em}, {ClientsModel::DeadlineColumn, 110},
                                  {ClientsModel::TermsColumn, 7 * em}, {ClientsModel::PeerColumn, 10 * em}});
    // Refusals and drops are in the events log as they happen.
    for (int c : {ClientsModel::KindColumn, ClientsModel::SinceFeedColumn, ClientsModel::BytesInColumn,
                  ClientsModel::BytesOutColumn, ClientsModel::RefusedColumn, ClientsModel::DroppedColumn,
                  ClientsModel::ConnectedColumn})
        m_view->setColumnHidden(c, true);
    PanelKit::addColumnMenu(m_view);
    layout->addWidget(m_view, 1);

    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(m_view, &QWidget::customContextMenuRequested, this, &ClientsPanel::contextMenu);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ClientsPanel::updateActions);
    connect(m_view, &QAbstractItemView::doubleClicked, this, [this](const QModelIndex &index) {
        Q_EMIT showTrafficRequested(index.data(ClientsModel::NameRole).toByteArray());
    });
    auto recount = [this] {
        m_count->setText(m_proxy->rowCount() == m_clients->rowCount()
                             ? QStringLiteral("%1 connected").arg(m_clients->rowCount())
                             : QStringLiteral("%1 of %2 shown").arg(m_proxy->rowCount()).arg(m_clients->rowCount()));
    };
    // The proxy drops its rows on the source's rowsAboutToBeRemoved, while the source still has
    // them: counting then reads "3 of 4 shown". Removals are counted on the source's rowsRemoved,
    // when both sides agree; the proxy's own signals cover filtering.
    connect(m_clients, &QAbstractItemModel::rowsRemoved, this, recount);
    connect(m_clients, &QAbstractItemModel::modelReset, this, recount);
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, recount);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, recount);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, recount);
    connect(m_proxy, &QAbstractItemModel::layoutChanged, this, recount);
    recount();

    m_disconnectAction = new QAction(icon(QStringLiteral("disconnect-client"), QStyle::SP_DialogCancelButton),
                                     QStringLiteral("&Disconnect client"), this);
    m_disconnectAction->setObjectName(QStringLiteral("disconnectClient"));
    m_disconnectAction->setToolTip(QStringLiteral("Ask the broker to close this client's connection(s)"));
    connect(m_disconnectAction, &QAction::triggered, this, &ClientsPanel::disconnectRequested);
    m_sendTestAction = new QAction(icon(QStringLiteral("send"), QStyle::SP_ArrowRight), QStringLiteral("Send &test message…"), this);
    m_sendTestAction->setObjectName(QStringLiteral("sendTestMessage"));
    connect(m_sendTestAction, &QAction::triggered, this, &ClientsPanel::sendTestRequested);
    m_showTrafficAction = new QAction(QStringLiteral("Show its &traffic"), this);
    connect(m_showTrafficAction, &QAction::triggered, this, [this] { Q_EMIT showTrafficRequested(selectedClientName()); });
    updateActions();
}

QByteArray ClientsPanel::selectedClientName() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QByteArray() : rows.first().data(ClientsModel::NameRole).toByteArray();
}

bool ClientsPanel::selectClient(const QByteArray &name)
{
    for (int r = 0; r < m_proxy->rowCount(); ++r) {
        const QModelIndex index = m_proxy->index(r, 0);
        if (index.data(ClientsModel::NameRole).toByteArray() == name) {
            m_view->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
            m_view->setCurrentIndex(index);
            m_view->scrollTo(index);
            return true;
        }
    }
    return false;
}

void ClientsPanel::setLive(bool live)
{
    m_live = live;
    updateActions();
}

void ClientsPanel::setReadOnly(bool readOnly)
{
    m_readOnly = readOnly;
    const QString why = readOnly ? Format::readOnlyTooltip() : QString();
    m_disconnectAction->setToolTip(readOnly ? why : QStringLiteral("Ask the broker to close this client's connection(s)"));
    m_sendTestAction->setToolTip(readOnly ? why : QStringLiteral("Send this client a message as from \"kennel-monitor\""));
    updateActions();
}

void ClientsPanel::updateActions()
{
    const bool selected = !selectedClientName().isEmpty();
    m_disconnectAction->setEnabled(m_live && selected && !m_readOnly);
    m_sendTestAction->setEnabled(m_live && selected && !m_readOnly);
    m_showTrafficAction->setEnabled(selected);
}

void ClientsPanel::contextMenu(const QPoint &pos)
{
    const QModelIndex index = m_view->indexAt(pos);
    if (!index.isValid())
        return;
    m_view->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    QMenu menu(this);
    menu.addAction(m_disconnectAction);
    menu.addAction(m_sendTestAction);
    menu.addSeparator();
    menu.addAction(m_showTrafficAction);
    const QByteArray name = selectedClientName();
    menu.addAction(QStringLiteral("&Copy name"), this, [name] { QApplication::clipboard()->setText(QString::fromLatin1(name)); });
    menu.exec(m_view->viewport()->mapToGlobal(pos));
}

} // namespace Kennel
