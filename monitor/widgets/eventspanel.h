// The events tab: the log of what happened (registrations, expiries, services, control results),
// with a filter, CSV export and scrolling that follows the newest unless the operator scrolled up.
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace Kennel {

class EventsModel;

class EventsPanel : public QWidget
{
    Q_OBJECT
public:
    explicit EventsPanel(EventsModel *events, QWidget *parent = nullptr);

    QSortFilterProxyModel *proxy() const { return m_proxy; }
    QTableView *view() const { return m_view; }

Q_SIGNALS:
    void exportRequested();

private:
    QSortFilterProxyModel *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QLineEdit *m_filter = nullptr;
};

} // namespace Kennel
