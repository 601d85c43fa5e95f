#include "fleetconnectdialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

namespace Kennel {

FleetConnectDialog::FleetConnectDialog(FleetLink *link, QSettings *settings, QWidget *parent)
    : QDialog(parent)
    , m_link(link)
    , m_settings(settings)
{
    setWindowTitle(QStringLiteral("Connect to the fleet's MQTT broker"));
    setObjectName(QStringLiteral("fleetConnectDialog"));
    auto *layout = new QVBoxLayout(this);
    auto *form = new QFormLayout;
    auto field = [&](const char *name, const QString &label, const QString &placeholder) {
        auto *edit = new QLineEdit(this);
        edit->setObjectName(QLatin1String(name));
        edit->setPlaceholderText(placeholder);
        form->addRow(label, edit);
        return edit;
    };
    m_url = field("fleetUrl", QStringLiteral("&URL:"), QStringLiteral("mqtt://HOST:1883 or mqtts://HOST:8883"));
    m_prefix = field("fleetPrefix", QStringLiteral("&Prefix:"), QStringLiteral("kennel/{board}/ (the boards' [bridge] prefix)"));
    m_caFile = field("fleetCaFile", QStringLiteral("&CA file:"), QStringLiteral("mqtts: PEM; empty: the system's CAs"));
    m_certFile = field("fleetCertFile", QStringLiteral("C&ertificate:"), QStringLiteral("mqtts: client certificate (PEM), optional"));
    m_keyFile = field("fleetKeyFile", QStringLiteral("&Key:"), QStringLiteral("its private key (PEM)"));
    m_username = field("fleetUsername", QStringLiteral("User&name:"), QStringLiteral("optional"));
    m_passwordFile = field("fleetPasswordFile", QStringLiteral("Pass&word file:"), QStringLiteral("a file whose first line is the password"));
    layout->addLayout(form);
    m_problem = new QLabel(this);
    m_problem->setObjectName(QStringLiteral("fleetProblem"));
    m_problem->setWordWrap(true);
    m_problem->setStyleSheet(QStringLiteral("color: #b02020"));
    layout->addWidget(m_problem);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(QStringLiteral("Connect"));
    connect(buttons, &QDialogButtonBox::accepted, this, &FleetConnectDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &FleetConnectDialog::reject);
    layout->addWidget(buttons);
    setFleetSettings(settings ? remembered(*settings) : link->settings());
}

void FleetConnectDialog::setFleetSettings(const FleetLink::Settings &s)
{
    m_base = s;
    m_url->setText(s.url);
    m_prefix->setText(s.prefix);
    m_caFile->setText(s.caFile);
    m_certFile->setText(s.certFile);
    m_keyFile->setText(s.keyFile);
    m_username->setText(s.username);
    m_passwordFile->setText(s.passwordFile);
}

FleetLink::Settings FleetConnectDialog::fleetSettings() const
{
    FleetLink::Settings s = m_base;
    s.url = m_url->text().trimmed();
    s.prefix = m_prefix->text().trimmed().isEmpty() ? FleetLink::Settings().prefix : m_prefix->text().trimmed();
    s.caFile = m_caFile->text().trimmed();
    s.certFile = m_certFile->text().trimmed();
    s.keyFile = m_keyFile->text().trimmed();
    s.username = m_username->text().trimmed();
    s.passwordFile = m_passwordFile->text().trimmed();
    return s;
}

void FleetConnectDialog::accept()
{
    const FleetLink::Settings s = fleetSettings();
    QString error;
    if (!m_link->open(s, &error)) {
        m_problem->setText(error);
        return;
    }
    if (m_settings)
        remember(*m_settings, s);
    QDialog::accept();
}

FleetLink::Settings FleetConnectDialog::remembered(QSettings &settings)
{
    FleetLink::Settings s;
    settings.beginGroup(QStringLiteral("fleet"));
    s.url = settings.value(QStringLiteral("url")).toString();
    s.prefix = settings.value(QStringLiteral("prefix"), s.prefix).toString();
    s.caFile = settings.value(QStringLiteral("caFile")).toString();
    s.certFile = settings.value(QStringLiteral("certFile")).toString();
    s.keyFile = settings.value(QStringLiteral("keyFile")).toString();
    s.username = settings.value(QStringLiteral("username")).toString();
    s.passwordFile = settings.value(QStringLiteral("passwordFile")).toString();
    settings.endGroup();
    return s;
}

void FleetConnectDialog::remember(QSettings &settings, const FleetLink::Settings &s)
{
    settings.beginGroup(QStringLiteral("fleet"));
    settings.setValue(QStringLiteral("url"), s.url);
    settings.setValue(QStringLiteral("prefix"), s.prefix);
    settings.setValue(QStringLiteral("caFile"), s.caFile);
    settings.setValue(QStringLiteral("certFile"), s.certFile);
    settings.setValue(QStringLiteral("keyFile"), s.keyFile);
    settings.setValue(QStringLiteral("username"), s.username);
    settings.setValue(QStringLiteral("passwordFile"), s.passwordFile);
    settings.endGroup();
}

} // namespace Kennel
