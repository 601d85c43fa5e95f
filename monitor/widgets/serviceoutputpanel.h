// The Output tab: a supervised service's recent output (PROTOCOL §6.5, the broker's ring per
// service), following it live. Choosing a service asks for its newest lines; while the tab is
// shown the panel then asks every second for the lines after the last one it has (afterSeq), so
// following costs one small request a second and nothing while hidden. Lines that fell off the
// ring between two requests are said, not hidden.
#pragma once

#include <QTimer>
#include <QWidget>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QPlainTextEdit;
QT_END_NAMESPACE

namespace Kennel {

class MonitorLink;
class ServicesModel;
struct MonitorServiceOutput;

class ServiceOutputPanel : public QWidget
{
    Q_OBJECT
public:
    static constexpr int InitialLines = 200;   // asked for when a service is chosen
    static constexpr int MaxShownLines = 5000; // the view's own bound
    static constexpr int FollowIntervalMs = 1000;

    ServiceOutputPanel(ServicesModel *services, MonitorLink *link, QWidget *parent = nullptr);

    QComboBox *serviceCombo() const { return m_serviceCombo; }
    QPlainTextEdit *text() const { return m_text; }
    QLabel *statusLabel() const { return m_status; }
    // Asks for what is new now (0: nothing asked: no service, not live, or a request outstanding).
    quint32 poll();

private:
    void fillServiceCombo();
    void restart(); // another service: start over
    void onOutput(quint32 requestId, const MonitorServiceOutput &output);

    ServicesModel *m_services;
    MonitorLink *m_link;
    QComboBox *m_serviceCombo = nullptr;
    QPlainTextEdit *m_text = nullptr;
    QLabel *m_status = nullptr;
    QTimer m_follow;
    quint32 m_pending = 0;
    quint64 m_lastSeq = 0;
    quint64 m_lastDropped = 0;
    QString m_service;
};

} // namespace Kennel
