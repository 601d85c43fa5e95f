#include "trafficpanel.h"

#include "format.h"
#include "panelkit.h"
#include "trafficdetailview.h"
#include "trafficfilterproxy.h"
#include "trafficmodel.h"

#include <QAction>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QSplitter>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

namespace Kennel {

using PanelKit::icon;

TrafficPanel::TrafficPanel(TrafficModel *traffic, QWidget *parent)
    : QWidget(parent)
    , m_traffic(traffic)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);

    m_proxy = new TrafficFilterProxy(this);
    m_proxy->setObjectName(QStringLiteral("trafficProxy"));
    m_proxy->setSourceModel(m_traffic);

    auto *bar = new QHBoxLayout;
    auto makeFilter = [&](const QString &name, const QString &placeholder) {
        auto *edit = new QLineEdit(this);
        edit->setObjectName(name);
        edit->setPlaceholderText(placeholder);
        edit->setClearButtonEnabled(true);
        return edit;
    };
    m_source = makeFilter(QStringLiteral("trafficSource"), QStringLiteral("Source"));
    m_target = makeFilter(QStringLiteral("trafficTarget"), QStringLiteral("Target"));
    m_text = makeFilter(QStringLiteral("trafficText"), QStringLiteral("Text in payload"));
    bar->addWidget(m_source, 1);
    bar->addWidget(m_target, 1);
    bar->addWidget(m_text, 2);
    m_follow = new QCheckBox(QStringLiteral("&Follow"), this);
    m_follow->setObjectName(QStringLiteral("followTraffic"));
    m_follow->setToolTip(QStringLiteral("Keep the newest records in view"));
    m_follow->setChecked(true);
    bar->addWidget(m_follow);
    layout->addLayout(bar);

    auto *tools = new QToolBar(this);
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
    m_exportAction = tools->addAction(icon(QStringLiteral("export"), QStyle::SP_DialogSaveButton), QStringLiteral("E&xport CSV…"));
    m_exportAction->setObjectName(QStringLiteral("exportTraffic"));
    m_exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("trafficStatus"));
    auto *toolsRow = new QHBoxLayout;
    toolsRow->addWidget(tools);
    toolsRow->addStretch(1);
    toolsRow->addWidget(m_status);
    layout->addLayout(toolsRow);

    m_view = PanelKit::makeTable(this, QStringLiteral("trafficView"));
    m_view->setModel(m_proxy);
    m_view->setColumnWidth(TrafficModel::TimeColumn, 100);
    m_view->setColumnWidth(TrafficModel::SourceColumn, 120);
    m_view->setColumnWidth(TrafficModel::TargetColumn, 120);
    m_view->setColumnWidth(TrafficModel::SizeColumn, 60);
    m_view->setColumnWidth(TrafficModel::StatusColumn, 110);

    // The selected record's whole preview, hex and ASCII side by side: the table's one-line
    // preview cannot show where text ends and binary begins.
    m_detail = new TrafficDetailView(this);
    auto *trafficSplit = new QSplitter(Qt::Horizontal, this);
    trafficSplit->setObjectName(QStringLiteral("trafficSplitter"));
    trafficSplit->addWidget(m_view);
    trafficSplit->addWidget(m_detail);
    trafficSplit->setStretchFactor(0, 1);
    trafficSplit->setStretchFactor(1, 0);
    layout->addWidget(trafficSplit, 1);
    // The selected row, not the current one: a view makes its first row current by itself.
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &TrafficPanel::updateDetail);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &TrafficPanel::updateDetail);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &TrafficPanel::updateDetail);

    connect(m_source, &QLineEdit::textChanged, m_proxy, &TrafficFilterProxy::setSourceFilter);
    connect(m_target, &QLineEdit::textChanged, m_proxy, &TrafficFilterProxy::setTargetFilter);
    connect(m_text, &QLineEdit::textChanged, m_proxy, &TrafficFilterProxy::setTextFilter);
    connect(m_pauseAction, &QAction::toggled, m_traffic, &TrafficModel::setPaused);
    connect(m_clearAction, &QAction::triggered, m_traffic, &TrafficModel::clear);
    connect(m_hexAction, &QAction::toggled, m_proxy, &TrafficFilterProxy::setHexPreview);
    connect(m_exportAction, &QAction::triggered, this, &TrafficPanel::exportRequested);
    connect(m_traffic, &TrafficModel::countersChanged, this, &TrafficPanel::updateStatus);
    connect(m_proxy, &TrafficFilterProxy::filterChanged, this, &TrafficPanel::updateStatus);
    connect(m_traffic, &TrafficModel::pausedChanged, this, [this](bool paused) {
        const QSignalBlocker block(m_pauseAction);
        m_pauseAction->setChecked(paused);
        m_pauseAction->setText(paused ? QStringLiteral("Resume") : QStringLiteral("&Pause"));
        m_pauseAction->setIcon(paused ? icon(QStringLiteral("resume"), QStyle::SP_MediaPlay)
                                      : icon(QStringLiteral("pause"), QStyle::SP_MediaPause));
        updateStatus();
    });
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_follow->isChecked())
            m_view->scrollToBottom();
    });
    updateStatus();
}

void TrafficPanel::showMessagesFrom(const QByteArray &clientName)
{
    m_target->clear();
    m_source->setText(QString::fromLatin1(clientName));
}

void TrafficPanel::updateStatus()
{
    QString text = QStringLiteral("%1 of %2").arg(m_proxy->rowCount()).arg(Format::count(m_traffic->rowCount(), "record", "records"));
    if (m_traffic->isPaused())
        text += QStringLiteral(" · paused, %1 held back").arg(m_traffic->heldBack());
    if (m_traffic->droppedByBroker() > 0)
        text += QStringLiteral(" · %1 not sent by the broker").arg(m_traffic->droppedByBroker());
    m_status->setText(text);
}

void TrafficPanel::updateDetail()
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    m_detail->showRecord(rows.isEmpty() ? QModelIndex() : rows.first());
}

} // namespace Kennel
