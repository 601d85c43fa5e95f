// ConnectDialog: where to find the broker and how to prove who we are. Host and port, or a Unix
// socket path; the monitor token; TLS with either CA verification or a pinned certificate
// fingerprint. Brokers connected to before are offered again (QSettings, "recentBrokers").
//
// The token is secret: it is kept in memory only, unless the operator ticks "remember token",
// and the dialog says plainly where it would then be stored, unencrypted.
#pragma once

#include "monitorlink.h"

#include <QDialog>
#include <QList>

QT_BEGIN_NAMESPACE
class QButtonGroup;
class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QRadioButton;
class QSettings;
class QSpinBox;
QT_END_NAMESPACE

namespace Kennel {

class ConnectDialog : public QDialog
{
    Q_OBJECT
public:
    // One remembered broker. token is empty unless the operator asked to remember it.
    struct Recent
    {
        QString address; // BrokerAddress text: HOST:PORT or unix:PATH
        bool tls = false;
        MonitorLink::TlsTrust trust = MonitorLink::TlsTrust::SystemCas;
        QString caFile;
        QString pin;     // formatted fingerprint
        QByteArray token;
    };
    static constexpr int MaxRecent = 10;

    // `settings` holds the recent brokers; it must outlive the dialog.
    explicit ConnectDialog(QSettings *settings, QWidget *parent = nullptr);

    // Fills the fields (e.g. from the command line or the current link).
    void setLinkSettings(const MonitorLink::Settings &settings);
    // What the fields say; valid only when isComplete().
    MonitorLink::Settings linkSettings() const;
    bool isComplete(QString *why = nullptr) const;
    bool rememberToken() const;

    // Puts a broker first in the recent list (once: an address is listed once). Called when a
    // link to it went live, so that brokers that refused or never answered are not offered again.
    // The token is written only with keepToken.
    static void rememberBroker(QSettings &settings, const MonitorLink::Settings &link, bool keepToken);
    static QList<Recent> recentBrokers(QSettings &settings);
    static void storeRecentBrokers(QSettings &settings, const QList<Recent> &recent);

    void accept() override;

private:
    void fillFrom(const Recent &recent);
    void updateState();
    void loadTokenFile();
    void browseCaFile();

    QSettings *m_settings;
    QList<Recent> m_recent;
    MonitorLink::Settings m_base; // what the fields do not show (name, timeouts, subscribe)

    QComboBox *m_recentBox = nullptr;
    QRadioButton *m_tcpRadio = nullptr;
    QRadioButton *m_unixRadio = nullptr;
    QLineEdit *m_host = nullptr;
    QSpinBox *m_port = nullptr;
    QLineEdit *m_unixPath = nullptr;
    QLineEdit *m_token = nullptr;
    QCheckBox *m_rememberToken = nullptr;
    QLabel *m_tokenNote = nullptr;
    QGroupBox *m_tlsGroup = nullptr;
    QRadioButton *m_trustSystem = nullptr;
    QRadioButton *m_trustCaFile = nullptr;
    QRadioButton *m_trustPin = nullptr;
    QLineEdit *m_caFile = nullptr;
    QLineEdit *m_pin = nullptr;
    QLabel *m_problem = nullptr;
    QDialogButtonBox *m_buttons = nullptr;
};

} // namespace Kennel
