// MainWindow: kennel-monitor's one window. It owns the models and the MonitorFeed that fills
// them from a MonitorLink, and shows them: the clients table (filter, sorting, coloured watchdog
// state, deadline bars, context actions), the services panel (restart/stop/start), the traffic
// view (filters, pause, clear, text/hex, CSV export), the events log, the rate chart, and a status
// bar that always says what the link is doing.
//
// Operator actions go to the broker through the link; their results come back as events. Every
// action is also a public function so the offscreen tests drive the window the way a user would,
// minus the confirmation dialogs (setConfirmActions(false)).
#pragma once

#include "monitorlink.h"

#include <QMainWindow>
#include <QPointer>
#include <QTimer>

#include <optional>

QT_BEGIN_NAMESPACE
class QAction;
class QCheckBox;
class QLabel;
class QLineEdit;
class QMenu;
class QPushButton;
class QSettings;
class QSortFilterProxyModel;
class QTableView;
class QTabWidget;
QT_END_NAMESPACE

namespace Kennel {

class ClientsModel;
class EventsModel;
class MonitorFeed;
class RateChart;
class RateSeries;
class ServicesModel;
class TrafficDetailView;
class TrafficFilterProxy;
class TrafficModel;

class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    // The link is not owned; it must outlive the window. `settings` (may be null) keeps the
    // window layout and the recent brokers.
    explicit MainWindow(MonitorLink *link, QSettings *settings = nullptr, QWidget *parent = nullptr);
    ~MainWindow() override;

    MonitorLink *link() const { return m_link; }
    MonitorFeed *feed() const { return m_feed; }
    ClientsModel *clientsModel() const { return m_clients; }
    ServicesModel *servicesModel() const { return m_services; }
    TrafficModel *trafficModel() const { return m_traffic; }
    EventsModel *eventsModel() const { return m_events; }
    RateSeries *rateSeries() const { return m_rates; }
    QSortFilterProxyModel *clientsProxy() const { return m_clientsProxy; }
    TrafficFilterProxy *trafficProxy() const { return m_trafficProxy; }
    QTableView *clientsView() const { return m_clientsView; }
    QTableView *trafficView() const { return m_trafficView; }
    QTableView *servicesView() const { return m_servicesView; }
    QTableView *eventsView() const { return m_eventsView; }
    TrafficDetailView *trafficDetail() const { return m_trafficDetail; }
    QLineEdit *clientFilterEdit() const { return m_clientFilter; }
    QLineEdit *trafficSourceEdit() const { return m_trafficSource; }
    QLineEdit *trafficTargetEdit() const { return m_trafficTarget; }
    QLineEdit *trafficTextEdit() const { return m_trafficText; }
    QAction *pauseAction() const { return m_pauseAction; }
    QAction *hexAction() const { return m_hexAction; }
    QAction *disconnectClientAction() const { return m_disconnectClientAction; }
    QAction *sendTestMessageAction() const { return m_sendTestAction; }
    QLabel *linkStateLabel() const { return m_stateLabel; }

    // Dialogs that ask "are you sure?" (disconnect a client, stop a service). On by default.
    void setConfirmActions(bool confirm) { m_confirm = confirm; }

    // The client selected in the clients table (empty: none).
    QByteArray selectedClientName() const;
    QString selectedServiceName() const;
    bool selectClient(const QByteArray &name); // selects its row; false if not shown

public Q_SLOTS:
    void showConnectDialog();
    void disconnectSelectedClient();
    void sendTestMessageToSelected(const QString &text); // empty: asks for the text
    void restartSelectedService();
    void stopSelectedService();
    void startSelectedService();
    void showTrafficOf(const QByteArray &clientName);     // sets the traffic filters to that client
    void setTrafficPaused(bool paused);
    void clearTraffic();
    bool exportTrafficCsv(const QString &path, QString *error = nullptr);
    bool exportEventsCsv(const QString &path, QString *error = nullptr);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    QWidget *buildClientsPanel();
    QWidget *buildTrafficPanel();
    QWidget *buildEventsPanel();
    QWidget *buildServicesPanel();
    void buildMenus();
    void clientsContextMenu(const QPoint &pos);
    void updateLinkStatus();
    void rememberLiveBroker();
    void updateSummary();
    void updateClientActions();
    void updateServiceActions();
    void updateTrafficStatus();
    void updateTrafficDetail();
    bool confirm(const QString &title, const QString &text);
    void exportWithDialog(bool traffic);
    void restoreLayout();
    void saveLayout();

    QPointer<MonitorLink> m_link;
    QSettings *m_settings;
    bool m_confirm = true;
    std::optional<bool> m_keepToken; // the connect dialog's "remember the token", once it was used
    bool m_selectedClientGone = false;
    bool m_shownLive = true; // so that the first update greys the tables when not live

    ClientsModel *m_clients = nullptr;
    ServicesModel *m_services = nullptr;
    TrafficModel *m_traffic = nullptr;
    EventsModel *m_events = nullptr;
    RateSeries *m_rates = nullptr;
    MonitorFeed *m_feed = nullptr;
    QSortFilterProxyModel *m_clientsProxy = nullptr;
    TrafficFilterProxy *m_trafficProxy = nullptr;
    QSortFilterProxyModel *m_eventsProxy = nullptr;

    QTableView *m_clientsView = nullptr;
    QLineEdit *m_clientFilter = nullptr;
    QLabel *m_clientsCount = nullptr;
    QTableView *m_servicesView = nullptr;
    QPushButton *m_restartButton = nullptr;
    QPushButton *m_stopButton = nullptr;
    QPushButton *m_startButton = nullptr;
    QTableView *m_trafficView = nullptr;
    QLineEdit *m_trafficSource = nullptr;
    QLineEdit *m_trafficTarget = nullptr;
    QLineEdit *m_trafficText = nullptr;
    QCheckBox *m_follow = nullptr;
    QLabel *m_trafficStatus = nullptr;
    TrafficDetailView *m_trafficDetail = nullptr;
    QTableView *m_eventsView = nullptr;
    QLineEdit *m_eventsFilter = nullptr;
    RateChart *m_chart = nullptr;
    QTabWidget *m_tabs = nullptr;

    QAction *m_connectAction = nullptr;
    QAction *m_closeLinkAction = nullptr;
    QAction *m_pauseAction = nullptr;
    QAction *m_clearAction = nullptr;
    QAction *m_hexAction = nullptr;
    QAction *m_exportTrafficAction = nullptr;
    QAction *m_exportEventsAction = nullptr;
    QAction *m_disconnectClientAction = nullptr;
    QAction *m_sendTestAction = nullptr;
    QAction *m_showTrafficAction = nullptr;

    QLabel *m_stateIcon = nullptr;
    QLabel *m_stateLabel = nullptr;
    QLabel *m_summaryLabel = nullptr;
    BrokerAddress m_summaryAddress; // whose figures the summary shows
    QTimer m_statusTimer; // the reconnect countdown moves even when nothing else does
};

} // namespace Kennel
