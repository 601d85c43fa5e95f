// The fleet panel: every board of the fleet (FleetModel, fed by FleetLink from the fleet's MQTT
// broker) in a sortable table with a filter, the selected board's last summary beside it, and
// "Open board monitor", which asks the window to connect to the board's own monitor address
// while the board is online. An offline board is greyed and shows its last summary only.
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QAction;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace Kennel {

class FleetLink;
class FleetModel;

class FleetPanel : public QWidget
{
    Q_OBJECT
public:
    FleetPanel(FleetModel *model, FleetLink *link, QWidget *parent = nullptr);

    QTableView *view() const { return m_view; }
    QSortFilterProxyModel *proxy() const { return m_proxy; }
    QLineEdit *filterEdit() const { return m_filter; }
    QPlainTextEdit *detail() const { return m_detail; }
    QLabel *statusLabel() const { return m_status; }
    QAction *openMonitorAction() const { return m_openMonitor; }
    QAction *connectAction() const { return m_connect; }

    QString selectedBoard() const; // empty: none
    bool selectBoard(const QString &board); // false if not shown

Q_SIGNALS:
    // A board's own monitor connection is wanted (it is online and gave its address).
    void openMonitorRequested(const QString &address, bool tls);
    void connectRequested(); // the fleet connect dialog

private:
    void updateDetail();
    void updateStatus();
    void openSelected();

    FleetModel *m_model;
    FleetLink *m_link;
    QSortFilterProxyModel *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QLineEdit *m_filter = nullptr;
    QPlainTextEdit *m_detail = nullptr;
    QLabel *m_status = nullptr;
    QPushButton *m_openButton = nullptr;
    QAction *m_openMonitor = nullptr;
    QAction *m_connect = nullptr;
};

} // namespace Kennel
