#include "topicspanel.h"

#include "clientsmodel.h"
#include "format.h"
#include "monitorlink.h"
#include "panelkit.h"
#include "topicsmodel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace Kennel {

namespace {
constexpr int RefreshMs = 3000;
}

TopicsPanel::TopicsPanel(TopicsModel *topics, ClientsModel *clients, MonitorLink *link, QWidget *parent)
    : QWidget(parent)
    , m_topics(topics)
    , m_clients(clients)
    , m_link(link)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("topicsSummary"));
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    auto *proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_topics);
    proxy->setSortRole(TopicsModel::SortRole);
    m_view = PanelKit::makeTable(splitter, QStringLiteral("topicsView"));
    m_view->setModel(proxy);
    {
        const QFontMetrics fm = m_view->fontMetrics();
        const int em = fm.horizontalAdvance(u'M');
        PanelKit::fitColumns(m_view, {{TopicsModel::TopicColumn, 14 * em},
                                      {TopicsModel::PublicationsColumn, fm.horizontalAdvance(QStringLiteral("00000000")) + 12},
                                      {TopicsModel::RateColumn, fm.horizontalAdvance(QStringLiteral("00000/s")) + 12},
                                      {TopicsModel::RetainedColumn, fm.horizontalAdvance(QStringLiteral("000.0 KiB")) + 12},
                                      {TopicsModel::LastColumn, fm.horizontalAdvance(QStringLiteral("00:00:00")) + 12}});
    }
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(TopicsModel::RateColumn, Qt::DescendingOrder);
    m_view->horizontalHeader()->setStretchLastSection(true);
    splitter->addWidget(m_view);

    auto *side = new QWidget(splitter);
    auto *sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    auto *pick = new QHBoxLayout;
    auto *pickLabel = new QLabel(QStringLiteral("Subscriptions of"), side);
    m_clientCombo = new QComboBox(side);
    m_clientCombo->setObjectName(QStringLiteral("subscriptionsClient"));
    m_clientCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_clientCombo->setMinimumContentsLength(10);
    pickLabel->setBuddy(m_clientCombo);
    pick->addWidget(pickLabel);
    pick->addWidget(m_clientCombo, 1);
    sideLayout->addLayout(pick);
    m_filters = new QListWidget(side);
    m_filters->setObjectName(QStringLiteral("subscriptionFilters"));
    sideLayout->addWidget(m_filters, 1);
    m_filtersNote = new QLabel(side);
    m_filtersNote->setWordWrap(true);
    sideLayout->addWidget(m_filtersNote);
    splitter->addWidget(side);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 1);
    layout->addWidget(splitter, 1);

    const auto updateSummary = [this] { m_summary->setText(m_topics->summary()); };
    connect(m_topics, &TopicsModel::summaryChanged, this, updateSummary);
    updateSummary();

    // The combo follows the clients model; the choice is kept by session id.
    connect(m_clients, &QAbstractItemModel::rowsInserted, this, &TopicsPanel::fillClientCombo);
    connect(m_clients, &QAbstractItemModel::rowsRemoved, this, &TopicsPanel::fillClientCombo);
    connect(m_clients, &QAbstractItemModel::modelReset, this, &TopicsPanel::fillClientCombo);
    connect(m_clientCombo, &QComboBox::currentIndexChanged, this, [this] {
        m_filters->clear();
        m_filtersNote->clear();
        refreshSubscriptions();
    });
    connect(m_link, &MonitorLink::subscriptionsReceived, this, &TopicsPanel::onSubscriptions);
    m_refresh.setInterval(RefreshMs);
    connect(&m_refresh, &QTimer::timeout, this, [this] {
        if (isVisible())
            refreshSubscriptions();
    });
    m_refresh.start();
    fillClientCombo();
}

void TopicsPanel::fillClientCombo()
{
    const QVariant current = m_clientCombo->currentData();
    const QSignalBlocker block(m_clientCombo);
    m_clientCombo->clear();
    for (int row = 0; row < m_clients->rowCount(); ++row) {
        const MonitorClient &c = m_clients->client(row);
        if (c.kind == MonitorClientKind::Monitor || c.name.isEmpty())
            continue;
        m_clientCombo->addItem(QString::fromLatin1(c.name), QVariant::fromValue<quint64>(c.sessionId));
    }
    const int keep = current.isValid() ? m_clientCombo->findData(current) : -1;
    m_clientCombo->setCurrentIndex(keep >= 0 ? keep : (m_clientCombo->count() ? 0 : -1));
    if (m_clientCombo->currentData() != current) {
        m_filters->clear();
        m_filtersNote->clear();
        refreshSubscriptions();
    }
}

quint32 TopicsPanel::refreshSubscriptions()
{
    const QVariant session = m_clientCombo->currentData();
    if (!session.isValid())
        return 0;
    m_pending = m_link->requestSubscriptions(session.value<quint64>());
    return m_pending;
}

void TopicsPanel::onSubscriptions(quint32 requestId, const MonitorSubscriptions &answer)
{
    if (requestId != m_pending || answer.sessionId != m_clientCombo->currentData().value<quint64>())
        return;
    m_pending = 0;
    if (answer.code != ErrorCode::None) {
        m_filters->clear();
        m_filtersNote->setText(QStringLiteral("Not known to the broker (%1)").arg(Format::errorCode(answer.code)));
        return;
    }
    QStringList filters;
    for (const QByteArray &f : answer.filters)
        filters.append(QString::fromUtf8(f));
    QStringList shown;
    for (int i = 0; i < m_filters->count(); ++i)
        shown.append(m_filters->item(i)->text());
    if (shown != filters) {
        m_filters->clear();
        m_filters->addItems(filters);
    }
    QString note = Format::count(answer.total, "filter", "filters");
    if (quint32(filters.size()) < answer.total)
        note += QStringLiteral(" (%1 listed)").arg(filters.size());
    m_filtersNote->setText(note);
}

} // namespace Kennel
