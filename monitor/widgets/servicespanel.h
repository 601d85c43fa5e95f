// The services panel: the broker's supervised programs (state, PID, restarts, last exit, next
// restart) and the restart/stop/start buttons. The buttons only ask: the window sends the
// control to the broker (and asks "are you sure?" before a stop).
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QPushButton;
class QTableView;
QT_END_NAMESPACE

namespace Kennel {

class ServicesModel;

class ServicesPanel : public QWidget
{
    Q_OBJECT
public:
    explicit ServicesPanel(ServicesModel *services, QWidget *parent = nullptr);

    QTableView *view() const { return m_view; }
    QString selectedServiceName() const; // empty: none

    // The buttons are enabled only while the link is live, and as the selected service's state allows.
    void setLive(bool live);
    // Roles (PROTOCOL §6.6): a read-only link greys the buttons, with a tooltip saying why.
    void setReadOnly(bool readOnly);

Q_SIGNALS:
    void restartRequested();
    void stopRequested();
    void startRequested();

private:
    void updateActions();

    ServicesModel *m_services;
    QTableView *m_view = nullptr;
    QPushButton *m_restartButton = nullptr;
    QPushButton *m_stopButton = nullptr;
    QPushButton *m_startButton = nullptr;
    bool m_live = false;
    bool m_readOnly = false;
};

} // namespace Kennel
