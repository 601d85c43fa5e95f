// The Topics tab (PROTOCOL §6.8): the broker's topics, busiest first, with their publications,
// rate, subscribers and retained value; and below, the subscription filters of a client chosen
// from the clients the monitor knows (asked of the broker when chosen, and again every few
// seconds while the tab is shown).
#pragma once

#include <QWidget>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QListWidget;
class QTableView;
QT_END_NAMESPACE

namespace Kennel {

class ClientsModel;
class MonitorLink;
class TopicsModel;
struct MonitorSubscriptions;

class TopicsPanel : public QWidget
{
    Q_OBJECT
public:
    TopicsPanel(TopicsModel *topics, ClientsModel *clients, MonitorLink *link, QWidget *parent = nullptr);

    QTableView *view() const { return m_view; }
    QComboBox *clientCombo() const { return m_clientCombo; }
    QListWidget *filterList() const { return m_filters; }
    QLabel *summaryLabel() const { return m_summary; }
    // Asks for the chosen client's filters now (0: nothing asked).
    quint32 refreshSubscriptions();

private:
    void fillClientCombo();
    void onSubscriptions(quint32 requestId, const MonitorSubscriptions &answer);

    TopicsModel *m_topics;
    ClientsModel *m_clients;
    MonitorLink *m_link;
    QTableView *m_view = nullptr;
    QLabel *m_summary = nullptr;
    QComboBox *m_clientCombo = nullptr;
    QListWidget *m_filters = nullptr;
    QLabel *m_filtersNote = nullptr;
    QTimer m_refresh;
    quint32 m_pending = 0;
};

} // namespace Kennel
