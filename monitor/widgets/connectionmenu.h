// The Broker menu: connect (the connect dialog), disconnect, quit; and remembering a broker once
// the link to it went live, with its token if the operator asked for that.
#pragma once

#include <QMenu>
#include <QPointer>

#include <optional>

QT_BEGIN_NAMESPACE
class QAction;
class QSettings;
QT_END_NAMESPACE

namespace Kennel {

class MonitorLink;

class ConnectionMenu : public QMenu
{
    Q_OBJECT
public:
    // The link is not owned; `settings` (may be null) keeps the recent brokers. `window` is
    // the dialog's parent and what Quit closes.
    ConnectionMenu(MonitorLink *link, QSettings *settings, QWidget *window);

    QAction *connectAction() const { return m_connectAction; }

    void showConnectDialog();
    void updateState(); // after the link's state changed
    void rememberLiveBroker(); // after the link's state changed: a live broker joins the recent ones

private:

    QPointer<MonitorLink> m_link;
    QSettings *m_settings;
    QWidget *m_window;
    std::optional<bool> m_keepToken; // the connect dialog's "remember the token", once it was used
    QAction *m_connectAction = nullptr;
    QAction *m_closeLinkAction = nullptr;
};

} // namespace Kennel
