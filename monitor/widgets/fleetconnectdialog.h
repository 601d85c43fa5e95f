// The fleet connect dialog: the fleet's MQTT broker (mqtt:// or mqtts:// URL, the same forms as
// the boards' [bridge] url), the boards' prefix template, TLS files, and the username and password
// file. The password itself is never typed here nor stored: only the path of the file holding it.
// The last settings used are kept in QSettings ("fleet/...").
#pragma once

#include "fleetlink.h"

#include <QDialog>

QT_BEGIN_NAMESPACE
class QLabel;
class QLineEdit;
class QSettings;
QT_END_NAMESPACE

namespace Kennel {

class FleetConnectDialog : public QDialog
{
    Q_OBJECT
public:
    // `link` is opened with the fields on OK (and the dialog stays open, saying why, if refused).
    FleetConnectDialog(FleetLink *link, QSettings *settings, QWidget *parent = nullptr);

    void setFleetSettings(const FleetLink::Settings &settings);
    FleetLink::Settings fleetSettings() const;

    static FleetLink::Settings remembered(QSettings &settings);
    static void remember(QSettings &settings, const FleetLink::Settings &fleet);

    void accept() override;

private:
    FleetLink *m_link;
    QSettings *m_settings;
    FleetLink::Settings m_base;
    QLineEdit *m_url = nullptr;
    QLineEdit *m_prefix = nullptr;
    QLineEdit *m_caFile = nullptr;
    QLineEdit *m_certFile = nullptr;
    QLineEdit *m_keyFile = nullptr;
    QLineEdit *m_username = nullptr;
    QLineEdit *m_passwordFile = nullptr;
    QLabel *m_problem = nullptr;
};

} // namespace Kennel
