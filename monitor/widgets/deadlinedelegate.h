// Paints the clients table's deadline cell as a bar that empties as the client's watchdog
// deadline approaches (full just after a feed, empty at expiry), coloured by its watchdog state,
// with the time left written over it. Unwatched clients get the plain text.
#pragma once

#include <QStyledItemDelegate>

namespace Kennel {

class DeadlineDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;
};

} // namespace Kennel
