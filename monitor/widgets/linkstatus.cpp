#include "linkstatus.h"

#include "monitorlink.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>

namespace Kennel {

namespace {

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

} // namespace

LinkStatus::LinkStatus(QWidget *parent)
    : QWidget(parent)
{
    m_icon = new QLabel(this);
    m_label = new QLabel(this);
    m_label->setObjectName(QStringLiteral("linkState"));
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(4, 0, 4, 0);
    layout->addWidget(m_icon);
    layout->addWidget(m_label, 1);
}

void LinkStatus::showLink(const MonitorLink *link)
{
    if (!link) {
        m_label->setText(QStringLiteral("No link"));
        return;
    }
    m_icon->setPixmap(stateDot(link->state(), m_label->fontMetrics().height()));
    m_label->setText(link->statusText());
    m_label->setToolTip(link->lastError());
}

} // namespace Kennel
