#include "deadlinedelegate.h"

#include "clientsmodel.h"

#include <QApplication>
#include <QPainter>

namespace Kennel {

void DeadlineDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    const double fraction = index.data(ClientsModel::DeadlineFractionRole).toDouble();
    const auto state = MonitorWatchState(index.data(ClientsModel::WatchStateRole).toInt());
    if (fraction < 0 && state != MonitorWatchState::Expired) {
        QStyledItemDelegate::paint(painter, option, index);
        return;
    }

    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const QWidget *widget = option.widget;
    QStyle *style = widget ? widget->style() : QApplication::style();
    // Background and selection as any cell, then the bar, then the text.
    style->drawPrimitive(QStyle::PE_PanelItemViewItem, &opt, painter, widget);

    QColor colour;
    switch (state) {
    case MonitorWatchState::Late:
        colour = QColor(0xf0, 0xa0, 0x20);
        break;
    case MonitorWatchState::Expired:
        colour = QColor(0xd0, 0x30, 0x30);
        break;
    default:
        colour = QColor(0x3c, 0xb0, 0x4c);
        break;
    }
    // A stale row's bar is grey: its length is still the last known one, its colour claims nothing.
    if (index.data(ClientsModel::StaleRole).toBool())
        colour = opt.palette.color(QPalette::Disabled, QPalette::Text);
    const QRect frame = opt.rect.adjusted(3, 3, -3, -3);
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing, false);
    painter->setPen(QPen(colour.darker(130), 1));
    painter->setBrush(Qt::NoBrush);
    painter->drawRect(frame.adjusted(0, 0, -1, -1));
    const double shown = state == MonitorWatchState::Expired ? 1.0 : std::clamp(fraction, 0.0, 1.0);
    QRect bar = frame.adjusted(1, 1, -1, -1);
    bar.setWidth(int(bar.width() * shown + 0.5));
    QColor fill = colour;
    fill.setAlpha(state == MonitorWatchState::Expired ? 90 : 150);
    painter->fillRect(bar, fill);

    painter->setPen(opt.state & QStyle::State_Selected ? opt.palette.color(QPalette::HighlightedText)
                                                       : opt.palette.color(QPalette::Text));
    painter->drawText(frame.adjusted(4, 0, -4, 0), Qt::AlignVCenter | Qt::AlignRight, opt.text);
    painter->restore();
}

QSize DeadlineDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QSize size = QStyledItemDelegate::sizeHint(option, index);
    size.setWidth(std::max(size.width(), 110));
    return size;
}

} // namespace Kennel
