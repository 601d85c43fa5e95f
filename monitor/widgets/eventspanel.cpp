#include "eventspanel.h"

#include "eventsmodel.h"
#include "panelkit.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace Kennel {

EventsPanel::EventsPanel(EventsModel *events, QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *bar = new QHBoxLayout;
    m_filter = new QLineEdit(this);
    m_filter->setObjectName(QStringLiteral("eventsFilter"));
    m_filter->setPlaceholderText(QStringLiteral("Filter events"));
    m_filter->setClearButtonEnabled(true);
    bar->addWidget(m_filter, 1);
    auto *exportEvents = new QPushButton(PanelKit::icon(QStringLiteral("export"), QStyle::SP_DialogSaveButton),
                                         QStringLiteral("Export CSV…"), this);
    bar->addWidget(exportEvents);
    layout->addLayout(bar);

    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(events);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_view = PanelKit::makeTable(this, QStringLiteral("eventsView"));
    m_view->setModel(m_proxy);
    m_view->setColumnWidth(EventsModel::TimeColumn, 100);
    m_view->setColumnWidth(EventsModel::KindColumn, 80);
    m_view->setColumnWidth(EventsModel::SubjectColumn, 130);
    layout->addWidget(m_view, 1);

    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(exportEvents, &QPushButton::clicked, this, &EventsPanel::exportRequested);
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, [this] {
        QScrollBar *bar = m_view->verticalScrollBar();
        if (bar->value() >= bar->maximum() - 2 * m_view->verticalHeader()->defaultSectionSize())
            m_view->scrollToBottom();
    });
}

} // namespace Kennel
