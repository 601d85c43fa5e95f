// MainWindow: kennel-monitor's one window. It owns the models and the MonitorFeed that fills
// them from a MonitorLink, and composes the panels that show them: the clients table
// (ClientsPanel, with the broker's figures in a SummaryLabel), the services (ServicesPanel), the
// traffic (TrafficPanel) and events (EventsPanel) tabs, the rate chart, the Broker menu
// (ConnectionMenu) and a status bar that always says what the link is doing (LinkStatus).
//
// Operator actions go to the broker through the link; their results come back as events. Every
// action is also a public function so the offscreen tests drive the window the way a user would,
// minus the confirmation dialogs (setConfirmActions(false)).
#pragma once

#include "monitorlink.h"

#include <QMainWindow>
#include <QPointer>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QAction;
class QLabel;
class QLineEdit;
class QSettings;
class QSortFilterProxyModel;
class QTableView;
class QTabWidget;
QT_END_NAMESPACE

namespace Kennel {

class ClientsModel;
class ClientsPanel;
class ConnectionMenu;
class EventsModel;
class EventsPanel;
class FleetLink;
class FleetModel;
class FleetPanel;
class LinkStatus;
class MonitorFeed;
class RateChart;
class RateSeries;
class ServicesModel;
class ServicesPanel;
class SummaryLabel;
class TrafficDetailView;
class TrafficFilterProxy;
class TrafficModel;
class TrafficPanel;
// Topics and service output (busview).
class TopicsModel;
class TopicsPanel;
class ServiceOutputPanel;

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
    QSortFilterProxyModel *clientsProxy() const;
    TrafficFilterProxy *trafficProxy() const;
    QTableView *clientsView() const;
    QTableView *trafficView() const;
    QTableView *servicesView() const;
    QTableView *eventsView() const;
    TrafficDetailView *trafficDetail() const;
    QLineEdit *clientFilterEdit() const;
    // Topics and service output (busview).
    TopicsModel *topicsModel() const { return m_topicsModel; }
    TopicsPanel *topicsPanel() const { return m_topicsPanel; }
    ServiceOutputPanel *outputPanel() const { return m_outputPanel; }
    QTabWidget *tabs() const { return m_tabs; }
    QLineEdit *trafficSourceEdit() const;
    QLineEdit *trafficTargetEdit() const;
    QLineEdit *trafficTextEdit() const;
    QAction *pauseAction() const;
    QAction *hexAction() const;
    QAction *disconnectClientAction() const;
    QAction *sendTestMessageAction() const;
    QLabel *linkStateLabel() const;
    // The fleet view (docs/MONITOR-APP.md, "Fleet"): the window owns the fleet's MQTT link.
    FleetLink *fleetLink() const { return m_fleetLink; }
    FleetModel *fleetModel() const { return m_fleet; }
    FleetPanel *fleetPanel() const { return m_fleetPanel; }

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
    void showFleetConnectDialog();
    void showFleet();
    // Points the window's monitor link at a board's own monitor address (from the fleet view):
    // connects at once when a remembered broker at that address holds a token, else opens the
    // connect dialog filled in with it.
    void openBoardMonitor(const QString &address, bool tls);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildMenus();
    void updateLinkStatus();
    void updateSummary();
    void updateActions();
    bool isLive() const;
    quint32 sendControl(const MonitorControl &control); // 0: not sent, the link is not live
    bool confirm(const QString &title, const QString &text);
    void exportWithDialog(bool traffic);
    void restoreLayout();
    void saveLayout();

    QPointer<MonitorLink> m_link;
    QSettings *m_settings;
    bool m_confirm = true;
    bool m_readOnly = false; // roles: the broker said this link may only watch
    bool m_shownLive = true; // so that the first update greys the tables when not live

    ClientsModel *m_clients = nullptr;
    ServicesModel *m_services = nullptr;
    TrafficModel *m_traffic = nullptr;
    EventsModel *m_events = nullptr;
    RateSeries *m_rates = nullptr;
    MonitorFeed *m_feed = nullptr;

    ClientsPanel *m_clientsPanel = nullptr;
    ServicesPanel *m_servicesPanel = nullptr;
    TrafficPanel *m_trafficPanel = nullptr;
    EventsPanel *m_eventsPanel = nullptr;
    SummaryLabel *m_summary = nullptr;
    RateChart *m_chart = nullptr;
    QTabWidget *m_tabs = nullptr;
    ConnectionMenu *m_connectionMenu = nullptr;
    LinkStatus *m_linkStatus = nullptr;
    QTimer m_statusTimer; // the reconnect countdown moves even when nothing else does
    // Topics and service output (busview).
    TopicsModel *m_topicsModel = nullptr;
    TopicsPanel *m_topicsPanel = nullptr;
    ServiceOutputPanel *m_outputPanel = nullptr;
    FleetLink *m_fleetLink = nullptr;
    FleetModel *m_fleet = nullptr;
    FleetPanel *m_fleetPanel = nullptr;
};

} // namespace Kennel
