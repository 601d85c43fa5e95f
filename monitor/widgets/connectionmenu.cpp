#include "connectionmenu.h"

#include "connectdialog.h"
#include "monitorlink.h"
#include "panelkit.h"

#include <QAction>
#include <QSettings>

namespace Kennel {

ConnectionMenu::ConnectionMenu(MonitorLink *link, QSettings *settings, QWidget *window)
    : QMenu(QStringLiteral("&Broker"), window)
    , m_link(link)
    , m_settings(settings)
    , m_window(window)
{
    m_connectAction = addAction(PanelKit::icon(QStringLiteral("connect"), QStyle::SP_DriveNetIcon), QStringLiteral("&Connect…"));
    m_connectAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_O));
    connect(m_connectAction, &QAction::triggered, this, &ConnectionMenu::showConnectDialog);
    m_closeLinkAction = addAction(QStringLiteral("&Disconnect"));
    connect(m_closeLinkAction, &QAction::triggered, this, [this] {
        if (m_link)
            m_link->close();
    });
    addSeparator();
    QAction *quit = addAction(QStringLiteral("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, window, &QWidget::close);
}

void ConnectionMenu::updateState()
{
    if (m_link)
        m_closeLinkAction->setEnabled(m_link->state() != MonitorLink::State::Disconnected);
}

void ConnectionMenu::showConnectDialog()
{
    if (!m_link)
        return;
    ConnectDialog dialog(m_settings, m_window);
    if (m_link->settings().address.isValid())
        dialog.setLinkSettings(m_link->settings());
    if (dialog.exec() != QDialog::Accepted)
        return;
    m_link->close();
    m_link->setSettings(dialog.linkSettings());
    m_keepToken = dialog.rememberToken();
    m_link->open();
}

void ConnectionMenu::rememberLiveBroker()
{
    if (!m_settings || !m_link || m_link->state() != MonitorLink::State::Live)
        return;
    const MonitorLink::Settings &s = m_link->settings();
    bool keep = false;
    if (m_keepToken) {
        keep = *m_keepToken;
    } else {
        // Opened from the command line: a token stays remembered if it was before.
        const QString address = s.address.toString();
        for (const ConnectDialog::Recent &r : ConnectDialog::recentBrokers(*m_settings))
            if (r.address == address)
                keep = !r.token.isEmpty() && r.token == s.token;
    }
    ConnectDialog::rememberBroker(*m_settings, s, keep);
}

} // namespace Kennel
