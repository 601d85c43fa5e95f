#include "serviceoutputpanel.h"

#include "format.h"
#include "monitorlink.h"
#include "servicesmodel.h"

#include <QComboBox>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QVBoxLayout>

namespace Kennel {

ServiceOutputPanel::ServiceOutputPanel(ServicesModel *services, MonitorLink *link, QWidget *parent)
    : QWidget(parent)
    , m_services(services)
    , m_link(link)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *top = new QHBoxLayout;
    auto *label = new QLabel(QStringLiteral("Ser&vice:"), this);
    m_serviceCombo = new QComboBox(this);
    m_serviceCombo->setObjectName(QStringLiteral("outputService"));
    m_serviceCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_serviceCombo->setMinimumContentsLength(14);
    label->setBuddy(m_serviceCombo);
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("outputStatus"));
    top->addWidget(label);
    top->addWidget(m_serviceCombo);
    top->addWidget(m_status, 1);
    layout->addLayout(top);
    m_text = new QPlainTextEdit(this);
    m_text->setObjectName(QStringLiteral("outputText"));
    m_text->setReadOnly(true);
    m_text->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_text->setMaximumBlockCount(MaxShownLines);
    m_text->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    layout->addWidget(m_text, 1);

    connect(m_services, &QAbstractItemModel::rowsInserted, this, &ServiceOutputPanel::fillServiceCombo);
    connect(m_services, &QAbstractItemModel::rowsRemoved, this, &ServiceOutputPanel::fillServiceCombo);
    connect(m_services, &QAbstractItemModel::modelReset, this, &ServiceOutputPanel::fillServiceCombo);
    connect(m_serviceCombo, &QComboBox::currentIndexChanged, this, &ServiceOutputPanel::restart);
    connect(m_link, &MonitorLink::serviceOutputReceived, this, &ServiceOutputPanel::onOutput);
    connect(m_link, &MonitorLink::stateChanged, this, [this](MonitorLink::State state) {
        if (state != MonitorLink::State::Live)
            m_pending = 0; // the answer will not come
    });
    // Another connection may be another broker (or a restarted one): its sequence numbers start again.
    connect(m_link, &MonitorLink::snapshotBegan, this, &ServiceOutputPanel::restart);
    m_follow.setInterval(FollowIntervalMs);
    connect(&m_follow, &QTimer::timeout, this, [this] {
        if (isVisible())
            poll();
    });
    m_follow.start();
    fillServiceCombo();
}

void ServiceOutputPanel::fillServiceCombo()
{
    const QString current = m_serviceCombo->currentText();
    QStringList names;
    for (int row = 0; row < m_services->rowCount(); ++row)
        names.append(m_services->service(row).name);
    names.sort();
    QStringList shown;
    for (int i = 0; i < m_serviceCombo->count(); ++i)
        shown.append(m_serviceCombo->itemText(i));
    if (shown == names)
        return;
    {
        const QSignalBlocker block(m_serviceCombo);
        m_serviceCombo->clear();
        m_serviceCombo->addItems(names);
        const int keep = m_serviceCombo->findText(current);
        m_serviceCombo->setCurrentIndex(keep >= 0 ? keep : (names.isEmpty() ? -1 : 0));
    }
    if (m_serviceCombo->currentText() != m_service)
        restart();
}

void ServiceOutputPanel::restart()
{
    m_service = m_serviceCombo->currentText();
    m_lastSeq = 0;
    m_lastDropped = 0;
    m_pending = 0;
    m_text->clear();
    m_status->setText(m_service.isEmpty() ? QStringLiteral("No supervised services") : QString());
    poll();
}

quint32 ServiceOutputPanel::poll()
{
    if (m_service.isEmpty() || m_pending)
        return 0;
    MonitorServiceOutputRequest request;
    request.service = m_service.toUtf8();
    if (m_lastSeq > 0)
        request.afterSeq = m_lastSeq;
    else
        request.maxLines = InitialLines;
    m_pending = m_link->requestServiceOutput(request);
    return m_pending;
}

void ServiceOutputPanel::onOutput(quint32 requestId, const MonitorServiceOutput &output)
{
    if (requestId == 0 || requestId != m_pending)
        return;
    m_pending = 0;
    if (QString::fromUtf8(output.service) != m_service)
        return;
    if (output.code != ErrorCode::None) {
        m_status->setText(output.error.isEmpty() ? Format::errorCode(output.code) : output.error);
        return;
    }
    QScrollBar *bar = m_text->verticalScrollBar();
    const bool atEnd = bar->value() >= bar->maximum() - 2;
    if (m_lastSeq > 0 && !output.lines.isEmpty() && output.lines.first().seq > m_lastSeq + 1)
        m_text->appendPlainText(QStringLiteral("… %1 line(s) fell off the broker's ring here …")
                                    .arg(output.lines.first().seq - m_lastSeq - 1));
    for (const MonitorOutputLine &line : output.lines) {
        QString text = Format::wallClock(line.timeMs) + (line.isStderr ? QStringLiteral(" ! ") : QStringLiteral("   "))
            + QString::fromUtf8(line.text);
        while (text.endsWith(u'\n') || text.endsWith(u'\r'))
            text.chop(1);
        m_text->appendPlainText(text);
        m_lastSeq = line.seq;
    }
    if (output.lines.isEmpty() && output.lastSeq > m_lastSeq && m_lastSeq == 0)
        m_lastSeq = output.lastSeq;
    m_lastDropped = output.dropped;
    if (atEnd)
        bar->setValue(bar->maximum());
    m_status->setText(QStringLiteral("%1 kept (%2 of %3), %4 dropped since defined; stderr lines marked !")
                          .arg(Format::count(output.keptLines, "line", "lines"), Format::bytes(output.keptBytes),
                               Format::bytes(output.maxBytes))
                          .arg(output.dropped));
    if (output.more)
        QTimer::singleShot(0, this, [this] { poll(); }); // the rest did not fit one frame
}

} // namespace Kennel
