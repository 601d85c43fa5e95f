#include "connectdialog.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

namespace Kennel {

namespace {

// A token is a short secret; a "token file" of megabytes is the wrong file.
constexpr qint64 MaxTokenFileBytes = 4096;

QString trustKey(MonitorLink::TlsTrust trust)
{
    switch (trust) {
    case MonitorLink::TlsTrust::SystemCas:
        return QStringLiteral("system");
    case MonitorLink::TlsTrust::CaFile:
        return QStringLiteral("cafile");
    case MonitorLink::TlsTrust::Pinned:
        return QStringLiteral("pin");
    }
    return QStringLiteral("system");
}

MonitorLink::TlsTrust trustFromKey(const QString &key)
{
    if (key == QLatin1String("cafile"))
        return MonitorLink::TlsTrust::CaFile;
    if (key == QLatin1String("pin"))
        return MonitorLink::TlsTrust::Pinned;
    return MonitorLink::TlsTrust::SystemCas;
}

} // namespace

ConnectDialog::ConnectDialog(QSettings *settings, QWidget *parent)
    : QDialog(parent)
    , m_settings(settings)
{
    setObjectName(QStringLiteral("connectDialog"));
    setWindowTitle(QStringLiteral("Connect to a Kennel broker"));

    auto *layout = new QVBoxLayout(this);

    m_recentBox = new QComboBox(this);
    m_recentBox->setObjectName(QStringLiteral("recentBrokers"));
    auto *recentForm = new QFormLayout;
    recentForm->addRow(QStringLiteral("&Recent:"), m_recentBox);
    layout->addLayout(recentForm);

    // Where.
    auto *where = new QGroupBox(QStringLiteral("Broker"), this);
    auto *whereForm = new QFormLayout(where);
    m_tcpRadio = new QRadioButton(QStringLiteral("&Network (TCP)"), where);
    m_unixRadio = new QRadioButton(QStringLiteral("&Unix socket on this machine"), where);
    auto *transport = new QButtonGroup(this);
    transport->addButton(m_tcpRadio);
    transport->addButton(m_unixRadio);
    m_tcpRadio->setChecked(true);
    m_host = new QLineEdit(where);
    m_host->setObjectName(QStringLiteral("host"));
    m_host->setPlaceholderText(QStringLiteral("board.lan or 192.168.1.20"));
    m_port = new QSpinBox(where);
    m_port->setObjectName(QStringLiteral("port"));
    m_port->setRange(1, 65535);
    m_port->setValue(8000);
    auto *hostRow = new QHBoxLayout;
    hostRow->addWidget(m_host, 1);
    hostRow->addWidget(new QLabel(QStringLiteral("Port:"), where));
    hostRow->addWidget(m_port);
    m_unixPath = new QLineEdit(where);
    m_unixPath->setObjectName(QStringLiteral("unixPath"));
    m_unixPath->setPlaceholderText(QStringLiteral("/run/kennel/broker.sock"));
    whereForm->addRow(m_tcpRadio);
    // A row whose field is a layout gets a label with no buddy, which shows its '&' literally.
    auto *hostLabel = new QLabel(QStringLiteral("&Host:"), where);
    hostLabel->setObjectName(QStringLiteral("hostLabel"));
    hostLabel->setBuddy(m_host);
    whereForm->addRow(hostLabel, hostRow);
    whereForm->addRow(m_unixRadio);
    whereForm->addRow(QStringLiteral("&Path:"), m_unixPath);
    layout->addWidget(where);

    // Who.
    auto *who = new QGroupBox(QStringLiteral("Monitor token"), this);
    auto *whoLayout = new QVBoxLayout(who);
    auto *tokenRow = new QHBoxLayout;
    m_token = new QLineEdit(who);
    m_token->setObjectName(QStringLiteral("token"));
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(QStringLiteral("from the broker's [monitor] token or token_file"));
    auto *tokenFile = new QPushButton(QStringLiteral("From &file…"), who);
    tokenRow->addWidget(m_token, 1);
    tokenRow->addWidget(tokenFile);
    whoLayout->addLayout(tokenRow);
    m_rememberToken = new QCheckBox(QStringLiteral("Remember the token"), who);
    m_rememberToken->setObjectName(QStringLiteral("rememberToken"));
    whoLayout->addWidget(m_rememberToken);
    m_tokenNote = new QLabel(who);
    m_tokenNote->setWordWrap(true);
    whoLayout->addWidget(m_tokenNote);
    layout->addWidget(who);

    // How to trust the other end.
    m_tlsGroup = new QGroupBox(QStringLiteral("Use &TLS"), this);
    m_tlsGroup->setObjectName(QStringLiteral("tls"));
    m_tlsGroup->setCheckable(true);
    m_tlsGroup->setChecked(false);
    auto *tlsForm = new QFormLayout(m_tlsGroup);
    m_trustSystem = new QRadioButton(QStringLiteral("Verify against the system's CAs"), m_tlsGroup);
    m_trustCaFile = new QRadioButton(QStringLiteral("Verify against a CA file:"), m_tlsGroup);
    m_trustPin = new QRadioButton(QStringLiteral("Pin the certificate (SHA-256):"), m_tlsGroup);
    m_trustSystem->setChecked(true);
    auto *trust = new QButtonGroup(this);
    trust->addButton(m_trustSystem);
    trust->addButton(m_trustCaFile);
    trust->addButton(m_trustPin);
    m_caFile = new QLineEdit(m_tlsGroup);
    m_caFile->setObjectName(QStringLiteral("caFile"));
    auto *caBrowse = new QPushButton(QStringLiteral("…"), m_tlsGroup);
    auto *caRow = new QHBoxLayout;
    caRow->addWidget(m_caFile, 1);
    caRow->addWidget(caBrowse);
    m_pin = new QLineEdit(m_tlsGroup);
    m_pin->setObjectName(QStringLiteral("pin"));
    m_pin->setPlaceholderText(QStringLiteral("openssl x509 -noout -fingerprint -sha256 -in broker.pem"));
    tlsForm->addRow(m_trustSystem);
    tlsForm->addRow(m_trustCaFile, caRow);
    tlsForm->addRow(m_trustPin, m_pin);
    layout->addWidget(m_tlsGroup);

    m_problem = new QLabel(this);
    m_problem->setObjectName(QStringLiteral("problem"));
    m_problem->setWordWrap(true);
    m_problem->setStyleSheet(QStringLiteral("color: #c01c28;"));
    layout->addWidget(m_problem);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_buttons->button(QDialogButtonBox::Ok)->setText(QStringLiteral("&Connect"));
    layout->addWidget(m_buttons);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &ConnectDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &ConnectDialog::reject);

    for (QLineEdit *edit : {m_host, m_unixPath, m_token, m_caFile, m_pin})
        connect(edit, &QLineEdit::textChanged, this, &ConnectDialog::updateState);
    for (QAbstractButton *button : {static_cast<QAbstractButton *>(m_tcpRadio), static_cast<QAbstractButton *>(m_unixRadio),
                                    static_cast<QAbstractButton *>(m_trustSystem), static_cast<QAbstractButton *>(m_trustCaFile),
                                    static_cast<QAbstractButton *>(m_trustPin), static_cast<QAbstractButton *>(m_rememberToken)})
        connect(button, &QAbstractButton::toggled, this, &ConnectDialog::updateState);
    connect(m_port, &QSpinBox::valueChanged, this, &ConnectDialog::updateState);
    connect(m_tlsGroup, &QGroupBox::toggled, this, &ConnectDialog::updateState);
    connect(tokenFile, &QPushButton::clicked, this, &ConnectDialog::loadTokenFile);
    connect(caBrowse, &QPushButton::clicked, this, &ConnectDialog::browseCaFile);

    if (m_settings)
        m_recent = recentBrokers(*m_settings);
    m_recentBox->addItem(QStringLiteral("(new broker)"));
    for (const Recent &r : std::as_const(m_recent))
        m_recentBox->addItem(r.tls ? r.address + QStringLiteral(" (TLS)") : r.address);
    connect(m_recentBox, &QComboBox::activated, this, [this](int i) {
        if (i > 0 && i <= m_recent.size())
            fillFrom(m_recent.at(i - 1));
    });
    if (!m_recent.isEmpty()) {
        m_recentBox->setCurrentIndex(1);
        fillFrom(m_recent.first());
    }
    updateState();
}

void ConnectDialog::fillFrom(const Recent &recent)
{
    MonitorLink::Settings s = m_base;
    if (auto address = BrokerAddress::parse(recent.address))
        s.address = *address;
    s.tls = recent.tls;
    s.trust = recent.trust;
    s.caFile = recent.caFile;
    s.pinnedSha256 = MonitorLink::parseFingerprint(recent.pin).value_or(QByteArray());
    s.token = recent.token;
    setLinkSettings(s);
    m_rememberToken->setChecked(!recent.token.isEmpty());
}

void ConnectDialog::setLinkSettings(const MonitorLink::Settings &settings)
{
    m_base = settings;
    const BrokerAddress &a = settings.address;
    if (a.isUnix()) {
        m_unixRadio->setChecked(true);
        m_unixPath->setText(a.path());
    } else if (a.isTcp()) {
        m_tcpRadio->setChecked(true);
        m_host->setText(a.host());
        if (a.port() != 0)
            m_port->setValue(a.port());
    }
    m_token->setText(QString::fromUtf8(settings.token));
    m_tlsGroup->setChecked(settings.tls);
    m_trustSystem->setChecked(settings.trust == MonitorLink::TlsTrust::SystemCas);
    m_trustCaFile->setChecked(settings.trust == MonitorLink::TlsTrust::CaFile);
    m_trustPin->setChecked(settings.trust == MonitorLink::TlsTrust::Pinned);
    m_caFile->setText(settings.caFile);
    m_pin->setText(settings.pinnedSha256.isEmpty() ? QString() : MonitorLink::formatFingerprint(settings.pinnedSha256));
    updateState();
}

MonitorLink::Settings ConnectDialog::linkSettings() const
{
    MonitorLink::Settings s = m_base;
    if (m_unixRadio->isChecked()) {
        s.address = BrokerAddress::unixSocket(m_unixPath->text().trimmed());
        s.tls = false;
    } else {
        QString host = m_host->text().trimmed();
        if (host.startsWith(u'[') && host.endsWith(u']'))
            host = host.mid(1, host.size() - 2);
        s.address = BrokerAddress::tcp(host, quint16(m_port->value()));
        s.tls = m_tlsGroup->isChecked();
    }
    s.token = m_token->text().toUtf8();
    s.trust = m_trustPin->isChecked() ? MonitorLink::TlsTrust::Pinned
        : m_trustCaFile->isChecked() ? MonitorLink::TlsTrust::CaFile
                                     : MonitorLink::TlsTrust::SystemCas;
    s.caFile = m_caFile->text().trimmed();
    s.pinnedSha256 = MonitorLink::parseFingerprint(m_pin->text()).value_or(QByteArray());
    return s;
}

bool ConnectDialog::rememberToken() const
{
    return m_rememberToken->isChecked();
}

bool ConnectDialog::isComplete(QString *why) const
{
    auto fail = [why](const QString &text) {
        if (why)
            *why = text;
        return false;
    };
    if (m_unixRadio->isChecked()) {
        if (m_unixPath->text().trimmed().isEmpty())
            return fail(QStringLiteral("Enter the path of the broker's Unix socket."));
    } else {
        const QString host = m_host->text().trimmed();
        if (host.isEmpty())
            return fail(QStringLiteral("Enter the broker's host name or address."));
        const QString text = host.contains(u':') && !host.startsWith(u'[') ? QStringLiteral("[%1]:%2").arg(host).arg(m_port->value())
                                                                            : QStringLiteral("%1:%2").arg(host).arg(m_port->value());
        QString error;
        if (!BrokerAddress::parse(text, &error))
            return fail(error);
        if (m_tlsGroup->isChecked()) {
            if (m_trustCaFile->isChecked() && !QFileInfo(m_caFile->text().trimmed()).isFile())
                return fail(QStringLiteral("Choose the CA certificate file (PEM) to verify the broker against."));
            if (m_trustPin->isChecked() && !MonitorLink::parseFingerprint(m_pin->text()))
                return fail(QStringLiteral("The fingerprint must be a SHA-256: 64 hex digits, colons optional."));
        }
    }
    if (why)
        why->clear();
    return true;
}

void ConnectDialog::updateState()
{
    const bool tcp = m_tcpRadio->isChecked();
    m_host->setEnabled(tcp);
    m_port->setEnabled(tcp);
    m_unixPath->setEnabled(!tcp);
    m_tlsGroup->setEnabled(tcp);
    m_caFile->setEnabled(m_trustCaFile->isChecked());
    m_pin->setEnabled(m_trustPin->isChecked());

    const QString file = m_settings ? QDir::toNativeSeparators(m_settings->fileName()) : QStringLiteral("the settings");
    if (m_rememberToken->isChecked())
        m_tokenNote->setText(QStringLiteral("The token will be stored in plain text, unencrypted, in %1.").arg(file));
    else if (!tcp)
        m_tokenNote->setText(QStringLiteral("Over the Unix socket, root and the broker's own user are admitted "
                                            "without a token. The token is kept in memory only."));
    else
        m_tokenNote->setText(QStringLiteral("The token is kept in memory only and not saved."));

    QString why;
    const bool ok = isComplete(&why);
    m_problem->setText(why);
    m_problem->setVisible(!ok);
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(ok);
}

void ConnectDialog::loadTokenFile()
{
    const QString path = QFileDialog::getOpenFileName(this, QStringLiteral("Monitor token file"));
    if (path.isEmpty())
        return;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        m_problem->setText(QStringLiteral("Cannot read %1: %2").arg(path, file.errorString()));
        m_problem->setVisible(true);
        return;
    }
    if (file.size() > MaxTokenFileBytes) {
        m_problem->setText(QStringLiteral("%1 is too large to be a token file (over %2 bytes).").arg(path).arg(MaxTokenFileBytes));
        m_problem->setVisible(true);
        return;
    }
    m_token->setText(QString::fromUtf8(file.readAll().trimmed()));
}

void ConnectDialog::browseCaFile()
{
    const QString path = QFileDialog::getOpenFileName(this, QStringLiteral("CA certificate (PEM)"), m_caFile->text(),
                                                      QStringLiteral("Certificates (*.pem *.crt);;All files (*)"));
    if (!path.isEmpty())
        m_caFile->setText(path);
}

void ConnectDialog::accept()
{
    if (!isComplete())
        return;
    // Not remembered yet: only a broker that admitted us goes to the recent list (see
    // rememberBroker(), called by the window once the link is live).
    QDialog::accept();
}

void ConnectDialog::rememberBroker(QSettings &settings, const MonitorLink::Settings &link, bool keepToken)
{
    if (!link.address.isValid())
        return;
    Recent r;
    r.address = link.address.toString();
    r.tls = link.tls;
    r.trust = link.trust;
    r.caFile = link.caFile;
    r.pin = link.pinnedSha256.isEmpty() ? QString() : MonitorLink::formatFingerprint(link.pinnedSha256);
    if (keepToken)
        r.token = link.token;
    QList<Recent> list = recentBrokers(settings);
    list.erase(std::remove_if(list.begin(), list.end(), [&](const Recent &o) { return o.address == r.address; }), list.end());
    list.prepend(r);
    while (list.size() > MaxRecent)
        list.removeLast();
    storeRecentBrokers(settings, list);
}

QList<ConnectDialog::Recent> ConnectDialog::recentBrokers(QSettings &settings)
{
    QList<Recent> list;
    const int n = settings.beginReadArray(QStringLiteral("recentBrokers"));
    for (int i = 0; i < std::min(n, MaxRecent); ++i) {
        settings.setArrayIndex(i);
        Recent r;
        r.address = settings.value(QStringLiteral("address")).toString();
        r.tls = settings.value(QStringLiteral("tls"), false).toBool();
        r.trust = trustFromKey(settings.value(QStringLiteral("trust")).toString());
        r.caFile = settings.value(QStringLiteral("caFile")).toString();
        r.pin = settings.value(QStringLiteral("pin")).toString();
        r.token = settings.value(QStringLiteral("token")).toByteArray();
        if (BrokerAddress::parse(r.address))
            list.append(r);
    }
    settings.endArray();
    return list;
}

void ConnectDialog::storeRecentBrokers(QSettings &settings, const QList<Recent> &recent)
{
    settings.remove(QStringLiteral("recentBrokers"));
    settings.beginWriteArray(QStringLiteral("recentBrokers"), int(recent.size()));
    for (int i = 0; i < recent.size(); ++i) {
        const Recent &r = recent.at(i);
        settings.setArrayIndex(i);
        settings.setValue(QStringLiteral("address"), r.address);
        settings.setValue(QStringLiteral("tls"), r.tls);
        settings.setValue(QStringLiteral("trust"), trustKey(r.trust));
        settings.setValue(QStringLiteral("caFile"), r.caFile);
        settings.setValue(QStringLiteral("pin"), r.pin);
        // Only what the operator chose to keep; a token not to be remembered is never written.
        if (!r.token.isEmpty())
            settings.setValue(QStringLiteral("token"), r.token);
    }
    settings.endArray();
    settings.sync();
}

} // namespace Kennel
