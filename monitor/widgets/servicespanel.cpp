#include "servicespanel.h"

#include "format.h"
#include "panelkit.h"
#include "servicesmodel.h"

#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

namespace Kennel {

using PanelKit::icon;

ServicesPanel::ServicesPanel(ServicesModel *services, QWidget *parent)
    : QWidget(parent)
    , m_services(services)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_services);
    proxy->setSortRole(ServicesModel::SortRole);
    m_view = PanelKit::makeTable(this, QStringLiteral("servicesView"));
    m_view->setModel(proxy);
    {
        const int em = m_view->fontMetrics().horizontalAdvance(u'M');
        const QFontMetrics fm = m_view->fontMetrics();
        const int digits = fm.horizontalAdvance(QStringLiteral("0000000"));
        int states = 0; // the longest state name, "waiting to restart"
        for (int st = int(MonitorServiceState::Stopped); st <= int(MonitorServiceState::Failed); ++st)
            states = std::max(states, fm.horizontalAdvance(Format::serviceState(MonitorServiceState(st))) + 12);
        PanelKit::fitColumns(m_view, {{ServicesModel::NameColumn, 8 * em}, {ServicesModel::StateColumn, states},
                                      {ServicesModel::PidColumn, digits},
                                      {ServicesModel::LastExitColumn, fm.horizontalAdvance(QStringLiteral("signal 15 (TERM)")) + 12},
                                      // What is held for a restarting service: "12 · 1.5 KiB · 4.2 s".
                                      {ServicesModel::HeldColumn, fm.horizontalAdvance(QStringLiteral("12 · 1.5 KiB · 4.2 s")) + 12}});
    }
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ServicesModel::NameColumn, Qt::AscendingOrder);
    layout->addWidget(m_view, 1);

    auto *buttons = new QHBoxLayout;
    m_restartButton = new QPushButton(icon(QStringLiteral("restart"), QStyle::SP_BrowserReload), QStringLiteral("&Restart"), this);
    m_stopButton = new QPushButton(icon(QStringLiteral("stop"), QStyle::SP_MediaStop), QStringLiteral("St&op"), this);
    m_startButton = new QPushButton(icon(QStringLiteral("resume"), QStyle::SP_MediaPlay), QStringLiteral("St&art"), this);
    m_restartButton->setObjectName(QStringLiteral("restartService"));
    m_stopButton->setObjectName(QStringLiteral("stopService"));
    m_startButton->setObjectName(QStringLiteral("startService"));
    buttons->addWidget(m_restartButton);
    buttons->addWidget(m_stopButton);
    buttons->addWidget(m_startButton);
    buttons->addStretch(1);
    layout->addLayout(buttons);

    connect(m_restartButton, &QPushButton::clicked, this, &ServicesPanel::restartRequested);
    connect(m_stopButton, &QPushButton::clicked, this, &ServicesPanel::stopRequested);
    connect(m_startButton, &QPushButton::clicked, this, &ServicesPanel::startRequested);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ServicesPanel::updateActions);
    connect(m_services, &QAbstractItemModel::dataChanged, this, &ServicesPanel::updateActions);
    updateActions();
}

QString ServicesPanel::selectedServiceName() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.first().data(ServicesModel::NameRole).toString();
}

void ServicesPanel::setLive(bool live)
{
    m_live = live;
    updateActions();
}

void ServicesPanel::setReadOnly(bool readOnly)
{
    m_readOnly = readOnly;
    for (QPushButton *button : {m_restartButton, m_stopButton, m_startButton})
        button->setToolTip(readOnly ? Format::readOnlyTooltip() : QString());
    updateActions();
}

void ServicesPanel::updateActions()
{
    const int row = m_services->rowOf(selectedServiceName());
    const auto state = row >= 0 ? m_services->service(row).state : MonitorServiceState::Stopped;
    const bool running = state == MonitorServiceState::Running || state == MonitorServiceState::Starting;
    const bool may = m_live && !m_readOnly && row >= 0;
    m_restartButton->setEnabled(may);
    m_stopButton->setEnabled(may && state != MonitorServiceState::Stopped && state != MonitorServiceState::Stopping);
    m_startButton->setEnabled(may && !running);
}

} // namespace Kennel
