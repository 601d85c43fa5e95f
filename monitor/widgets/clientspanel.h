// The clients table: filter, count, sorting, coloured watchdog state, deadline bars, the
// columns menu, and the client actions (disconnect, send a test message, show its traffic) with
// their context menu. The actions only ask: the window sends them to the broker.
#pragma once

#include <QByteArray>
#include <QWidget>

QT_BEGIN_NAMESPACE
class QAction;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace Kennel {

class ClientsModel;

class ClientsPanel : public QWidget
{
    Q_OBJECT
public:
    // `barWidget` (may be null) goes at the end of the title bar, after the count.
    ClientsPanel(ClientsModel *clients, QWidget *barWidget, QWidget *parent = nullptr);

    QTableView *view() const { return m_view; }
    QSortFilterProxyModel *proxy() const { return m_proxy; }
    QLineEdit *filterEdit() const { return m_filter; }
    QAction *disconnectAction() const { return m_disconnectAction; }
    QAction *sendTestAction() const { return m_sendTestAction; }
    QAction *showTrafficAction() const { return m_showTrafficAction; }

    QByteArray selectedClientName() const; // empty: none
    bool selectClient(const QByteArray &name); // selects its row; false if not shown

    // Actions that reach the broker are enabled only while the link is live.
    void setLive(bool live);
    // Roles (PROTOCOL §6.6): a read-only link greys them, with a tooltip saying why.
    void setReadOnly(bool readOnly);

Q_SIGNALS:
    void disconnectRequested();
    void sendTestRequested();
    void showTrafficRequested(const QByteArray &clientName);

private:
    void updateActions();
    void contextMenu(const QPoint &pos);

    ClientsModel *m_clients;
    QSortFilterProxyModel *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QLineEdit *m_filter = nullptr;
    QLabel *m_count = nullptr;
    QAction *m_disconnectAction = nullptr;
    QAction *m_sendTestAction = nullptr;
    QAction *m_showTrafficAction = nullptr;
    bool m_live = false;
    bool m_readOnly = false;
    bool m_selectedClientGone = false;
};

} // namespace Kennel
